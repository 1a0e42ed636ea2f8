"""Renderers: MaskParams-built RenderMesh to BGR pixels, one interface.

`make_renderer` picks the backend named by `render.backend`: `cpu`, `cuda`,
or `auto` (CUDA when a device and pycuda or CuPy are there and the kernels
build, the CPU otherwise). A CUDA renderer that cannot start falls back to the CPU with
one warning line when it was asked for, silently under `auto`. The renderer
is compiled (or loaded from its cache) here, before any output is opened, so
the first frame is not the one that pays for it.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from edge.config import RenderConfig
from edge.render.cpu import CpuRenderer
from edge.render.mesh import RenderMesh

log = logging.getLogger(__name__)


class Renderer(Protocol):
    name: str

    def render(self, mesh: RenderMesh, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray: ...

    def warmup(self) -> None: ...


def make_renderer(config: RenderConfig) -> Renderer:
    background = tuple(config.background)
    if config.backend in ("cuda", "auto"):
        from edge.render.cuda import CudaRenderer
        from edge.render.launchers import GpuUnavailable

        try:
            renderer = CudaRenderer(background=background)
            renderer.warmup()
            return renderer
        except GpuUnavailable as reason:
            if config.backend == "cuda":
                log.warning("render.backend cuda is not available (%s); using the CPU renderer", reason)
        except Exception as error:  # noqa: BLE001 - any failure to start the GPU means the CPU path
            log.warning("the CUDA renderer failed to start (%s: %s); using the CPU renderer", type(error).__name__, error)
    renderer = CpuRenderer(background=background)
    renderer.warmup()
    return renderer
