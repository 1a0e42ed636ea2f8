"""How well one per-frame signal trace reproduces another: the maths of `dmask eval fidelity`.

A trace is a (F,) float64 array, one value per video frame, NaN where the
signal was not measured (no face found in that frame). Everything here is
pure numpy/scipy on such arrays, so it can be checked on synthetic traces
with known answers; dmask.evaluation.fidelity feeds it the signals measured on
the original and on the masked video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dmask.clinical.blinks import blinks
from dmask.report_folder import require

MIN_PAIRED_FRAMES = 3
COHERENCE_BAND_HZ = (0.5, 8.0)
SEGMENT_SECONDS = 2.0
MIN_SEGMENTS = 7
MIN_SEGMENT_FRAMES = 16
BLINK_TOLERANCE_FRAMES = 2


@dataclass(frozen=True)
class Agreement:
    """Frame-by-frame agreement of a read-back trace with its original, over frames valid in both.

    mae: mean absolute difference, in the signal's unit (includes any systematic offset).
    r: Pearson correlation; NaN with fewer than MIN_PAIRED_FRAMES frames or a constant trace.
    offset: mean(read_back - original), the systematic part of the difference.
    frames: how many frames both traces have.
    """

    mae: float
    r: float
    offset: float
    frames: int


def agreement(original: np.ndarray, read_back: np.ndarray) -> Agreement:
    """MAE, r and offset of any pair of equally long traces, ignoring frames where either is NaN."""
    valid = np.isfinite(original) & np.isfinite(read_back)
    a, b = original[valid], read_back[valid]
    if len(a) == 0:
        return Agreement(math.nan, math.nan, math.nan, 0)
    difference = b - a
    return Agreement(float(np.abs(difference).mean()), _pearson(a, b), float(difference.mean()), int(len(a)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """NaN rather than a warning where r is undefined (too few frames, or no variation)."""
    if len(a) < MIN_PAIRED_FRAMES or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


@dataclass(frozen=True)
class Coherence:
    """Magnitude-squared coherence of two traces over COHERENCE_BAND_HZ.

    band_mean: the plain mean over the band's frequency bins. Bins where the
        subject did not move hold only landmark noise on both sides, so this
        is a conservative figure.
    weighted: the mean weighted by the original trace's power spectral
        density: the coherence where the movement is.
    NaN (with note saying why) when the band cannot be measured.
    """

    band_mean: float
    weighted: float
    note: str = ""


def band_coherence(original: np.ndarray, read_back: np.ndarray, fs: float) -> Coherence:
    """Coherence between 0.5 and 8 Hz at frame rate fs; NaN frames are interpolated linearly first.

    Segments are SEGMENT_SECONDS long, or shorter for short clips so that at
    least MIN_SEGMENTS half-overlapping segments are averaged (one segment
    would give a coherence of 1 whatever the traces); shorter segments mean
    coarser frequency bins, down to fs / MIN_SEGMENT_FRAMES.
    """
    low, high = COHERENCE_BAND_HZ
    if fs < 2 * high:
        return Coherence(math.nan, math.nan, f"frame rate {fs:g} Hz is below {2 * high:g} Hz; the band needs it")
    a, b = fill_gaps(original), fill_gaps(read_back)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return Coherence(math.nan, math.nan, "a trace has no measured frame")
    segment = min(round(SEGMENT_SECONDS * fs), 2 * len(a) // (MIN_SEGMENTS + 1))
    if segment < MIN_SEGMENT_FRAMES:
        return Coherence(math.nan, math.nan, f"{len(a)} frames are too few for a coherence spectrum")
    signal = require("scipy.signal", "scipy")
    frequencies, coherence = signal.coherence(a, b, fs=fs, nperseg=segment)
    _, power = signal.welch(a, fs=fs, nperseg=segment)
    band = (frequencies >= low) & (frequencies <= high)
    if not band.any():
        return Coherence(math.nan, math.nan, f"no frequency bin of {segment}-frame segments falls in the band")
    weights = power[band]
    weighted = float(np.average(coherence[band], weights=weights)) if weights.sum() > 0 else math.nan
    return Coherence(float(coherence[band].mean()), weighted)


def fill_gaps(trace: np.ndarray) -> np.ndarray:
    """NaN frames replaced by linear interpolation between their neighbours (ends: the nearest value).

    An all-NaN trace stays all NaN.
    """
    valid = np.isfinite(trace)
    if valid.all() or not valid.any():
        return trace.copy()
    frames = np.arange(len(trace))
    return np.interp(frames, frames[valid], trace[valid])


def detect_blinks(aperture: np.ndarray) -> np.ndarray:
    """Frame indices (E,) int of blink onsets (the event's time: lids close fast and open slowly)."""
    return np.array([blink.onset for blink in blinks(aperture)], dtype=int)


@dataclass(frozen=True)
class EventMatch:
    """Original events matched one-to-one to read-back events; sums pool across eyes and videos.

    true_positives: original events with a read-back event within tolerance.
    false_positives: read-back events left unmatched.
    false_negatives: original events left unmatched.
    """

    true_positives: int
    false_positives: int
    false_negatives: int

    def __add__(self, other: EventMatch) -> EventMatch:
        return EventMatch(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )

    @property
    def original_events(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def read_back_events(self) -> int:
        return self.true_positives + self.false_positives

    @property
    def precision(self) -> float:
        """NaN when the read-back has no events (nothing to be right or wrong about)."""
        return self.true_positives / self.read_back_events if self.read_back_events else math.nan

    @property
    def recall(self) -> float:
        """NaN when the original has no events."""
        return self.true_positives / self.original_events if self.original_events else math.nan

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN); defined as 1.0 when neither trace has an event (both agree: no blink)."""
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / denominator if denominator else 1.0


def match_events(
    original: np.ndarray, read_back: np.ndarray, tolerance: int = BLINK_TOLERANCE_FRAMES
) -> EventMatch:
    """Greedy one-to-one matching of event frames: closest pairs first, at most tolerance frames apart."""
    distances = np.abs(original[:, None] - read_back[None, :])
    pairs = sorted(zip(*np.nonzero(distances <= tolerance)), key=lambda pair: distances[pair])
    used_original: set[int] = set()
    used_read_back: set[int] = set()
    for i, j in pairs:
        if i not in used_original and j not in used_read_back:
            used_original.add(i)
            used_read_back.add(j)
    matched = len(used_original)
    return EventMatch(matched, len(read_back) - matched, len(original) - matched)
