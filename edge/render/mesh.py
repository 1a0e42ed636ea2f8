"""The rasteriser's whole input: a screen-space triangle mesh with materials.

Every renderer backend (CPU here, CUDA in kernels/) takes exactly this record
and the output size, and must produce the same pixels.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class Material(enum.IntEnum):
    """Per-triangle material id; rows of MATERIAL_TABLE."""

    SKIN = 0
    LIPS = 1
    MOUTH_INTERIOR = 2
    EYE = 3
    BROW = 4
    LASH = 5


@dataclass(frozen=True)
class RenderMesh:
    """Screen-space triangles ready to rasterise.

    positions: (N, 3) float32; x, y in image pixels (pixel centres at integer
        coordinates), z depth, larger = farther from the camera.
    normals: (N, 3) float32 unit normals in camera space (x right, y down,
        z away from the camera); a surface facing the camera has n.z < 0.
    eye_cos: (N,) float32, used by Material.EYE only: cosine of the angle
        between the vertex's direction from the eyeball centre and the gaze
        axis. Interpolated linearly; decides pupil, iris, rim or sclera.
    triangles: (T, 3) int32 vertex indices; front faces have positive signed
        area in image coordinates (y down), i.e. clockwise on screen.
    materials: (T,) uint8 Material ids.
    """

    positions: np.ndarray
    normals: np.ndarray
    eye_cos: np.ndarray
    triangles: np.ndarray
    materials: np.ndarray

    @staticmethod
    def empty() -> "RenderMesh":
        return RenderMesh(
            positions=np.zeros((0, 3), np.float32),
            normals=np.zeros((0, 3), np.float32),
            eye_cos=np.zeros((0,), np.float32),
            triangles=np.zeros((0, 3), np.int32),
            materials=np.zeros((0,), np.uint8),
        )

    @staticmethod
    def concatenate(meshes: "list[RenderMesh]") -> "RenderMesh":
        """One mesh from several (several faces, eyeballs), indices offset."""
        if not meshes:
            return RenderMesh.empty()
        offsets = np.cumsum([0] + [len(m.positions) for m in meshes[:-1]])
        return RenderMesh(
            positions=np.concatenate([m.positions for m in meshes]).astype(np.float32),
            normals=np.concatenate([m.normals for m in meshes]).astype(np.float32),
            eye_cos=np.concatenate([m.eye_cos for m in meshes]).astype(np.float32),
            triangles=np.concatenate(
                [m.triangles + o for m, o in zip(meshes, offsets)]
            ).astype(np.int32),
            materials=np.concatenate([m.materials for m in meshes]).astype(np.uint8),
        )
