"""The CUDA renderer: kernels/raster.cu launched through CuPy.

Same interface and, by construction, the same pixels as CpuRenderer (the
kernel source is the CPU algorithm; tests/test_kernels.py checks its host
build byte for byte). pycuda, the Jetson's launcher, and the on-device
comparison and timings are the GPU issue's next steps (tools/gpu_check.py).
Importing this module needs no GPU; constructing a CudaRenderer does, and
raises GpuUnavailable with the reason when there is none.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from edge.errors import DmaskError
from edge.render import materials
from edge.render.mesh import Material, RenderMesh

KERNEL_SOURCE = Path(__file__).resolve().parents[2] / "kernels" / "raster.cu"
COMPILE_OPTIONS = ("--fmad=false",)
TRIANGLE_BLOCK = 128
PIXEL_BLOCK = (16, 16)


class DeviceMesh(NamedTuple):
    """A RenderMesh's arrays in device memory (CuPy arrays)."""

    positions: object
    normals: object
    eye_cos: object
    triangles: object
    materials: object


class GpuUnavailable(DmaskError):
    """No usable CUDA device or launcher; the caller falls back to the CPU."""


def _cupy():
    try:
        import cupy
    except ImportError as error:
        raise GpuUnavailable(f"CuPy is not installed ({error})") from error
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise GpuUnavailable("no CUDA device found")
    except cupy.cuda.runtime.CUDARuntimeError as error:
        raise GpuUnavailable(f"CUDA runtime: {error}") from error
    return cupy


class CudaRenderer:
    """Renders a RenderMesh on the GPU into a BGR8 frame."""

    name = "cuda"

    def __init__(self, background=(96, 96, 96)) -> None:
        cp = self.cp = _cupy()
        module = cp.RawModule(code=KERNEL_SOURCE.read_text(), options=COMPILE_OPTIONS)
        self.clear = module.get_function("clear_keys")
        self.rasterize = module.get_function("rasterize")
        self.shade = module.get_function("shade")
        self.material_table = cp.asarray(materials.MATERIAL_TABLE)
        self.eye_table = cp.asarray(materials.EYE_TABLE)
        self.constants = cp.asarray(materials.SHADING_CONSTANTS)
        self.background = cp.asarray(np.asarray(background, np.uint8))
        self._size: tuple[int, int] | None = None

    def _buffers(self, height: int, width: int):
        if self._size != (height, width):
            self._keys = self.cp.empty(height * width, np.uint64)
            self._image = self.cp.empty((height, width, 3), np.uint8)
            self._size = (height, width)
        return self._keys, self._image

    def upload(self, mesh: RenderMesh) -> DeviceMesh:
        cp = self.cp
        return DeviceMesh(
            positions=cp.asarray(np.ascontiguousarray(mesh.positions, np.float32)),
            normals=cp.asarray(np.ascontiguousarray(mesh.normals, np.float32)),
            eye_cos=cp.asarray(np.ascontiguousarray(mesh.eye_cos, np.float32)),
            triangles=cp.asarray(np.ascontiguousarray(mesh.triangles, np.int32)),
            materials=cp.asarray(np.ascontiguousarray(mesh.materials, np.uint8)),
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
        return image.get(out=out) if out is not None else image.get()

    def warmup(self) -> None:
        """Compile the kernels now (CuPy caches the binary on disk)."""
        self.render(RenderMesh.empty(), 2, 2)
