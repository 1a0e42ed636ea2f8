"""The fidelity evaluation's readers: one geometry formula for both, and dlib's reader on a real face."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmask.evaluation.readers import DlibLandmarks, DlibReader, FacePoints, eye_aspect_ratio, face_geometry
from dmask.capture.media import read_photo
from dmask.records import Frame


def test_the_eye_aspect_ratio_is_the_lid_gap_over_the_corners() -> None:
    eye = np.array([(0, 0), (3, -2), (7, -2), (10, 0), (7, 2), (3, 2)], dtype=float)
    assert eye_aspect_ratio(eye) == pytest.approx(0.4)


def _points(transform) -> FacePoints:
    """A face with its outer eye corners 100 apart, brows 20 and 15 above the eyes, lips 10 apart."""
    def ring(x: float, y: float) -> np.ndarray:
        return np.array([(x - 10, y), (x, y - 3), (x + 10, y), (x, y + 3)], dtype=float)
    parts = (ring(-30, 0), ring(30, 0), ring(-30, -20), ring(30, -15),
             np.array([(-2.0, 60.0), (2.0, 60.0)]), np.array([(-2.0, 70.0), (2.0, 70.0)]), np.array([(-50.0, 0.0), (50.0, 0.0)]))
    return FacePoints(*(transform(part) for part in parts))


def test_face_geometry_is_in_corner_spans_and_ignores_roll_scale_and_position() -> None:
    assert face_geometry(_points(lambda p: p)) == pytest.approx([0.10, 0.20, 0.15])
    angle = math.radians(25)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = _points(lambda p: 3.0 * p @ rotation.T + (400.0, 250.0))
    assert face_geometry(moved) == pytest.approx([0.10, 0.20, 0.15])


@pytest.fixture(scope="module")
def dlib_reader() -> DlibReader:
    return DlibReader(DlibLandmarks())


def test_dlib_reads_a_real_face_and_nothing_from_a_blank_frame(dlib_reader, shared_data) -> None:
    image = read_photo(shared_data / "identities/angelina_jolie/df_img7.jpg")
    right, left, mouth, right_brow, left_brow = dlib_reader.read(Frame(image, 0, 0.0))
    assert 0.15 < right < 0.5 and 0.15 < left < 0.5  # open eyes: 0.31-0.36 on real faces
    assert -0.01 < mouth < 0.2 and 0.1 < right_brow < 0.6 and 0.1 < left_brow < 0.6
    assert np.isnan(dlib_reader.read(Frame(np.full_like(image, 128), 1, 0.0))).all()
