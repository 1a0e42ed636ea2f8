"""What passes the fit: fast eye signals frame by frame, and one-sided signs.

Observations are built from the avatar itself, posed in the image, with
eyes whose lids and irises follow a known schedule: a 100 ms blink and an
8 Hz horizontal oscillation (nystagmus-like) sampled at 30 fps; and a face
whose right mouth corner droops.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.avatar import EYEBALL_RADIUS_FRACTION, Avatar
from edge.config import DEFAULT_MODELS_DIR, FitConfig
from edge.fit import Fitter
from edge.mesh_index import LEFT_LIDS, RIGHT_LIDS
from edge.records import EyeObservation, FaceObservation

FPS = 30.0
SCALE, ORIGIN = 300.0, np.array([320.0, 240.0, 0.0])


def eye_observation(vertices: np.ndarray, lids: np.ndarray, iris_rest: np.ndarray, openness: float, iris_dx: float) -> EyeObservation:
    """The avatar's own lid contour, opened to `openness` of rest, in pixels."""
    contour = vertices[lids, :2].copy()
    middle = 0.5 * (contour[0] + contour[8])
    contour[1:8, 1] = middle[1] + openness * (contour[1:8, 1] - middle[1])
    contour[9:16, 1] = middle[1] + openness * (contour[9:16, 1] - middle[1])
    width = np.linalg.norm(contour[8] - contour[0])
    iris = middle + width * (iris_rest + [iris_dx, 0.0])
    to_px = lambda p: (SCALE * p + ORIGIN[:2]).astype(np.float32)  # noqa: E731
    return EyeObservation(to_px(contour), np.repeat(to_px(iris[None]), 5, 0))


def observations(avatar: Avatar, openness: np.ndarray, iris_dx: np.ndarray) -> list[FaceObservation]:
    v = avatar.vertices.astype(np.float64)
    landmarks = (SCALE * v + ORIGIN).astype(np.float32)
    return [
        FaceObservation(
            landmarks=landmarks,
            right_eye=eye_observation(v, RIGHT_LIDS, avatar.iris_rest[0], o, dx),
            left_eye=eye_observation(v, LEFT_LIDS, avatar.iris_rest[1], o, dx),
            confidence=1.0,
            track_id=0,
        )
        for o, dx in zip(openness, iris_dx)
    ]


@pytest.fixture(scope="module")
def avatar() -> Avatar:
    return Avatar.load(DEFAULT_MODELS_DIR)


def run(avatar: Avatar, openness: np.ndarray, iris_dx: np.ndarray, config: FitConfig = FitConfig()):
    fitter = Fitter(avatar, config, still=False)
    return [fitter.fit(face, i / FPS) for i, face in enumerate(observations(avatar, openness, iris_dx))]


def test_a_100ms_blink_survives(avatar):
    openness = np.ones(60)
    openness[30:33] = 0.0  # 3 frames at 30 fps = 100 ms
    params = run(avatar, openness, np.zeros(60))
    aperture = np.array([p.right_eye.aperture for p in params])
    assert aperture[30:33].max() < 0.1 * aperture[:30].mean()
    assert aperture[29] > 0.9 * aperture[:29].mean()
    assert aperture[33] > 0.9 * aperture[:29].mean()


def test_a_small_lid_movement_passes_in_full(avatar):
    """A half-blink well inside the resting dead zone: only the resting level is anatomy."""
    openness = np.ones(60)
    openness[40:43] = 0.85

    def relative(config: FitConfig) -> np.ndarray:
        aperture = np.array([p.left_eye.aperture for p in run(avatar, openness, np.zeros(60), config)])
        return aperture[40:43] / aperture[:40].mean()

    measured = relative(FitConfig(deadzone_sigmas=0.0))
    assert measured.max() < 0.9
    np.testing.assert_allclose(relative(FitConfig()), measured, atol=0.003)


def test_an_8hz_eye_oscillation_keeps_its_amplitude_and_phase(avatar):
    t = np.arange(90) / FPS
    iris_dx = 0.06 * np.sin(2 * np.pi * 8.0 * t)
    params = run(avatar, np.ones(90), iris_dx)
    for side in ("right_eye", "left_eye"):
        yaw = np.array([getattr(p, side).gaze_yaw for p in params])
        expected = np.arcsin(iris_dx / EYEBALL_RADIUS_FRACTION)
        assert np.corrcoef(yaw, expected)[0, 1] > 0.99
        assert np.abs(yaw - expected).max() < 0.1 * np.abs(expected).max()


def drooping(avatar: Avatar, amount: float) -> FaceObservation:
    """The avatar's face with the right mouth corner region pulled down."""
    face = observations(avatar, np.ones(1), np.zeros(1))[0]
    v = avatar.vertices.astype(np.float64)
    distance = np.linalg.norm(v - v[61], axis=1)
    shape = v.copy()
    shape[:, 1] += amount * np.clip(1 - distance / 0.2, 0, None)
    return dataclasses.replace(face, landmarks=(SCALE * shape + ORIGIN).astype(np.float32))


@pytest.mark.parametrize("still", [True, False])
def test_a_resting_one_sided_droop_passes(avatar, still):
    """A droop far beyond the normal spread of faces shows on the avatar; the other side stays."""
    fitter = Fitter(avatar, FitConfig(), still=still)
    params = fitter.fit(drooping(avatar, 0.08), 0.0)
    assert params.mouth_corner_right < -0.6 * 0.08
    assert params.mouth_corner_left - params.mouth_corner_right > 0.7 * 0.08
    assert abs(params.mouth_corner_left) < 0.35 * abs(params.mouth_corner_right)


def test_an_ordinary_resting_difference_does_not_pass_a_photo(avatar):
    """Within the normal spread of faces, a resting difference is the avatar's own."""
    small = 0.5 * FitConfig().deadzone_sigmas * float(avatar.expression_residual_sd.min())
    params = Fitter(avatar, FitConfig(), still=True).fit(drooping(avatar, small), 0.0)
    assert abs(params.mouth_corner_right) < 0.3 * small
