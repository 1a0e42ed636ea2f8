"""Draw: the identity-free face (dmask.measure.avatar) posed from MaskParams (scene.py), and the renderers that
turn its RenderMesh into BGR pixels through one interface (cpu.py, cuda.py; the outline: silhouette.py).

`make_renderer` picks the backend named by `render.backend` by the one rule
of dmask.backends: `cuda` (CUDA when a device and pycuda or CuPy are there and
the kernels build, else the CPU with one warning), `auto` (the same, quietly
where there is no GPU stack) or `cpu`. The renderer is compiled (or loaded
from its cache) here, before any output is opened, so the first frame is not
the one that pays for it. What it returns draws with that backend and then
anti-aliases the outline on the host (dmask.draw.silhouette), so both
backends' frames stay the same bytes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dmask.backends import preferred_or_cpu
from dmask.config import RenderBackend, RenderConfig
from dmask.draw.cpu import CpuRenderer, vertex_window
from dmask.draw.mesh import RenderMesh
from dmask.draw.silhouette import smooth_outline


class Renderer(Protocol):
    name: RenderBackend  # CPU or CUDA: the one that draws

    def render(self, mesh: RenderMesh, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray: ...

    def warmup(self) -> None: ...


class OutlinedRenderer:
    """A backend's frames with an anti-aliased outline: what the product draws."""

    def __init__(self, backend: Renderer, background: tuple[int, ...]) -> None:
        self.backend = backend
        self.name = backend.name
        self.background = np.asarray(background, np.uint8)

    def render(self, mesh: RenderMesh, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
        image = self.backend.render(mesh, height, width, out)
        drawn = vertex_window(mesh.positions, int(height), int(width)) if len(mesh.triangles) else None
        smooth_outline(image, self.background, drawn)
        return image

    def warmup(self) -> None:
        self.backend.warmup()


def make_renderer(config: RenderConfig) -> OutlinedRenderer:
    background = tuple(config.background)

    def start(renderer: Renderer) -> Renderer:
        renderer.warmup()
        return renderer

    def cuda() -> Renderer:
        from dmask.draw.cuda import CudaRenderer

        return start(CudaRenderer(background=background))

    cpu = lambda: start(CpuRenderer(background=background))  # noqa: E731
    backend = preferred_or_cpu("render.backend", config.backend, RenderBackend.CUDA, cuda, cpu, "the CPU renderer")
    return OutlinedRenderer(backend, background)
