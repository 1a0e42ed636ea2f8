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

from edge.render import materials
from edge.render.launchers import Launcher, find_launcher
from edge.render.mesh import Material, RenderMesh

KERNEL_SOURCE = Path(__file__).resolve().parents[2] / "kernels" / "raster.cu"
COMPILE_OPTIONS = ("--fmad=false",)
TRIANGLE_BLOCK = 128
PIXEL_BLOCK = (16, 16)


class DeviceMesh(NamedTuple):
    """A RenderMesh's arrays in device memory (the launcher's arrays)."""

    positions: object
    normals: object
    eye_cos: object
    triangles: object
    materials: object


class CudaRenderer:
    """Renders a RenderMesh on the GPU into a BGR8 frame."""

    name = "cuda"

    def __init__(self, background=(96, 96, 96), launcher: Launcher | None = None) -> None:
        self.launcher = launcher or find_launcher()
        kernels = self.launcher.compile(KERNEL_SOURCE.read_text(), COMPILE_OPTIONS, ("clear_keys", "rasterize", "shade"))
        self.clear, self.rasterize, self.shade = kernels["clear_keys"], kernels["rasterize"], kernels["shade"]
        to_device = self.launcher.to_device
        self.material_table = to_device(materials.MATERIAL_TABLE)
        self.eye_table = to_device(materials.EYE_TABLE)
        self.constants = to_device(materials.SHADING_CONSTANTS)
        self.background = to_device(np.asarray(background, np.uint8))
        self._size: tuple[int, int] | None = None

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
            eye_cos=to_device(np.ascontiguousarray(mesh.eye_cos, np.float32)),
            triangles=to_device(np.ascontiguousarray(mesh.triangles, np.int32)),
            materials=to_device(np.ascontiguousarray(mesh.materials, np.uint8)),
        )

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
            mesh.positions, mesh.normals, mesh.eye_cos, mesh.triangles, mesh.materials, n_vertices, n_triangles,
            self.material_table, np.int32(len(materials.MATERIAL_TABLE)), self.eye_table, self.constants,
            np.int32(Material.EYE), self.background, keys, w, h, image,
        )
        self.shade(blocks, PIXEL_BLOCK, arguments)
        return image

    def render(self, mesh: RenderMesh, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
        image = self.launch(self.upload(mesh), int(height), int(width))
        return self.launcher.get(image, out)

    def warmup(self) -> None:
        """Run the kernels once now, so the first frame does not pay for loading them."""
        self.render(RenderMesh.empty(), 2, 2)
