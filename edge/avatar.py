"""The canonical, identity-free face: vertices, triangles and named regions.

The asset (models/avatar.npz) is the mean of many people's pose-normalised
face meshes, built by tools/build_avatar.py; see models/AVATAR.md. It belongs
to no single person. Canonical units: the outer eye corners are 1.0 apart;
x towards the subject's left, y down, z away from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ModelError
from edge.records import EyeParams

AVATAR_FILE = "avatar.npz"

# Lid contours in the iris model's order: outer corner, lower lid (7, outer to
# inner), inner corner, upper lid (7, outer to inner). MediaPipe mesh indices.
RIGHT_LIDS = np.array([33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173])
LEFT_LIDS = np.array([263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398])
# The ring of lid skin just outside each margin, same order as the margin's
# lower (1-7) and upper (9-15) points.
RIGHT_LID_RING = np.array([25, 110, 24, 23, 22, 26, 112, 247, 30, 29, 27, 28, 56, 190])
LEFT_LID_RING = np.array([255, 339, 254, 253, 252, 256, 341, 467, 260, 259, 257, 258, 286, 414])
LOWER = slice(1, 8)
UPPER = slice(9, 16)
UPPER_MIDDLE = slice(11, 14)
LOWER_MIDDLE = slice(3, 6)

LIPS_OUTER = np.array([61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146])
LIPS_INNER = np.array([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95])
RIGHT_BROW = np.array([70, 63, 105, 66, 107, 46, 53, 52, 65, 55])
LEFT_BROW = np.array([300, 293, 334, 296, 336, 276, 283, 282, 295, 285])
UPPER_LIP_MID, LOWER_LIP_MID = 13, 14
RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER = 61, 291
NOSE_TIP = 1
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263


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
