"""Renderers: MaskParams-built RenderMesh to BGR pixels, one interface.

`make_renderer` picks the backend named by `render.backend`. Only the CPU
renderer exists yet; `cuda` and `auto` use it too (`cuda` says so). The
renderer is compiled (or loaded from numba's cache) here, before any output
is opened, so the first frame is not the one that pays for it.
"""

from __future__ import annotations

import logging

from edge.config import RenderConfig
from edge.render.cpu import CpuRenderer

log = logging.getLogger(__name__)


def make_renderer(config: RenderConfig) -> CpuRenderer:
    if config.backend == "cuda":
        log.warning("render.backend cuda is not available in this build; using the CPU renderer")
    renderer = CpuRenderer(background=tuple(config.background))
    renderer.warmup()
    return renderer
