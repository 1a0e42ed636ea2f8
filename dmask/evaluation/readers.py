"""The readers of `dmask eval fidelity`: two landmark models that share nothing.

A mask can please the model it was tuned with and be unreadable to any other,
so every video is read by two:

- mediapipe: the product's own chain (face mesh, iris model, the fit) with
  each person's resting levels kept (RestingPolicy.OWN): every clinical
  field of the signal schema, plus the face geometry below from the mesh.
- dlib: dlib's HOG face detector and 68-point shape predictor (package
  face_recognition_models, eval extra only; models/MODELS.md): each eye's
  aspect ratio (Soukupova and Cech 2016) as its aperture, and the face
  geometry below from its 68 points.

The face geometry is one formula for both (face_geometry), so the readers'
figures sit side by side: the mouth's opening and each brow's height above
its eye's centre, along the face's vertical (perpendicular to the line
through the outer eye corners), over the outer corners' distance.

Each reader reads one stream, the original or the masked one: the MediaPipe
reader tracks, so it keeps state between the frames of its stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dmask.config import Config
from dmask.evaluation.recognisers import FaceFinder, model_file
from dmask.report_folder import require
from dmask.measure.fit import RestingPolicy
from dmask.measure.meter import FaceMeter
from dmask.measure.geometry import face_axes
from dmask.measure.mesh_index import (
    LEFT_BROW,
    LEFT_EYE_OUTER,
    LEFT_LIDS,
    LOWER_LIP_MIDDLE,
    RIGHT_BROW,
    RIGHT_EYE_OUTER,
    RIGHT_LIDS,
    UPPER_LIP_MIDDLE,
)
from dmask.models import ModelSet
from dmask.records import Frame
from dmask.signals import FACE_FIELDS, SIDES, face_values

# dlib's HOG detector runs on every frame at this size, doubling nothing: it finds faces of 80 pixels and more.
DLIB_MAX_SIDE = 480
DLIB_UPSAMPLE = 0
SPAN = "corner span"  # the unit of the face geometry: the outer eye corners' distance


@dataclass(frozen=True)
class Signal:
    """One signal a reader measures per frame. gaze: also compared by coherence, only where both eyes are open."""

    name: str
    unit: str
    gaze: bool = False


GEOMETRY = (Signal("mouth_opening", SPAN), Signal("right_brow_height", SPAN), Signal("left_brow_height", SPAN))


@dataclass(frozen=True)
class FacePoints:
    """One face's landmark groups as a reader places them, (K, 2) float image pixels each.

    right_eye, left_eye: each eye's contour; right_brow, left_brow: each brow;
    upper_lip, lower_lip: the inner lip margins' middle points; corners:
    (2, 2) the right and the left eye's outer corner. Right and left are the subject's.
    """

    right_eye: np.ndarray
    left_eye: np.ndarray
    right_brow: np.ndarray
    left_brow: np.ndarray
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    corners: np.ndarray


def face_geometry(points: FacePoints) -> np.ndarray:
    """(3,) GEOMETRY's values: mouth opening, right and left brow height, in corner spans."""
    _, down, span = face_axes(*points.corners)
    mouth = (points.lower_lip.mean(0) - points.upper_lip.mean(0)) @ down
    brows = [(eye.mean(0) - brow.mean(0)) @ down for eye, brow in
             ((points.right_eye, points.right_brow), (points.left_eye, points.left_brow))]
    return np.array([mouth, *brows]) / span


class Reader(Protocol):
    """Reads one stream's frames in order; each gives (S,) float64 in `signals` order, NaN where no face."""

    name: str
    signals: tuple[Signal, ...]

    def read(self, frame: Frame) -> np.ndarray: ...


# The schema's clinical fields the MediaPipe reader compares, under short names.
_SCHEMA_SIGNALS = (
    *((f"{side}_gaze_{axis}", f"{side}_gaze_{axis}_deg", True) for side in SIDES for axis in ("yaw", "pitch")),
    ("right_aperture", "right_aperture", False),
    ("left_aperture", "left_aperture", False),
    ("right_mrd1", "right_mrd1_mm", False),
    ("left_mrd1", "left_mrd1_mm", False),
    *((f"head_{angle}", f"head_{angle}_deg", False) for angle in ("yaw", "pitch", "roll")),
    *((f"{side}_{unit}", f"au_{side}_{unit}", False) for unit in ("jaw_drop", "inner_brow_raise", "lip_corner_pull")
      for side in SIDES),
)
_UNITS = {field.name: field.unit for field in FACE_FIELDS}


