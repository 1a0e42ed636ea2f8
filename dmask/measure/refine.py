"""Full-resolution refinement: where a static sign is read from, in the frame's own pixels.

The face mesh sees a 192-pixel crop and pulls towards an average, symmetric
face: a one-sided 4 mm mouth droop edited into a photo moves its mouth
corners by 0.8 mm. The droop itself is a visible edge. Near each mouth corner
the oral fissure (the dark line where the lips meet, or the shadow of an
open mouth's corner) is the darkest row of the lip region, and its height
there along the face's vertical is what sags on a weak side.

`fissure_drop` samples an upright strip of the mouth (the face's horizontal
along the line through the outer eye corners) at FISSURE_PX pixels per
mouth width, from the full frame (smoothed first where that shrinks it),
and in each of FISSURE_COLUMNS columns FISSURE_BAND mouth widths in from
each corner takes the darkest row within FISSURE_SEARCH of the mesh's lip
line, to a sub-pixel by a parabola. The drop is the right side's median
height minus the left's. On the clinical palsy photos of ../shared it
separates the patients from the controls at AUC 0.97 (the mesh's corners:
0.88); docs/signs.md, "Static signs".
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from dmask.measure.geometry import face_axes
from dmask.measure.mesh_index import LEFT_EYE_OUTER, LEFT_MOUTH_CORNER, LIPS_INNER, RIGHT_EYE_OUTER, RIGHT_MOUTH_CORNER

FISSURE_PX = 160  # strip pixels per mouth width
FISSURE_BAND = (0.02, 0.12)  # mouth widths in from each corner
FISSURE_COLUMNS = 8
FISSURE_SEARCH = 0.1  # mouth widths above and below the mesh's lip line
FISSURE_SMOOTH = 1.5  # strip pixels (Gaussian sigma) before the darkest row is taken
_STRIP = (-0.1, 1.1, -0.3, 0.3)  # strip extent in mouth widths: across from the right corner, down from it


def fissure_drop(image: np.ndarray, landmarks: np.ndarray) -> float:
    """How much lower the oral fissure sits near the right mouth corner than near the left.

    image: (H, W, 3) uint8 BGR, the full frame; landmarks: (468, 3) face-mesh
    points in its pixels. Returns image pixels along the face's vertical
    (> 0: the right side lower), NaN where either side shows no fissure.
    """
    xy = landmarks[:, :2].astype(np.float64)
    across, down, _ = face_axes(xy[RIGHT_EYE_OUTER], xy[LEFT_EYE_OUTER])
    right, left = xy[RIGHT_MOUTH_CORNER], xy[LEFT_MOUTH_CORNER]
    width = float((left - right) @ across)
    if width < 8.0:
        return math.nan
    step = width / FISSURE_PX
    origin = right + _STRIP[0] * width * across + _STRIP[2] * width * down
    strip = _strip(image, origin, across, down, step)
    if strip is None:
        return math.nan
    to_strip = lambda points: np.column_stack([(points - origin) @ across, (points - origin) @ down]) / step  # noqa: E731
    lip_line = _lip_line(to_strip(xy[LIPS_INNER]))
    corners = to_strip(np.array([right, left]))
    heights = [_side_height(strip, lip_line, corners[k, 0], inwards) for k, inwards in ((0, 1.0), (1, -1.0))]
    return (heights[0] - heights[1]) * step


def _strip(image: np.ndarray, origin: np.ndarray, across: np.ndarray, down: np.ndarray, step: float) -> np.ndarray | None:
    """The upright grey strip of the mouth, (rows, columns) float32, smoothed; None where the frame cuts it."""
    size = (int((_STRIP[1] - _STRIP[0]) * FISSURE_PX), int((_STRIP[3] - _STRIP[2]) * FISSURE_PX))
    strip = _upright(image, origin, across, down, step, size)
    return None if strip is None else cv2.GaussianBlur(strip, (0, 0), FISSURE_SMOOTH)


def _lip_line(inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's lip line in strip pixels as (x, y) samples: midway between its inner upper and lower lip."""
    upper, lower = inner[:11], np.vstack([inner[10:], inner[:1]])
    xs = np.linspace(min(upper[:, 0].min(), lower[:, 0].min()), max(upper[:, 0].max(), lower[:, 0].max()), 32)
    middle = [np.interp(xs, *contour[np.argsort(contour[:, 0])].T) for contour in (upper, lower)]
    return xs, 0.5 * (middle[0] + middle[1])


def _side_height(strip: np.ndarray, lip_line: tuple[np.ndarray, np.ndarray], corner_x: float, inwards: float) -> float:
    """The median row of the darkest point in the band of columns inside one corner (NaN: none in the strip)."""
    rows, columns = strip.shape
    reach = FISSURE_SEARCH * FISSURE_PX
    found = []
    for fraction in np.linspace(*FISSURE_BAND, FISSURE_COLUMNS):
        x = corner_x + inwards * fraction * FISSURE_PX
        column = int(round(x))
        centre = float(np.interp(x, *lip_line))
        low, high = int(max(0, centre - reach)), int(min(rows, centre + reach + 1))
        if not 0 <= column < columns or high - low < 5:
            continue
        profile = strip[low:high, column]
        k = int(np.argmin(profile))
        found.append(low + k + _parabola(profile, k))
    return float(np.median(found)) if found else math.nan


def _parabola(profile: np.ndarray, k: int) -> float:
    """Sub-pixel offset of a minimum at k from the parabola through it and its neighbours (0 at an end)."""
    if not 0 < k < len(profile) - 1:
        return 0.0
    a, b, c = (float(v) for v in profile[k - 1 : k + 2])
    curvature = a - 2.0 * b + c
    return 0.5 * (a - c) / curvature if curvature > 0 else 0.0


def _upright(image: np.ndarray, origin: np.ndarray, across: np.ndarray, down: np.ndarray, step: float,
             size: tuple[int, int]) -> np.ndarray | None:
    """The grey patch (size[1], size[0]) float32 whose pixel (u, v) is image point origin + step (u across + v down).

    None where the patch reaches out of the image (a face cut by the frame's edge): nothing there to read.
    """
    span = np.array([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]]) @ np.array([across, down]) * step + origin
    x0, y0 = np.floor(span.min(0)).astype(int) - 4
    x1, y1 = np.ceil(span.max(0)).astype(int) + 4
    if x0 < 0 or y0 < 0 or x1 > image.shape[1] or y1 > image.shape[0]:
        return None
    region = np.ascontiguousarray(image[y0:y1, x0:x1])
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float32)
    if step > 1.0:
        grey = cv2.GaussianBlur(grey, (0, 0), 0.5 * step)
    start = origin - (x0, y0)
    to_region = np.array([[step * across[0], step * down[0], start[0]], [step * across[1], step * down[1], start[1]]])
    return cv2.warpAffine(grey, to_region, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
