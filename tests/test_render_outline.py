"""The drawn face's outline is anti-aliased (issue 27): it approaches the same face drawn at 4x and averaged down.

The backends rasterise one sample a pixel (their exactness is tests/test_render_cpu.py's); what the product
draws (dmask.draw.make_renderer) smooths the outline afterwards from the bytes alone.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from dmask.draw import make_renderer
from dmask.draw.cpu import CpuRenderer
from dmask.draw.mesh import RenderMesh
from support import mask_params, rotation

HEIGHT, WIDTH = 720, 1280


def supersampled(mesh, factor: int = 4) -> np.ndarray:
    """The mesh drawn at factor x the size (pixel centres kept in place) and area-averaged back, float32."""
    positions = mesh.positions.copy()
    positions[:, :2] = (positions[:, :2] + 0.5) * factor - 0.5
    positions[:, 2] *= factor
    big = CpuRenderer().render(dataclasses.replace(mesh, positions=positions), factor * HEIGHT, factor * WIDTH)
    return cv2.resize(big, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA).astype(np.float32)


def near_outline(image: np.ndarray, background: np.ndarray, reach: int) -> np.ndarray:
    """(H, W) bool: pixels within reach of the boundary between the background and the rest."""
    covered = (image != background).any(axis=2).astype(np.uint8)
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return (cv2.dilate(covered, kernel) > 0) & ~(cv2.erode(covered, kernel) > 0)


@pytest.fixture(scope="module", params=[(0, 0, 0), (25, 8, -6), (-40, -5, 10)], ids=["frontal", "turned", "far-turned"])
def drawn(request, config, models):
    """One posed avatar: the exact backend's frame, the product's, and the 4x reference."""
    params = mask_params(rotation=rotation(*request.param), translation=np.array([640, 360, 900], np.float32), scale=220.0,
                         action_units=models.avatar.action_unit_rest.copy())
    mesh = models.rig.mesh(params)
    exact = CpuRenderer(config.render.background).render(mesh, HEIGHT, WIDTH).copy()
    product = make_renderer(config.render).render(mesh, HEIGHT, WIDTH).copy()
    return exact, product, supersampled(mesh), np.asarray(config.render.background, np.uint8)


def test_the_outline_approaches_the_face_drawn_at_4x(drawn):
    """Within 2 px of the outline the exact frame is off the reference by about 2.2 grey levels; the product's by half."""
    exact, product, reference, background = drawn
    band = near_outline(exact, background, 2)
    error = [float(np.abs(image.astype(np.float32) - reference)[band].mean()) for image in (exact, product)]
    assert error[1] < 0.6 * error[0]


def test_only_the_outline_changes(drawn):
    """Inside the face and away from it the product's pixels are the exact backend's, byte for byte."""
    exact, product, _, background = drawn
    changed = (exact != product).any(axis=2)
    assert changed.sum() > 100
    assert not (changed & ~near_outline(exact, background, 2)).any()


def test_a_frame_with_no_face_is_the_background(config):
    empty = make_renderer(config.render).render(RenderMesh.empty(), 48, 64)
    assert (empty == np.asarray(config.render.background, np.uint8)).all()
