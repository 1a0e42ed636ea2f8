"""The cover test, staged on real video: an occluder composited over one eye.

Strabismus is examined by covering one eye and watching both. No video in
../shared/data has a cover in it, so the evaluation and the tests put one
there: over the subject's right or left eye, for a stretch of frames, placed
each frame where a tracker running on the *uncovered* frame finds that eye
(so the cover follows the head as a hand would). Four kinds of occluder:
a dark paddle, the subject's own palm (their cheek's skin, enlarged), a
glasses glare (saturated white), and a printed card (hard-edged blocks of
random greys), the one with edges of its own.
"""

from __future__ import annotations

import enum

import cv2
import numpy as np

from dmask.measure.mesh_index import CHEEKS, LEFT_EYE_INNER, LEFT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER
from dmask.signals import SIDES

# The occluder's radii, in eye widths (corner to corner), and its soft edge.
RADII = (1.0, 0.8)
EDGE = 0.1


class Occluder(str, enum.Enum):
    PADDLE = "paddle"
    PALM = "palm"
    GLARE = "glare"
    CARD = "card"


def covered(image: np.ndarray, landmarks: np.ndarray, side: str, occluder: Occluder, seed: int = 0) -> np.ndarray:
    """A copy of image (H, W, 3) uint8 BGR with that eye of the face at landmarks (468, 2+) covered."""
    outer, inner = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER) if side == SIDES[0] else (LEFT_EYE_OUTER, LEFT_EYE_INNER)
    centre = 0.5 * (landmarks[outer, :2] + landmarks[inner, :2])
    width = float(np.linalg.norm(landmarks[outer, :2] - landmarks[inner, :2]))
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rx, ry = RADII[0] * width, RADII[1] * width
    inside = ((xx - centre[0]) / rx) ** 2 + ((yy - centre[1]) / ry) ** 2
    alpha = np.clip((1.0 - inside) / EDGE, 0.0, 1.0)[..., None]
    box = (int(centre[0] - rx), int(centre[1] - ry), int(np.ceil(2 * rx)) + 1, int(np.ceil(2 * ry)) + 1)
    fill = np.zeros_like(image, np.float32)
    rng = np.random.default_rng(seed)
    if occluder is Occluder.PADDLE:
        fill[:] = 30.0
    elif occluder is Occluder.GLARE:
        fill[:] = 255.0
        alpha = np.clip((1.0 - 2.0 * inside) / 0.5, 0.0, 1.0)[..., None]
    elif occluder is Occluder.PALM:
        cheek = landmarks[CHEEKS[1 if side == SIDES[0] else 0], :2]
        r = max(int(0.35 * width), 2)
        x, y = int(cheek[0]), int(cheek[1])
        _paste(fill, image[max(y - r, 0) : y + r, max(x - r, 0) : x + r], box)
    else:
        blocks = rng.integers(20, 235, (6, 8)).astype(np.uint8)
        _paste(fill, np.repeat(blocks[..., None], 3, 2), box, cv2.INTER_NEAREST)
    return np.clip(image * (1.0 - alpha) + fill * alpha, 0, 255).astype(np.uint8)


def _paste(canvas: np.ndarray, patch: np.ndarray, box: tuple[int, int, int, int], interpolation: int = cv2.INTER_LINEAR) -> None:
    """patch scaled to box (x, y, width, height), pasted where it overlaps canvas."""
    x, y, bw, bh = box
    scaled = cv2.resize(patch, (bw, bh), interpolation=interpolation).astype(np.float32)
    h, w = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
