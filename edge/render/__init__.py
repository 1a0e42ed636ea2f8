"""Renderers: MaskParams-built RenderMesh to BGR pixels, one interface.

`make_renderer` picks the backend named by `render.backend` by the one rule
of edge.backends: `cuda` (CUDA when a device and pycuda or CuPy are there and
the kernels build, else the CPU with one warning), `auto` (the same, quietly
where there is no GPU stack) or `cpu`. The renderer is compiled (or loaded
from its cache) here, before any output is opened, so the first frame is not
the one that pays for it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.backends import preferred_or_cpu
from edge.config import RenderBackend, RenderConfig
from edge.render.cpu import CpuRenderer
from edge.render.mesh import RenderMesh


class Renderer(Protocol):
    name: RenderBackend  # CPU or CUDA: the one that draws

    def render(self, mesh: RenderMesh, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray: ...

    def warmup(self) -> None: ...


def make_renderer(config: RenderConfig) -> Renderer:
    background = tuple(config.background)

    def start(renderer: Renderer) -> Renderer:
        renderer.warmup()
        return renderer

    def cuda() -> Renderer:
        from edge.render.cuda import CudaRenderer

        return start(CudaRenderer(background=background))

    cpu = lambda: start(CpuRenderer(background=background))  # noqa: E731
    return preferred_or_cpu("render.backend", config.backend, RenderBackend.CUDA, cuda, cpu, "the CPU renderer")
