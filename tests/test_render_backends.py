"""Backend choice: CUDA where it works, the CPU otherwise, said once when asked for."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from dmask.config import RenderBackend, RenderConfig
from dmask.draw import make_renderer

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) for m in ("cupy", "pycuda")), reason="these check machines without CuPy and pycuda"
)


def test_cuda_without_a_launcher_falls_back_to_the_cpu_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        renderer = make_renderer(RenderConfig(backend=RenderBackend.CUDA))
    assert renderer.name == "cpu"
    assert [r.getMessage() for r in caplog.records] == [
        "render.backend cuda is not available (pycuda is not installed (No module named 'pycuda'); "
        "CuPy is not installed (No module named 'cupy')); using the CPU renderer"
    ]


def test_auto_without_a_launcher_uses_the_cpu_quietly(caplog):
    with caplog.at_level(logging.WARNING):
        renderer = make_renderer(RenderConfig(backend=RenderBackend.AUTO))
    assert renderer.name == "cpu"
    assert caplog.records == []
