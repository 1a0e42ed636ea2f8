"""The clinical summary of a recording, from its signals alone: one typed record.

Reads the signal schema's per-frame records (dmask.signals) as
dmask.clinical.recording puts them on the source's frame grid; it never reads
or shows a pixel. Per eye: blink rate, duration and completeness; the range of
gaze; the dominant frequency and amplitude of any oscillation (nystagmus) both
eyes share (dmask.clinical.oscillation); lid heights in mm, or that they were
withheld as within normal limits. Between the eyes: the deviation over time.
Per side: brow and mouth-corner heights and every action unit's asymmetry.
`dmask report` (dmask.clinical.report), the PDF and the SR (dmask.export) all
read this record, so each figure is computed in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Generic, TypeVar

import numpy as np

from dmask.clinical.blinks import blinks, open_level
from dmask.clinical.oscillation import Oscillation, find_oscillation
from dmask.clinical.recording import Recording
from dmask.measure.action_units import ACTION_UNITS
from dmask.signals import SIDES

T = TypeVar("T")
LID_LEVELS = ("mrd1", "mrd2", "fissure")


@dataclass(frozen=True)
class Sides(Generic[T]):
    """One value per side of the subject (right, left)."""

    right: T
    left: T

    def of(self, side: str) -> T:
        return getattr(self, side)


@dataclass(frozen=True)
class Lids(Generic[T]):
    """One value per lid level: MRD1, MRD2 and the palpebral fissure."""

    mrd1: T
    mrd2: T
    fissure: T

    def of(self, name: str) -> T:
        return getattr(self, name)


@dataclass(frozen=True)
class BlinkSummary:
    """One eye's blinks: how many, per minute, median duration (ms), the share complete (0..1), onsets (s)."""

    count: int
    per_minute: float
    median_duration_ms: float
    complete_fraction: float
    onsets_s: tuple[float, ...]


@dataclass(frozen=True)
class Beat:
    """An oscillation as one eye shows it: frequency (Hz; NaN: none) and amplitude peak to peak (deg)."""

    frequency_hz: float
    amplitude_deg: float


@dataclass(frozen=True)
class Covers:
    """How often and how long an eye was hidden (a cover test's covers)."""

    episodes: int
    seconds: float


@dataclass(frozen=True)
class EyeSummary:
    """One eye. Ranges are 5th to 95th percentiles (deg); gaze_at_limit_fraction: of the frames it was seen.

    lids_within_normal: the level was withheld (its resting level within
    normal limits in most frames), so lids_mm holds no value for it.
    """

    blinks: BlinkSummary
    gaze_yaw_range_deg: tuple[float, float]
    gaze_pitch_range_deg: tuple[float, float]
    gaze_at_limit_fraction: float
    oscillation_yaw: Beat
    oscillation_pitch: Beat
    lids_mm: Lids[float]
    lids_within_normal: Lids[bool]
    covered: Covers


@dataclass(frozen=True)
class AxisDeviation:
    """The deviation between the eyes on one axis, right minus left: median (deg, PD) and its 5-95 % range (PD)."""

    median_deg: float
    median_pd: float
    range_pd: tuple[float, float]


@dataclass(frozen=True)
class HorizontalDeviation(AxisDeviation):
    """The horizontal one, with the median vergence (PD) and the fixation distance it was taken at (mm; NaN: none)."""

    vergence_median_pd: float
    fixation_distance_mm: float


@dataclass(frozen=True)
class Deviation:
    horizontal: HorizontalDeviation
    vertical: AxisDeviation


@dataclass(frozen=True)
class Oscillations:
    """The gaze oscillation both eyes share, per axis (dmask.clinical.oscillation)."""

    horizontal: Oscillation
    vertical: Oscillation


@dataclass(frozen=True)
class UnitSummary:
    """One action unit: how far each side moved above its rest (95th percentile), and the median asymmetry while moving."""

    facs: int
    right: float
    left: float
    asymmetry: float


@dataclass(frozen=True)
class FaceSummary:
    """Heights above the population's resting face (median, mm) and every action unit, by name."""

    brow_height_mm: Sides[float]
    mouth_corner_height_mm: Sides[float]
    action_units: dict[str, UnitSummary]


@dataclass(frozen=True)
class ClinicalSummary:
    """Every figure of one recording's clinical summary (results.json's `clinical_summary` entries: `numbers`)."""

    recording: str
    frames: int
    frames_with_face: int
    dropped_frames: int
    seconds: float
    fps: float
    eyes: Sides[EyeSummary]
    deviation: Deviation
    oscillation: Oscillations
    lid_asymmetry_mm: Lids[float]
    face: FaceSummary

    def numbers(self) -> dict:
        return asdict(self)


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else math.nan


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(np.percentile(finite, 5)), float(np.percentile(finite, 95))) if len(finite) else (math.nan,) * 2


