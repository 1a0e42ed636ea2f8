"""Blinks in a lid-aperture trace: the one rule `dmask report` counts them by and `dmask eval` compares them with.

A trace is a (F,) float64 array of one eye's lid aperture, one value per
frame, NaN where it was not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dmask.measure.clinical import BLINK_CLOSED_FRACTION, BLINK_COMPLETE_FRACTION, BLINK_REOPEN_FRACTION

BLINK_OPEN_PERCENTILE = 90.0


def open_level(aperture: np.ndarray) -> float:
    """The trace's open-eye aperture: its BLINK_OPEN_PERCENTILE percentile (NaN if never measured)."""
    return float(np.nanpercentile(aperture, BLINK_OPEN_PERCENTILE)) if np.isfinite(aperture).any() else math.nan


def eyes_open(aperture: np.ndarray) -> np.ndarray:
    """(F,) bool: frames where the lid is not closed by detect_blinks' rule (NaN frames are not open)."""
    return np.nan_to_num(aperture, nan=-np.inf) >= BLINK_CLOSED_FRACTION * open_level(aperture)


@dataclass(frozen=True)
class Blink:
    """One blink in a lid-aperture trace: frames [onset, end), and how far the lid closed.

    depth: the smallest aperture during the blink over the trace's open level
    (0 = shut). complete: depth below BLINK_COMPLETE_FRACTION.
    """

    onset: int
    end: int
    depth: float

    @property
    def complete(self) -> bool:
        return self.depth < BLINK_COMPLETE_FRACTION


def blinks(aperture: np.ndarray) -> list[Blink]:
    """The blinks of a lid-aperture trace, in order.

    A blink starts where the aperture falls below BLINK_CLOSED_FRACTION of
    the trace's open level and lasts until it rises above
    BLINK_REOPEN_FRACTION of it: the gap between the two thresholds
    (hysteresis) keeps a lid that flutters around one threshold from counting
    as many blinks. NaN frames count as open. Relative to each trace's own
    open level, so a drawn eye that is uniformly narrower or wider still
    blinks where the original does. A blink still closed at the end of the
    trace ends there.
    """
    level = open_level(aperture)
    if math.isnan(level):
        return []
    values = np.nan_to_num(aperture, nan=np.inf)
    found, onset = [], None
    for frame, value in enumerate(values):
        if onset is None and value < BLINK_CLOSED_FRACTION * level:
            onset = frame
        elif onset is not None and value > BLINK_REOPEN_FRACTION * level:
            found.append(Blink(onset, frame, float(values[onset:frame].min() / level)))
            onset = None
    if onset is not None:
        found.append(Blink(onset, len(values), float(values[onset:].min() / level)))
    return found
