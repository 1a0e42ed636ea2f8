"""Geometry more than one stage must compute the same way.

The lid aperture is defined once here because the fit measures it on the
landmarks and the renderer draws the avatar's lids to it: two formulas would
let a measured droop come back drawn at another size. The box overlaps are
here so the detector's NMS and the tracker's duplicate test share one
intersection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dmask.measure.mesh_index import INNER_CORNER, LOWER_MIDDLE, OUTER_CORNER, UPPER_MIDDLE


@dataclass(frozen=True)
class EyeLine:
    """An eye's corner-to-corner line, of 2D or 3D points.

    middle: midpoint of the corners; width: corner-to-corner distance;
    down: the unit corner-to-corner direction turned 90 degrees in the x-y
    plane (z 0), towards +y: the direction in which lid heights are measured.
    """

    middle: np.ndarray
    width: float
    down: np.ndarray

    @staticmethod
    def of(contour: np.ndarray) -> "EyeLine":
        """The line through a lid contour's corners (iris-model order)."""
        outer, inner = contour[OUTER_CORNER], contour[INNER_CORNER]
        width = max(float(np.linalg.norm(inner - outer)), 1e-6)
        along = (inner - outer) / width
        down = np.zeros_like(along)
        down[:2] = -along[1], along[0]
        if down[1] < 0:
            down = -down
        return EyeLine(0.5 * (outer + inner), width, down)

    def below(self, points: np.ndarray) -> np.ndarray:
        """How far each point lies below the line (negative above), same units as the points."""
        return (points - self.middle) @ self.down

    def apertures(self, contour: np.ndarray) -> tuple[float, float]:
        """(upper, lower) lid apertures of the contour: its lid middles' distance from the line over width.

        The definition of EyeParams.upper_aperture and lower_aperture (uncrossed).
        """
        upper = float(-self.below(contour[UPPER_MIDDLE]).mean()) / self.width
        lower = float(self.below(contour[LOWER_MIDDLE]).mean()) / self.width
        return uncrossed(upper, lower)


def uncrossed(upper: float, lower: float) -> tuple[float, float]:
    """(upper, lower) lid apertures that do not cross: the opening, their sum, is never negative.

    Where a landmark model puts the upper margin below the lower (a shut eye
    read with noise), both are placed where they meet, midway.
    """
    if upper + lower >= 0.0:
        return upper, lower
    meet = 0.5 * (lower - upper)  # the meeting point below the corner line
    return -meet, meet


def face_axes(right_outer: np.ndarray, left_outer: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(across, down, span) of a face in the image from its outer eye corners (2,) each.

    across: the unit direction from the right corner to the left; down: it
    turned 90 degrees towards the chin (the face's vertical, along which
    heights and droops are measured); span: the corners' distance.
    """
    across = np.asarray(left_outer, np.float64) - np.asarray(right_outer, np.float64)
    span = max(float(np.linalg.norm(across)), 1e-6)
    across = across / span
    return across, np.array([-across[1], across[0]]), span


def iris_diameter(iris: np.ndarray) -> float:
    """The visible iris's diameter from the iris model's (5, 2+) points: the mean of its two diameters."""
    return 0.5 * float(np.linalg.norm(iris[1] - iris[3]) + np.linalg.norm(iris[2] - iris[4]))


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of (..., 4) boxes given as x0, y0, x1, y1."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _intersection(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Area that one (4,) box shares with each of (..., 4) boxes."""
    x0 = np.maximum(box[0], boxes[..., 0])
    y0 = np.maximum(box[1], boxes[..., 1])
    x1 = np.minimum(box[2], boxes[..., 2])
    y1 = np.minimum(box[3], boxes[..., 3])
    return np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with each of (..., 4) boxes: the NMS's measure."""
    inter = _intersection(box, boxes)
    return inter / np.maximum(box_area(box) + box_area(boxes) - inter, 1e-9)


def box_overlap_of_smaller(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box: 1.0 for a box inside another (a face found twice, once in part)."""
    return _intersection(box, boxes) / np.maximum(np.minimum(box_area(box), box_area(boxes)), 1e-9)
