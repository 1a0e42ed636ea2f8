"""The tracker's bookkeeping, with stand-in models: which tracks end, and when."""

from __future__ import annotations

import numpy as np

from dmask.config import TrackingConfig
from dmask.measure.inference import FACE_ROI_SCALE, Detection, MeshResult, Roi
from dmask.records import EyeObservation
from dmask.measure.tracking import FaceTracker


class StandIns:
    """A detector that finds what it is told to, and a face mesh that puts the
    avatar's face where it is asked to look (so a track stays put)."""

    def __init__(self, face: np.ndarray) -> None:
        xy = face[:, :2] - face[:, :2].mean(0)
        extent = np.ptp(xy, axis=0).max()  # so a track's next crop is the same size as its last
        self.face = np.column_stack([xy / extent, face[:, 2] / extent])
        self.pending: list[Detection] = []

    def detect(self, image: np.ndarray) -> list[Detection]:
        found, self.pending = self.pending, []
        return found

    def detect_tile(self, image: np.ndarray, index: int) -> list[Detection]:
        return []

    def run(self, image: np.ndarray, roi: Roi) -> MeshResult:
        width = roi.size / FACE_ROI_SCALE
        return MeshResult((self.face * width + [*roi.centre, 0.0]).astype(np.float32), 0.9)


class Eyes:
    def run(self, image, landmarks):
        eye = EyeObservation(np.zeros((16, 2), np.float32), np.zeros((5, 2), np.float32))
        return eye, eye


def detection(x: float, y: float, size: float) -> Detection:
    box = np.array([x - size / 2, y - size / 2, x + size / 2, y + size / 2])
    eyes = np.array([[x - 0.2 * size, y - 0.1 * size], [x + 0.2 * size, y - 0.1 * size]])
    return Detection(box, np.vstack([eyes, np.zeros((4, 2))]), 0.9)


def test_a_track_pushed_out_by_max_faces_is_reported_ended(models):
    """Per-track state (the fit's baselines and blink trackers) is let go on what the tracker reports ended:
    a face pushed out by a larger newcomer must be among them, not only a face lost from view."""
    stand_ins = StandIns(models.avatar.vertices.astype(np.float64))
    tracker = FaceTracker(stand_ins, stand_ins, Eyes(), TrackingConfig(max_faces=1, detect_interval=5), still=False)
    image = np.zeros((480, 640, 3), np.uint8)
    stand_ins.pending = [detection(200, 240, 100)]
    first = tracker.observe(image)
    assert [f.track_id for f in first.faces] == [0] and first.lost_tracks == []
    for _ in range(4):
        assert tracker.observe(image).lost_tracks == []
    stand_ins.pending = [detection(450, 240, 160)]  # the detector's next whole-frame pass finds a larger face
    pushed = tracker.observe(image)
    assert [f.track_id for f in pushed.faces] == [1] and pushed.dropped == 1
    assert pushed.lost_tracks == [0]
