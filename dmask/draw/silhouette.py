"""An anti-aliased outline: the drawn face's edge pixels covered by the share of them the face covers.

Both renderers sample one point per pixel, so the face's outline against the
background is a staircase (issue 27: stair steps along the jaw, a ragged
forehead). The rasterisers stay exact twins (dmask.draw.cpu's rules); the
outline is smoothed afterwards, on the host, from the drawn bytes alone, so
whatever the backend, the same bytes come out.

How. The covered pixels (any that is not the background colour) are a binary
mask whose staircase still holds where the edge runs: blurred with a Gaussian
of SIGMA pixels, its 0.5 level is a smooth curve through the steps. A pixel's
signed distance to that curve is about (G - 0.5) / |grad G|, and a pixel
whose centre lies d inside a straight edge is covered 0.5 + d of its area
(clipped to 0..1). Pixels whose coverage changes are blended with the
background by it: a covered one towards the background, an uncovered one
towards the mean colour of its covered neighbours. Against the same frames
rendered at 4x and area-averaged, the error within 2 pixels of the outline
halves (README, "An anti-aliased outline"); SIGMA 2 keeps the chin's and the brow's
corners while straightening the steps between them.
"""

from __future__ import annotations

import cv2
import numpy as np

SIGMA = 2.0  # pixels: the blur whose 0.5 level is taken as the outline
_MARGIN = int(np.ceil(3 * SIGMA)) + 2  # pixels around the drawn box the blur reaches


def smooth_outline(image: np.ndarray, background: np.ndarray, window: np.ndarray | None) -> None:
    """In place: image (H, W, 3) uint8 BGR's outline pixels blended by their coverage.

    background: (3,) uint8, the colour of what no face covers; window:
    (x0, y0, x1, y1) the box the faces were drawn in (dmask.draw.cpu.
    vertex_window), None for none.
    """
    if window is None:
        return
    height, width = image.shape[:2]
    x0, y0 = max(int(window[0]) - _MARGIN, 0), max(int(window[1]) - _MARGIN, 0)
    x1, y1 = min(int(window[2]) + _MARGIN + 1, width), min(int(window[3]) + _MARGIN + 1, height)
    region = image[y0:y1, x0:x1]
    covered = (cv2.inRange(region, background, background) == 0).astype(np.float32)
    level = cv2.GaussianBlur(covered, (0, 0), SIGMA, borderType=cv2.BORDER_CONSTANT)
    slope = cv2.magnitude(cv2.Sobel(level, cv2.CV_32F, 1, 0, ksize=3, scale=0.125),
                          cv2.Sobel(level, cv2.CV_32F, 0, 1, ksize=3, scale=0.125))
    neighbours = cv2.blur(covered, (3, 3), borderType=cv2.BORDER_CONSTANT)
    ys, xs = np.nonzero((slope > 1e-3) & (neighbours > 0))
    coverage = np.clip(0.5 + (level[ys, xs] - 0.5) / slope[ys, xs], 0.0, 1.0)
    change = coverage != covered[ys, xs]
    ys, xs, coverage = ys[change], xs[change], coverage[change]
    if not len(ys):
        return
    face = _face_colour(region, covered, ys, xs)
    behind = background.astype(np.float32)
    region[ys, xs] = np.clip(np.floor(behind + coverage[:, None] * (face - behind) + 0.5), 0, 255).astype(np.uint8)


def _face_colour(region: np.ndarray, covered: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(K, 3) float32 the colour the face has at each pixel: its own where covered, else its covered neighbours' mean."""
    face = region[ys, xs].astype(np.float32)
    outside = covered[ys, xs] == 0
    ys, xs = ys[outside] + 1, xs[outside] + 1  # in the padded arrays
    weights = cv2.copyMakeBorder(covered, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    colours = cv2.copyMakeBorder(region, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    total, count = np.zeros((len(ys), 3), np.float32), np.zeros(len(ys), np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            weight = weights[ys + dy, xs + dx]
            total += colours[ys + dy, xs + dx] * weight[:, None]
            count += weight
    face[outside] = total / np.maximum(count, 1.0)[:, None]
    return face
