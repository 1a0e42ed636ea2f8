"""The per-frame signal CSV: what the mask measured, one row per face.

A frame with no face still gets a row (its status, face fields empty), so the
file accounts for every frame. Angles are in degrees.

Head pose: the rotation R (head frame -> camera frame; camera x right, y down,
z forward, away from the camera) is decomposed as R = Ry(-yaw) Rx(pitch) Rz(roll),
each a right-handed rotation about the camera axis named: yaw about y, pitch
about x, roll about z. For a face looking at the camera this means
yaw > 0 turns the face towards the subject's left (image right),
pitch > 0 tilts it down, roll > 0 tilts it clockwise on screen (towards the
subject's left shoulder). Gaze angles have the same senses (MaskParams'
convention): yaw > 0 towards the subject's left, pitch > 0 down, in the head
frame, so head and eye movements in one direction carry one sign.
tx, ty: image position of the canonical face origin in pixels; scale: pixels
per canonical unit (outer eye corner to outer eye corner).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from edge.media import AtomicFile
from edge.records import EyeParams, MaskedFrame, MaskParams

_EYE_COLUMNS = ("gaze_yaw_deg", "gaze_pitch_deg", "upper_aperture", "lower_aperture", "aperture")
_EXPRESSION_COLUMNS = (
    "mouth_open",
    "brow_raise_right",
    "brow_raise_left",
    "mouth_corner_right",
    "mouth_corner_left",
)
_FRAME_COLUMNS = ("file", "seq", "timestamp", "status")
_FACE_COLUMNS = (
    ("face", "track_id", "confidence", "yaw_deg", "pitch_deg", "roll_deg", "tx", "ty", "scale")
    + tuple(f"right_{name}" for name in _EYE_COLUMNS)
    + tuple(f"left_{name}" for name in _EYE_COLUMNS)
    + _EXPRESSION_COLUMNS
)
SIGNAL_COLUMNS = _FRAME_COLUMNS + _FACE_COLUMNS


def euler_degrees(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees with R = Ry(-yaw) Rx(pitch) Rz(roll)."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = math.asin(max(-1.0, min(1.0, -r[1, 2])))
    yaw = -math.atan2(r[0, 2], r[2, 2])
    roll = math.atan2(r[1, 0], r[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def _eye_values(eye: EyeParams) -> tuple[float, ...]:
    return (
        math.degrees(eye.gaze_yaw),
        math.degrees(eye.gaze_pitch),
        eye.upper_aperture,
        eye.lower_aperture,
        eye.aperture,
    )


def face_values(index: int, face: MaskParams) -> tuple:
    """The _FACE_COLUMNS of one face."""
    measures = (
        face.confidence,
        *euler_degrees(face.rotation),
        face.translation[0],
        face.translation[1],
        face.scale,
        *_eye_values(face.right_eye),
        *_eye_values(face.left_eye),
        *(getattr(face, name) for name in _EXPRESSION_COLUMNS),
    )
    return (index, face.track_id) + tuple(f"{float(v):.6f}" for v in measures)


class SignalCsvWriter(AtomicFile):
    """Writes SIGNAL_COLUMNS rows to a CSV that appears only when complete."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self.file)
        self._csv.writerow(SIGNAL_COLUMNS)

    def write(self, masked: MaskedFrame, file: str = "") -> None:
        """The rows of one masked frame; file names its source."""
        frame_values = (file, masked.seq, f"{masked.timestamp:.6f}", masked.status.value)
        if not masked.faces:
            self._csv.writerow(frame_values + ("",) * len(_FACE_COLUMNS))
        for index, face in enumerate(masked.faces):
            self._csv.writerow(frame_values + face_values(index, face))
