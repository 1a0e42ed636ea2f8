"""The readers of `dmask eval clinical`: where two models that share nothing see a static sign.

A clinician judges a squint by where each iris sits between its eye's
corners, and a facial palsy by how far one mouth corner or brow sits below
the other. Each reader places those points on a photo, the original or its
mask, as `SignPoints`; one formula per sign (`sign_value`, then `score`)
turns them into a score, so the readers' figures sit side by side:

- mediapipe: the product's own chain: the face mesh for the mouth corners
  and brows, and the iris model's lid contour and iris centre for the eyes.
- dlib: dlib's HOG detector and 68-point shape predictor (eval extra only;
  models/MODELS.md), with each pupil the centroid of the darkest quarter of
  the pixels inside dlib's six-point eye outline: no eye model at all.

Scores. strabismus: the horizontal deviation, the right and the left iris's
offsets towards the nose from their corners' midpoint, over eye width,
summed (eso > 0, exo < 0). A person looking ahead has a sum that is not 0
(the iris sits a little off the canthi's midpoint), so `score` takes it
from a reference: the median over the set's controls, on the originals.
palsy: |mouth-corner height difference| + |brow height difference| between
the sides, along the face's vertical (perpendicular to the line through the
outer eye corners), over the outer corners' distance.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from dmask.config import Config
from dmask.evaluation.privacy import evaluation_sized
from dmask.evaluation.readers import DlibLandmarks
from dmask.measure.geometry import face_axes
from dmask.measure.mesh_index import INNER_CORNER, LEFT_BROW, LEFT_MOUTH_CORNER, OUTER_CORNER, RIGHT_BROW, RIGHT_MOUTH_CORNER
from dmask.models import ModelSet

DARKEST_FRACTION = 25.0  # percent of the eye outline's pixels the pupil centroid is taken over
DLIB_PHOTO_UPSAMPLE = 1  # photos (already evaluation-sized): faces down to about 40 pixels


class Sign(str, enum.Enum):
    """The static signs a labelled set can be about (the SET part of SET__sign__NAME)."""

    STRABISMUS = "strabismus"
    PALSY = "palsy"


@dataclass(frozen=True)
class SignPoints:
    """One face as a reader places it; (2, 2) float image pixels each, the subject's right then left.

    outer, inner: each eye's outer and inner corner; iris: each iris (or
    pupil) centre; mouth: the mouth corners; brows: each brow's mean point.
    """

    outer: np.ndarray
    inner: np.ndarray
    iris: np.ndarray
    mouth: np.ndarray
    brows: np.ndarray


def deviation(points: SignPoints) -> float:
    """Right plus left iris offset towards the nose from the corners' midpoint, in eye widths."""
    total = 0.0
    for outer, inner, iris in zip(points.outer, points.inner, points.iris):
        width = max(float(np.linalg.norm(inner - outer)), 1e-6)
        total += float((iris - 0.5 * (outer + inner)) @ (inner - outer)) / width**2
    return total


def side_difference(points: SignPoints) -> float:
    """|mouth-corner height difference| + |brow height difference|, over the outer corners' distance."""
    _, down, span = face_axes(*points.outer)
    mouth = abs(float((points.mouth[0] - points.mouth[1]) @ down))
    brows = abs(float((points.brows[0] - points.brows[1]) @ down))
    return (mouth + brows) / span


def sign_value(sign: Sign, points: SignPoints) -> float:
    """The raw measure a sign is scored from: signed deviation (strabismus) or side difference (palsy)."""
    return deviation(points) if sign is Sign.STRABISMUS else side_difference(points)


def score(sign: Sign, values: np.ndarray, reference: float) -> np.ndarray:
    """Scores from raw values: how far from looking ahead (strabismus), or the side difference itself."""
    return np.abs(values - reference) if sign is Sign.STRABISMUS else np.asarray(values, np.float64)


class SignReader(Protocol):
    name: str

    def points(self, image: np.ndarray) -> SignPoints | None:
        """The largest face's points in image (H, W, 3) uint8 BGR, or None where the reader finds none."""
        ...


class MediaPipeSignReader:
    """The product's landmark chain: a fresh still-photo tracker per image."""

    name = "mediapipe"

    def __init__(self, config: Config, models: ModelSet) -> None:
        self.config = config
        self.models = models

    def points(self, image: np.ndarray) -> SignPoints | None:
        faces = self.models.inference.tracker(self.config, still=True).observe(image).faces
        if not faces:
            return None
        face = faces[0]
        eyes = face.right_eye, face.left_eye
        xy = face.landmarks[:, :2].astype(np.float64)
        return SignPoints(
            outer=np.array([e.lids[OUTER_CORNER] for e in eyes], np.float64),
            inner=np.array([e.lids[INNER_CORNER] for e in eyes], np.float64),
            iris=np.array([e.iris[0] for e in eyes], np.float64),
            mouth=xy[[RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER]],
            brows=np.array([xy[RIGHT_BROW].mean(0), xy[LEFT_BROW].mean(0)]),
        )


# dlib's 68 points (iBUG 300-W order, 0-based): each eye's outline from its outer corner (36 right, 45 left).
_DLIB_EYES = (np.array([36, 37, 38, 39, 40, 41]), np.array([45, 44, 43, 42, 47, 46]))
_DLIB_MOUTH = np.array([48, 54])
_DLIB_BROWS = (np.arange(17, 22), np.arange(22, 27))


def pupil_centroid(gray: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """(2,) the centroid of the darkest DARKEST_FRACTION of the pixels inside an eye outline (K, 2)."""
    inside = np.zeros(gray.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
    ys, xs = np.nonzero(inside)
    if len(xs) == 0:
        return outline.mean(0)
    values = gray[ys, xs]
    dark = values <= np.percentile(values, DARKEST_FRACTION)
    return np.array([xs[dark].mean(), ys[dark].mean()])


class DlibSignReader:
    """dlib's 68 points and a model-free pupil centroid, on the photo at the privacy evaluation's size."""

    name = "dlib"

    def __init__(self, landmarks: DlibLandmarks) -> None:
        self.landmarks = landmarks

    def points(self, image: np.ndarray) -> SignPoints | None:
        sized = evaluation_sized(image)
        p = self.landmarks.points(sized)
        if p is None:
            return None
        gray = cv2.cvtColor(sized, cv2.COLOR_BGR2GRAY).astype(np.float32)
        scale = image.shape[1] / sized.shape[1]
        eyes = [p[index] for index in _DLIB_EYES]
        return SignPoints(
            outer=np.array([e[0] for e in eyes]) * scale,
            inner=np.array([e[3] for e in eyes]) * scale,
            iris=np.array([pupil_centroid(gray, e) for e in eyes]) * scale,
            mouth=p[_DLIB_MOUTH] * scale,
            brows=np.array([p[b].mean(0) for b in _DLIB_BROWS]) * scale,
        )


def sign_readers(config: Config, models: ModelSet) -> tuple[SignReader, ...]:
    return MediaPipeSignReader(config, models), DlibSignReader(DlibLandmarks(DLIB_PHOTO_UPSAMPLE, max_side=None))