class MediaPipeReader:
    """The product's landmark chain and fit, hiding nothing (RestingPolicy.OWN)."""

    name = "mediapipe"
    signals = (*(Signal(name, _UNITS[field], gaze) for name, field, gaze in _SCHEMA_SIGNALS), *GEOMETRY)

    def __init__(self, config: Config, models: ModelSet) -> None:
        self.meter = FaceMeter(config, models, still=False, resting=RestingPolicy.OWN)

    def read(self, frame: Frame) -> np.ndarray:
        faces = self.meter.observe(frame.image).faces[:1]
        if not faces:
            return np.full(len(self.signals), np.nan)
        face = faces[0]
        values = face_values(self.meter.fit(faces, frame.timestamp, frame.image.shape[1])[0])
        fields = [values[field] for _, field, _ in _SCHEMA_SIGNALS]
        xy = face.landmarks[:, :2].astype(np.float64)
        points = FacePoints(xy[RIGHT_LIDS], xy[LEFT_LIDS], xy[RIGHT_BROW], xy[LEFT_BROW], xy[UPPER_LIP_MIDDLE],
                            xy[LOWER_LIP_MIDDLE], xy[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER]])
        return np.array([*fields, *face_geometry(points)], dtype=np.float64)


# dlib's 68 points (iBUG 300-W order, 0-based); the subject's right is the image's left.
_DLIB_RIGHT_EYE, _DLIB_LEFT_EYE = np.arange(36, 42), np.arange(42, 48)
_DLIB_RIGHT_BROW, _DLIB_LEFT_BROW = np.arange(17, 22), np.arange(22, 27)
_DLIB_UPPER_INNER_LIP, _DLIB_LOWER_INNER_LIP = np.array([61, 62, 63]), np.array([65, 66, 67])


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """(6, 2) dlib eye points (a corner, the upper lid, the other corner, the lower lid): lid gaps over corner distance."""
    gaps = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    return float(gaps / (2.0 * np.linalg.norm(eye[0] - eye[3])))


class DlibLandmarks:
    """dlib's detector and 68-point predictor, loaded once and shared by the readers of both streams."""

    def __init__(self, upsample: int = DLIB_UPSAMPLE, max_side: int | None = DLIB_MAX_SIDE) -> None:
        self._dlib = require("dlib", "dlib-bin")
        self.finder = FaceFinder(upsample, max_side)
        self._predictor = self._dlib.shape_predictor(str(model_file("dlib_shape_68")))

    def points(self, image: np.ndarray) -> np.ndarray | None:
        """(68, 2) float64 image pixels of the largest face in a BGR image, or None."""
        box = self.finder.find(image)
        if box is None:
            return None
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        shape = self._predictor(rgb, self._dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


class DlibReader:
    """Apertures and face geometry from dlib's 68 points; every frame is found afresh (no tracking)."""

    name = "dlib"
    signals = (Signal("right_aperture", "eye width"), Signal("left_aperture", "eye width"), *GEOMETRY)

    def __init__(self, landmarks: DlibLandmarks) -> None:
        self.landmarks = landmarks

    def read(self, frame: Frame) -> np.ndarray:
        p = self.landmarks.points(frame.image)
        if p is None:
            return np.full(len(self.signals), np.nan)
        right, left = p[_DLIB_RIGHT_EYE], p[_DLIB_LEFT_EYE]
        points = FacePoints(right, left, p[_DLIB_RIGHT_BROW], p[_DLIB_LEFT_BROW], p[_DLIB_UPPER_INNER_LIP],
                            p[_DLIB_LOWER_INNER_LIP], np.array([right[0], left[3]]))
        return np.array([eye_aspect_ratio(right), eye_aspect_ratio(left), *face_geometry(points)], dtype=np.float64)


def reader_pairs(config: Config, models: ModelSet) -> tuple[tuple[Reader, Reader], ...]:
    """Per reader, one for the original stream and one for the masked stream."""
    landmarks = DlibLandmarks()
    return ((MediaPipeReader(config, models), MediaPipeReader(config, models)),
            (DlibReader(landmarks), DlibReader(landmarks)))