def blink_summary(recording: Recording, side: str) -> BlinkSummary:
    """Rate per minute, durations and completeness of one eye's blinks."""
    found = blinks(recording[f"{side}_aperture"])
    minutes = (recording.seconds[-1] - recording.seconds[0]) / 60.0 if len(recording.seconds) > 1 else math.nan
    durations = [1000.0 * (recording.seconds[min(b.end, len(recording.seconds) - 1)] - recording.seconds[b.onset])
                 for b in found]
    return BlinkSummary(
        count=len(found),
        per_minute=len(found) / minutes if minutes and minutes > 0 else math.nan,
        median_duration_ms=float(np.median(durations)) if durations else math.nan,
        complete_fraction=float(np.mean([b.complete for b in found])) if found else math.nan,
        onsets_s=tuple(float(recording.seconds[b.onset] - recording.seconds[0]) for b in found),
    )


def cover_summary(recording: Recording, side: str) -> Covers:
    """How often and how long that eye was hidden: episodes and seconds."""
    hidden = np.nan_to_num(recording[f"{side}_occluded"]) > 0.5
    episodes = int(np.count_nonzero(hidden[1:] & ~hidden[:-1]) + (hidden[0] if len(hidden) else 0))
    return Covers(episodes, float(hidden.sum() / recording.fps) if recording.fps > 0 else math.nan)


def _eye(recording: Recording, side: str, oscillations: Oscillations) -> EyeSummary:
    open_ = recording[f"{side}_aperture"] > 0.6 * open_level(recording[f"{side}_aperture"])
    lids = Lids(*(_median(np.where(open_, recording[f"{side}_{name}_mm"], np.nan)) for name in LID_LEVELS))
    mrd1, mrd2 = (_mean(recording[f"{side}_{name}_normal"]) >= 0.5 for name in ("mrd1", "mrd2"))
    within = Lids(mrd1, mrd2, mrd1 or mrd2)
    return EyeSummary(
        blinks=blink_summary(recording, side),
        gaze_yaw_range_deg=_range(recording[f"{side}_gaze_yaw_deg"]),
        gaze_pitch_range_deg=_range(recording[f"{side}_gaze_pitch_deg"]),
        gaze_at_limit_fraction=_mean(recording[f"{side}_gaze_at_limit"]),
        oscillation_yaw=Beat(oscillations.horizontal.frequency_hz, getattr(oscillations.horizontal, f"{side}_deg")),
        oscillation_pitch=Beat(oscillations.vertical.frequency_hz, getattr(oscillations.vertical, f"{side}_deg")),
        lids_mm=lids,
        # withheld: no level measured, and the resting level within normal limits in most frames
        lids_within_normal=Lids(*(bool(not math.isfinite(lids.of(n)) and within.of(n)) for n in LID_LEVELS)),
        covered=cover_summary(recording, side),
    )


def _face(recording: Recording) -> FaceSummary:
    return FaceSummary(
        brow_height_mm=Sides(*(_median(recording[f"{side}_brow_height_mm"]) for side in SIDES)),
        mouth_corner_height_mm=Sides(*(_median(recording[f"{side}_mouth_corner_height_mm"]) for side in SIDES)),
        action_units={unit.name: UnitSummary(
            unit.facs,
            _range(recording[f"au_right_{unit.name}"])[1],  # how far the side moved, above its rest
            _range(recording[f"au_left_{unit.name}"])[1],
            _median(recording[f"asym_{unit.name}"]),  # where either side moved
        ) for unit in ACTION_UNITS},
    )


def _axis(recording: Recording, axis: str) -> tuple[float, float, tuple[float, float]]:
    """AxisDeviation's fields, in order: the medians (deg, PD) and the 5-95 % range (PD)."""
    return (_median(recording[f"{axis}_deviation_deg"]), _median(recording[f"{axis}_deviation_pd"]),
            _range(recording[f"{axis}_deviation_pd"]))


def summarise(recording: Recording) -> ClinicalSummary:
    """Every figure of the clinical summary of one recording."""
    oscillations = Oscillations(*(find_oscillation(recording[f"right_gaze_{axis}_deg"], recording[f"left_gaze_{axis}_deg"],
                                                   recording.fps) for axis in ("yaw", "pitch")))
    eyes = Sides(*(_eye(recording, side, oscillations) for side in SIDES))
    deviation = Deviation(
        HorizontalDeviation(*_axis(recording, "horizontal"), _median(recording["horizontal_vergence_pd"]),
                            _median(recording["fixation_distance_mm"])),
        AxisDeviation(*_axis(recording, "vertical")),
    )
    return ClinicalSummary(
        recording=recording.name,
        frames=len(recording.seconds),
        frames_with_face=int(np.isfinite(recording["head_yaw_deg"]).sum()),
        dropped_frames=recording.dropped,
        seconds=float(recording.seconds[-1] - recording.seconds[0]),
        fps=recording.fps,
        eyes=eyes,
        deviation=deviation,
        oscillation=oscillations,
        lid_asymmetry_mm=Lids(*(eyes.right.lids_mm.of(n) - eyes.left.lids_mm.of(n) for n in LID_LEVELS)),
        face=_face(recording),
    )
