"""The canonical, identity-free face: vertices, triangles and regions.

The asset (models/avatar.npz) is the mean of many people's pose-normalised
face meshes, built by tools/build_avatar.py; see models/AVATAR.md. It belongs
to no single person. Its vertices are in MediaPipe's landmark order, so the
named points of edge.mesh_index pick them too. Canonical units: the outer eye
corners are 1.0 apart; x towards the subject's left, y down, z away from the
camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ModelError
from edge.records import EyeParams

AVATAR_FILE = "avatar.npz"


@dataclass(frozen=True)
class Avatar:
    """The canonical face and what the fit and the renderer need to know of it.

    vertices: (468, 3) float32 canonical units, MediaPipe landmark order.
    triangles: (T, 3) int32 skin triangles (eye openings and mouth left open),
        oriented so (b - a) x (c - a) points into the head.
    lip_triangles: (L,) int32 indices into triangles drawn with the lips material.
    brow_triangles: (B,) int32 indices into triangles drawn with the brow material.
    rigid: (R,) int32 vertices that move least with expression; pose is fitted on them.
    expression_vertices: (K,) int32 vertices expression may move.
    expression_weight: (K,) float32 0..1 how much of the displacement each takes
        (feathered towards the edge of the region so the mesh does not tear).
    expression_basis: (E, K, 3) float32 orthonormal directions in which a
        person's expression vertices move between photos (the expression space).
    expression_identity_sd: (E,) float32 how much people's resting faces differ
        along each direction (the scale of identity, used by the dead zone).
    expression_residual_sd: (K, 3) float32 how much people's resting faces
        differ per vertex outside the expression space (likewise).
    eye_aperture_mean, eye_aperture_sd: (2,) float32 population mean and SD of
        the (upper, lower) lid aperture, fractions of eye width.
    iris_rest: (2, 2) float32 (right eye, left eye) x (dx, dy): where the iris
        centre sits, relative to the midpoint of the eye corners and over eye
        width, when people look straight ahead (into the camera). Gaze angles
        are measured from there, so 0 means looking ahead.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    lip_triangles: np.ndarray
    brow_triangles: np.ndarray
    rigid: np.ndarray
    expression_vertices: np.ndarray
    expression_weight: np.ndarray
    expression_basis: np.ndarray
    expression_identity_sd: np.ndarray
    expression_residual_sd: np.ndarray
    eye_aperture_mean: np.ndarray
    eye_aperture_sd: np.ndarray
    iris_rest: np.ndarray

    @staticmethod
    def load(models_dir: Path) -> "Avatar":
        path = models_dir / AVATAR_FILE
        if not path.is_file():
            raise ModelError(f"avatar asset {path} is missing; restore models/ or run tools/build_avatar.py")
        with np.load(path) as data:
            return Avatar(**{name: data[name] for name in Avatar.__dataclass_fields__})

    def resting_eye(self) -> EyeParams:
        """An eye looking ahead with the population's resting lid apertures."""
        return EyeParams(0.0, 0.0, float(self.eye_aperture_mean[0]), float(self.eye_aperture_mean[1]))

    def expressed(self, expression: np.ndarray) -> np.ndarray:
        """(468, 3) float64 vertices with a (K, 3) expression displacement applied, feathered."""
        vertices = self.vertices.astype(np.float64)
        vertices[self.expression_vertices] += expression * self.expression_weight[:, None]
        return vertices

    def expression_displacement(self, coefficients: np.ndarray) -> np.ndarray:
        """(K, 3) displacement of the expression vertices for (E,) coefficients."""
        return np.tensordot(coefficients, self.expression_basis, axes=1)

    def expression_coefficients(self, displacement: np.ndarray) -> np.ndarray:
        """(E,) coordinates of a (K, 3) displacement in the expression space."""
        return np.tensordot(self.expression_basis, displacement, axes=([1, 2], [0, 1]))

    def save(self, path: Path) -> None:
        np.savez_compressed(path, **{name: getattr(self, name) for name in Avatar.__dataclass_fields__})


# Eyeball radius as a fraction of the eye's corner-to-corner width. The fit
# turns iris offsets into rotations with it and the renderer turns them back,
# so the round trip is exact whatever the true anatomy.
EYEBALL_RADIUS_FRACTION = 0.42
