"""The canonical, identity-free face: vertices, triangles and regions.

The asset (models/avatar.npz) is the mean of many people's pose-normalised
face meshes, built by tools/build_avatar.py; see models/AVATAR.md. It belongs
to no single person. Its vertices are in MediaPipe's landmark order, so the
named points of dmask.measure.mesh_index pick them too. Canonical units: the outer eye
corners are 1.0 apart; x towards the subject's left, y down, z away from the
camera.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from dmask.measure.action_units import lip_closure
from dmask.measure.clinical import IRIS_DIAMETER_MM, margin_reflex_mm
from dmask.errors import ModelError
from dmask.measure.mesh_index import RIGHT_EYE_INNER, RIGHT_EYE_OUTER
from dmask.records import EyeParams, MaskParams

AVATAR_FILE = "avatar.npz"
TEXTURE_FILE = "avatar_texture.png"

# The texture atlas (TEXTURE_FILE), in texels: the face unwrapped into the
# left square (Avatar.uv: its canonical x, y scaled into it), the eyeball into
# the square to its right, as angle from the gaze axis (radius, reaching
# EYE_ATLAS_DEGREES at EYE_ATLAS_RADIUS; beyond it, sclera) and direction
# round it (dmask.draw.scene.eyeball_uv).
TEXTURE_SHAPE = (512, 768)
FACE_ATLAS_SIDE = 512
EYE_ATLAS_CENTRE = (640.0, 128.0)
EYE_ATLAS_RADIUS = 120.0
EYE_ATLAS_DEGREES = 60.0
# The drawn iris and pupil, as angles from the gaze axis on the drawn eyeball
# (dmask.draw.scene.DRAWN_EYEBALL_FRACTION = 0.62 eye widths): a 20 deg disc
# is 0.42 eye widths across, a human iris (11.7 mm) in a 28 mm lid opening,
# so enough sclera shows either side to judge a squint by.
IRIS_DEGREES = 20.0
PUPIL_DEGREES = 8.0


@dataclass(frozen=True)
class Avatar:
    """The canonical face and what the fit and the renderer need to know of it.

    vertices: (468, 3) float32 canonical units, MediaPipe landmark order.
    triangles: (T, 3) int32 skin triangles (eye openings and mouth left open),
        oriented so (b - a) x (c - a) points into the head.
    lip_triangles: (L,) int32 indices into triangles drawn with the lips material.
    brow_triangles: (B,) int32 indices into triangles drawn with the brow material.
    rigid: (R,) int32 vertices that move least with expression; pose is fitted on them.
    action_unit_basis: (C, 468, 3) float32 displacement per unit intensity of
        each action-unit channel (dmask.measure.action_units.CHANNELS), canonical units;
        built from the mean face by dmask.measure.action_units.build_basis.
    action_unit_rest: (C,) float32 the population's resting intensities (the
        median over identities of the intensities fitted to each one's
        median face, the two sides of each unit averaged): what a person's
        resting face is replaced by. Symmetric, so a face at rest reads as
        no palsy to any reader.
    eye_aperture_mean: (2,) float32 population mean (upper, lower) lid
        aperture, fractions of eye width.
    iris_diameter: float32 the population's median visible iris diameter
        over eye width: with 11.7 mm, the eye's width in mm (dmask.measure.clinical).
    mrd_offset_mm: (2,) float32 calibration added to measured (MRD1, MRD2)
        so the population's median reads as the normative value (dmask.measure.clinical).
    iris_rest: (2, 2) float32 (right eye, left eye) x (dx, dy): where the iris
        centre sits, relative to the midpoint of the eye corners and over eye
        width, when people look straight ahead (into the camera). Gaze angles
        are measured from there, so 0 means looking ahead. The corners are the
        iris model's (what the fit measures from).
    iris_rest_mesh: (2, 2) float32 the same place measured from the face
        mesh's own eye corners, which are the drawn eye's: where the renderer
        puts the iris of an eye looking ahead. The iris model sees a person's
        canthi about 0.06 eye widths nasal of the mesh's, so drawing at
        iris_rest from the mesh's corners put the iris that much temporal:
        both readers of `dmask eval clinical` read a resting avatar as divergent.
    uv: (468, 2) float32 each vertex's place in the texture, texels.
    texture: (512, 768, 3) float32 BGR 0..255, the one face texture
        (TEXTURE_SHAPE; stored as TEXTURE_FILE beside the asset).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    lip_triangles: np.ndarray
    brow_triangles: np.ndarray
    rigid: np.ndarray
    action_unit_basis: np.ndarray
    action_unit_rest: np.ndarray
    eye_aperture_mean: np.ndarray
    iris_diameter: np.ndarray
    mrd_offset_mm: np.ndarray
    iris_rest: np.ndarray
    iris_rest_mesh: np.ndarray
    uv: np.ndarray
    texture: np.ndarray

    @staticmethod
    def load(models_dir: Path) -> "Avatar":
        path, texture_path = models_dir / AVATAR_FILE, models_dir / TEXTURE_FILE
        for needed in (path, texture_path):
            if not needed.is_file():
                raise ModelError(f"avatar asset {needed} is missing; restore models/ or run tools/build_avatar.py")
        texture = cv2.imread(str(texture_path), cv2.IMREAD_COLOR)
        if texture is None or texture.shape[:2] != TEXTURE_SHAPE:
            raise ModelError(f"{texture_path}: not a {TEXTURE_SHAPE[1]}x{TEXTURE_SHAPE[0]} image; restore models/")
        texture = texture.astype(np.float32)
        texture.setflags(write=False)
        with np.load(path) as data:
            return Avatar(**{name: data[name] for name in _ARRAYS}, texture=texture)

    def resting_eye(self) -> EyeParams:
        """An eye looking ahead with the population's resting lid apertures."""
        upper, lower = (float(v) for v in self.eye_aperture_mean)
        iris_dy = float(self.iris_rest[:, 1].mean())
        mrd = margin_reflex_mm(upper, lower, iris_dy, self.eye_width_mm, self.mrd_offset_mm)
        return EyeParams(0.0, 0.0, upper, lower, *mrd, openness=1.0)

    def at_rest(self, params: MaskParams) -> MaskParams:
        """The same face at the population's rest: resting action units, eyes open and ahead, no blink ending.

        Keeps only the pose (and track): what the held neutral avatar and the
        privacy evaluation's pose-and-gaze floor start from.
        """
        eye = self.resting_eye()
        zero = np.zeros(2, np.float32)
        return replace(params, right_eye=eye, left_eye=eye, action_units=self.action_unit_rest.copy(),
                       brow_height_mm=zero, mouth_corner_height_mm=zero, right_blink=None, left_blink=None)

    @property
    def eye_width_mm(self) -> float:
        """The population's eye width (corner to corner), mm, from the iris."""
        return float(IRIS_DIAMETER_MM / self.iris_diameter)

    @property
    def mm_per_unit(self) -> float:
        return mm_per_canonical_unit(self.vertices, self.iris_diameter)

    def expressed(self, intensities: np.ndarray) -> np.ndarray:
        """(468, 3) float64 vertices with (C,) action-unit intensities applied: the face the fit measures against."""
        return self.vertices.astype(np.float64) + np.tensordot(intensities, self.action_unit_basis, axes=1)

    def drawn(self, intensities: np.ndarray) -> np.ndarray:
        """(468, 3) float64 the face the renderer draws: expressed, with its lips meeting at the population's rest.

        The mean of many press photos parts its lips by about 4 mm and no
        resting intensity closes them, so a closed, neutral mouth was drawn
        open (issue 27). The lips are closed once, at the population's resting
        intensities; the drawn opening is then the units' lip_gap from that
        rest (dmask.measure.fit.MouthOpening sets it to the measured one).
        """
        return self.expressed(intensities) + self._lip_closure

    @cached_property
    def _lip_closure(self) -> np.ndarray:
        return lip_closure(self.expressed(self.action_unit_rest), self.mm_per_unit)

    def save(self, models_dir: Path) -> None:
        np.savez_compressed(models_dir / AVATAR_FILE, **{name: getattr(self, name) for name in _ARRAYS})
        cv2.imwrite(str(models_dir / TEXTURE_FILE), np.clip(np.round(self.texture), 0, 255).astype(np.uint8))


_ARRAYS = tuple(name for name in Avatar.__dataclass_fields__ if name != "texture")  # what avatar.npz holds


def mm_per_canonical_unit(vertices: np.ndarray, iris_diameter: float) -> float:
    """mm per canonical unit of a face whose iris is iris_diameter eye widths across (dmask.measure.clinical)."""
    width = np.linalg.norm(vertices[RIGHT_EYE_OUTER] - vertices[RIGHT_EYE_INNER])
    return float(IRIS_DIAMETER_MM / (iris_diameter * width))


# Eyeball radius as a fraction of the eye's corner-to-corner width. The fit
# turns iris offsets into rotations with it (after removing the iris model's
# gain, dmask.measure.fit.IRIS_MODEL_YAW_GAIN) and the renderer turns them back, so
# the drawn iris sits where the eye's is, whatever the true anatomy.
EYEBALL_RADIUS_FRACTION = 0.42
