"""The rasteriser's whole input: a screen-space triangle mesh with materials.

Every renderer backend (CPU here, CUDA in kernels/) takes exactly this record
and the output size, and must produce the same pixels. The texture is the
avatar's one fixed image, the same array object frame after frame (so a GPU
backend uploads it once).
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
    COVER = 6


_NO_TEXTURE = np.zeros((1, 1, 3), np.float32)
_NO_TEXTURE.setflags(write=False)


@dataclass(frozen=True)
class RenderMesh:
    """Screen-space triangles ready to rasterise.

    positions: (N, 3) float32; x, y in image pixels (pixel centres at integer
        coordinates), z depth, larger = farther from the camera.
    normals: (N, 3) float32 unit normals in camera space (x right, y down,
        z away from the camera); a surface facing the camera has n.z < 0.
    uv: (N, 2) float32 texture coordinates in texels (x right, y down,
        texel centres at integers), interpolated linearly over each triangle;
        read by textured materials only.
    triangles: (T, 3) int32 vertex indices; front faces have positive signed
        area in image coordinates (y down), i.e. clockwise on screen.
    materials: (T,) uint8 Material ids.
    texture: (TH, TW, 3) float32 BGR, 0..255, at least 1x1, C-contiguous.
    """

    positions: np.ndarray
    normals: np.ndarray
    uv: np.ndarray
    triangles: np.ndarray
    materials: np.ndarray
    texture: np.ndarray

    @staticmethod
    def empty() -> "RenderMesh":
        return RenderMesh(
            positions=np.zeros((0, 3), np.float32),
            normals=np.zeros((0, 3), np.float32),
            uv=np.zeros((0, 2), np.float32),
            triangles=np.zeros((0, 3), np.int32),
            materials=np.zeros((0,), np.uint8),
            texture=_NO_TEXTURE,
        )

    @staticmethod
    def concatenate(meshes: "list[RenderMesh]") -> "RenderMesh":
        """One mesh from several (several faces of one avatar), indices offset; they share its texture."""
        if not meshes:
            return RenderMesh.empty()
        if any(m.texture is not meshes[0].texture for m in meshes):
            raise ValueError("meshes drawn together must share one texture")
        offsets = np.cumsum([0] + [len(m.positions) for m in meshes[:-1]])
        return RenderMesh(
            positions=np.concatenate([m.positions for m in meshes]).astype(np.float32),
            normals=np.concatenate([m.normals for m in meshes]).astype(np.float32),
            uv=np.concatenate([m.uv for m in meshes]).astype(np.float32),
            triangles=np.concatenate(
                [m.triangles + o for m, o in zip(meshes, offsets)]
            ).astype(np.int32),
            materials=np.concatenate([m.materials for m in meshes]).astype(np.uint8),
            texture=meshes[0].texture,
        )
