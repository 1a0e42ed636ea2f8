"""Is the eye there? An occluder, a hand or a glare over one eye, frame by frame.

The cover test (strabismus) hides one eye and watches the other. The face
mesh and the iris model still place a lid contour over a hidden eye, guessed
from the rest of the face; a gaze read from it would be invented. Two tests,
one on the iris model's own 64x64 crop, tell a seen eye from a hidden one:

- contrast: a seen lid line is an edge (lid margin against sclera or iris) or
  a dark line (the lashes of a closed eye) along the contour the iris model
  found. The median, over the contour, of the larger of the step across it
  and the dip on it, over the crop's mean luminance. A paddle, a palm or a
  glare leaves next to none; seen eyes, blinks and squints included, have
  0.03 and more (0.05 in 99.9 % of 6,022 eye-frames of ../shared/data's face
  videos; the lowest in motion blur and behind glasses).
- disagreement: a textured occluder has edges, but not where both models put
  the lids: the iris model follows the crop's edges and the face mesh the
  rest of the face, so their two lid contours part (median distance above
  0.15 eye widths; seen eyes 0.07).

A hidden eye is one with no contrast, or with weak contrast where the two
models disagree. The verdict is per frame, with no memory, so a cover is
flagged on the frame it arrives and released on the frame it lifts (the
re-fixation that follows is the sign). tools/occlusion_check.py measures it
on ../shared/data: a paddle, a palm and a glare over one eye caught in every
covered frame of 6 videos, flagged and released on the first frame; 6 of
6,022 uncovered eye-frames flagged (0.1 %, in motion blur). A printed card,
hard-edged blocks of greys, is the limit: caught in 0 to 100 % of its frames.
The thresholds were set on the same videos, so these are not held-out figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from dmask.measure.mesh_index import INNER_CORNER, OUTER_CORNER

# Thresholds, set on ../shared/data (module docstring).
NO_CONTRAST = 0.025
WEAK_CONTRAST = 0.06
DISAGREEMENT = 0.15
# How far either side of the contour the step and the dip are read, in eye widths.
ACROSS = 0.06
# The contour once round: outer corner, lower lid, inner corner, upper lid back.
_ROUND = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 14, 13, 12, 11, 10, 9])
_LUMA_RGB = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class EyeEvidence:
    """What one frame shows of one eye.

    contrast: lid-line contrast over the crop's mean luminance (0 = none).
    disagreement: median distance between the face mesh's and the iris
        model's lid contours, eye widths.
    """

    contrast: float
    disagreement: float

    @property
    def occluded(self) -> bool:
        return self.contrast < NO_CONTRAST or (self.contrast < WEAK_CONTRAST and self.disagreement > DISAGREEMENT)


SEEN = EyeEvidence(math.inf, 0.0)


def eye_evidence(crop: np.ndarray, lids_crop: np.ndarray, lids: np.ndarray, mesh_lids: np.ndarray) -> EyeEvidence:
    """crop: (S, S, 3) float32 RGB 0..1, the iris model's input; lids_crop: (16, 2)
    its lid contour in crop pixels (centres at integers); lids, mesh_lids: (16, 2)
    the iris model's and the face mesh's contours in one image's pixels."""
    width = float(np.linalg.norm(lids[INNER_CORNER] - lids[OUTER_CORNER]))
    disagreement = float(np.median(np.linalg.norm(mesh_lids - lids, axis=1))) / max(width, 1e-6)
    return EyeEvidence(lid_contrast(crop, lids_crop), disagreement)


def lid_contrast(crop: np.ndarray, lids: np.ndarray) -> float:
    """The contour's edge-or-line contrast (EyeEvidence.contrast) in the crop."""
    luma = np.ascontiguousarray(crop @ _LUMA_RGB)
    ring = lids[_ROUND].astype(np.float32)
    ahead = np.roll(ring, -1, 0)
    points = np.concatenate([ring, 0.5 * (ring + ahead)])
    tangents = np.concatenate([ahead - np.roll(ring, 1, 0), ahead - ring])
    tangents /= np.maximum(np.linalg.norm(tangents, axis=1, keepdims=True), 1e-6)
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], -1)
    step = ACROSS * float(np.linalg.norm(lids[INNER_CORNER] - lids[OUTER_CORNER]))
    before, on, after = (_sample(luma, points + k * step * normals) for k in (-1, 0, 1))
    contrast = np.maximum(np.abs(before - after), 0.5 * (before + after) - on)
    # The corners themselves are where both lids meet, with no line across.
    along = np.ones(len(points), bool)
    along[[0, 8]] = False
    # The small floor keeps a dark crop's noise from reading as contrast.
    return float(np.median(contrast[along]) / (luma.mean() + 0.02))


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    xy = points.astype(np.float32)[:, None, :]
    return cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[:, 0]
