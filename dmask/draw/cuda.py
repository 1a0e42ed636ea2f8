"""The CUDA renderer: kernels/raster.cu launched through pycuda or CuPy.

Same interface and, by construction, the same pixels as CpuRenderer (the
kernel source is the CPU algorithm; tests/test_kernels.py checks its host
build byte for byte; tools/gpu_check.py compares on a device). Importing
this module needs no GPU; constructing a CudaRenderer does, and raises
BackendUnavailable with the reason when there is none.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from dmask.config import RenderBackend
from dmask.draw import materials
from dmask.draw.launchers import Launcher, find_launcher
from dmask.draw.mesh import RenderMesh

KERNEL_SOURCE = Path(__file__).resolve().parents[2] / "kernels" / "raster.cu"
COMPILE_OPTIONS = ("--fmad=false",)
TRIANGLE_BLOCK = 128
PIXEL_BLOCK = (16, 16)


class DeviceMesh(NamedTuple):
    """A RenderMesh's arrays in device memory (the launcher's arrays)."""

    positions: object
    normals: object
    uv: object
    triangles: object
    materials: object
    texture: object
    texture_size: tuple[int, int]  # (width, height) texels


class CudaRenderer:
    """Renders a RenderMesh on the GPU into a BGR8 frame."""

    name = RenderBackend.CUDA

    def __init__(self, background=(96, 96, 96), launcher: Launcher | None = None) -> None:
        self.launcher = launcher or find_launcher()
        kernels = self.launcher.compile(KERNEL_SOURCE.read_text(), COMPILE_OPTIONS, ("clear_keys", "rasterize", "shade"))
        self.clear, self.rasterize, self.shade = kernels["clear_keys"], kernels["rasterize"], kernels["shade"]
        to_device = self.launcher.to_device
        self.material_table = to_device(materials.MATERIAL_TABLE)
        self.constants = to_device(materials.SHADING_CONSTANTS)
        self.background = to_device(np.asarray(background, np.uint8))
        self._size: tuple[int, int] | None = None
        self._texture: tuple[np.ndarray, object] | None = None  # the host texture and its device copy

    def _buffers(self, height: int, width: int):
        if self._size != (height, width):
            self._keys = self.launcher.empty((height * width,), np.uint64)
            self._image = self.launcher.empty((height, width, 3), np.uint8)
            self._size = (height, width)
        return self._keys, self._image

    def upload(self, mesh: RenderMesh) -> DeviceMesh:
        to_device = self.launcher.to_device
        return DeviceMesh(
            positions=to_device(np.ascontiguousarray(mesh.positions, np.float32)),
            normals=to_device(np.ascontiguousarray(mesh.normals, np.float32)),
            uv=to_device(np.ascontiguousarray(mesh.uv, np.float32)),
            triangles=to_device(np.ascontiguousarray(mesh.triangles, np.int32)),
            materials=to_device(np.ascontiguousarray(mesh.materials, np.uint8)),
            texture=self._device_texture(mesh.texture),
            texture_size=(mesh.texture.shape[1], mesh.texture.shape[0]),
        )

    def _device_texture(self, texture: np.ndarray):
        """The texture's device copy, uploaded once: every frame of an avatar passes the same array."""
        if self._texture is None or self._texture[0] is not texture:
            self._texture = (texture, self.launcher.to_device(np.ascontiguousarray(texture, np.float32)))
        return self._texture[1]

    def launch(self, mesh: DeviceMesh, height: int, width: int):
        """The three kernels on an uploaded mesh; returns the device image (H, W, 3) uint8."""
        keys, image = self._buffers(height, width)
        n_vertices, n_triangles = np.int32(len(mesh.positions)), np.int32(len(mesh.triangles))
        w, h = np.int32(width), np.int32(height)
        pixels = height * width
        self.clear(((pixels + 255) // 256,), (256,), (keys, np.int32(pixels)))
        if n_triangles:
            grid = ((int(n_triangles) + TRIANGLE_BLOCK - 1) // TRIANGLE_BLOCK,)
            self.rasterize(grid, (TRIANGLE_BLOCK,), (mesh.positions, mesh.triangles, n_vertices, n_triangles, np.int32(1), w, h, keys))
        blocks = ((width + PIXEL_BLOCK[0] - 1) // PIXEL_BLOCK[0], (height + PIXEL_BLOCK[1] - 1) // PIXEL_BLOCK[1])
        arguments = (
            mesh.positions, mesh.normals, mesh.uv, mesh.triangles, mesh.materials, n_vertices, n_triangles,
            self.material_table, np.int32(len(materials.MATERIAL_TABLE)), mesh.texture,
            *(np.int32(n) for n in mesh.texture_size), self.constants, self.background, keys, w, h, image,
        )
        self.shade(blocks, PIXEL_BLOCK, arguments)
        return image

    def render(self, mesh: RenderMesh, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
        image = self.launch(self.upload(mesh), int(height), int(width))
        return self.launcher.get(image, out)

    def warmup(self) -> None:
        """Run the kernels once now, so the first frame does not pay for loading them."""
        self.render(RenderMesh.empty(), 2, 2)
