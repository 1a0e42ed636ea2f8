"""The comparison of `dmask eval fidelity`: each reader's traces of a video, against its own original.

Records of what was compared (SignalTraces, per reader and video), their
agreement (Fidelity, per video and pooled over videos), the figures the
issues set as targets, and the flat numbers of results.json and the CI
ratchet. The maths of agreement, coherence and blinks is in
dmask.evaluation.traces; the measuring in dmask.evaluation.fidelity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dmask.evaluation.readers import Signal
from dmask.clinical.blinks import eyes_open
from dmask.evaluation.traces import (
    Agreement,
    Coherence,
    EventMatch,
    agreement,
    band_coherence,
    detect_blinks,
    match_events,
)
from dmask.signals import SIDES


@dataclass(frozen=True)
class Target:
    """A figure from the issues that a reader's overall result should reach (where the reader measures it)."""

    key: str
    label: str
    threshold: float
    at_least: bool

    def met(self, value: float) -> bool:
        """A NaN figure meets no target."""
        return bool(value >= self.threshold if self.at_least else value <= self.threshold)

    @property
    def text(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.threshold:g}"


TARGETS: tuple[Target, ...] = (
    *(Target(f"{side}_gaze_yaw_r", f"{side} gaze yaw r", 0.95, True) for side in SIDES),
    *(Target(f"{side}_gaze_pitch_r", f"{side} gaze pitch r", 0.9, True) for side in SIDES),
    *(Target(f"{side}_aperture_r", f"{side} aperture r", 0.95, True) for side in SIDES),
    *(Target(f"{side}_aperture_mae", f"{side} aperture MAE (eye width)", 0.03, False) for side in SIDES),
    *(Target(f"{side}_blink_f1", f"{side} blink F1", 0.95, True) for side in SIDES),
    *(Target(f"head_{angle}_mae_deg", f"head {angle} MAE (deg)", 2.0, False) for angle in ("yaw", "pitch", "roll")),
    Target("mouth_opening_r", "mouth opening r", 0.95, True),
    *(Target(f"{side}_brow_height_r", f"{side} brow height r", 0.9, True) for side in SIDES),
    Target("masked_detection_rate", "masked-frame detection rate", 0.99, True),
    Target("gaze_coherence", "gaze coherence, band mean", 0.9, True),
    Target("gaze_coherence_weighted", "gaze coherence, power-weighted", 0.9, True),
)


@dataclass(frozen=True)
class SignalTraces:
    """Every signal one reader read in every frame, on both sides of the mask.

    reader: its name; signals: its signals, the columns below.
    seconds: (N,) float64 media time of each frame.
    original: (N, S) float64 in the signals' units, NaN where the reader
        found no face in the original frame.
    read_back: (N, S) float64, the same measured on the masked frame; NaN
        where the original had no face (excluded) or the masked frame had none
        (a detection miss).
    """

    reader: str
    signals: tuple[Signal, ...]
    seconds: np.ndarray
    original: np.ndarray
    read_back: np.ndarray

    @property
    def faces(self) -> int:
        """Frames where the original has a face: the frames compared."""
        return int(np.isfinite(self.original).any(1).sum())

    @property
    def read_back_faces(self) -> int:
        return int(np.isfinite(self.read_back).any(1).sum())

    def pair(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(original, read_back) (N,) traces of one signal."""
        index = self.index(name)
        return self.original[:, index], self.read_back[:, index]

    def index(self, name: str) -> int:
        return next(i for i, signal in enumerate(self.signals) if signal.name == name)

    def gaze_where_eyes_open(self) -> SignalTraces:
        """Gaze NaN on both sides wherever either eye is closed in the original (no iris to compare)."""
        gaze = [i for i, signal in enumerate(self.signals) if signal.gaze]
        if not gaze:
            return self
        closed = ~(eyes_open(self.pair("right_aperture")[0]) & eyes_open(self.pair("left_aperture")[0]))
        original, read_back = self.original.copy(), self.read_back.copy()
        original[np.ix_(closed, gaze)] = np.nan
        read_back[np.ix_(closed, gaze)] = np.nan
        return SignalTraces(self.reader, self.signals, self.seconds, original, read_back)

    @staticmethod
    def concatenate(traces: Sequence[SignalTraces]) -> SignalTraces:
        """All videos end to end, for figures pooled over frames (r, MAE)."""
        parts = ("seconds", "original", "read_back")
        first = traces[0]
        return SignalTraces(first.reader, first.signals, *(np.concatenate([getattr(t, part) for t in traces]) for part in parts))


@dataclass(frozen=True)
class SignalFidelity:
    """One signal's agreement; coherence only for gaze signals (None otherwise)."""

    signal: Signal
    agreement: Agreement
    coherence: Coherence | None


@dataclass(frozen=True)
class BlinkEvents:
    """One eye's blink event frames (E,) int on the original and on the masked video."""

    side: str
    original: np.ndarray
    read_back: np.ndarray

    @property
    def match(self) -> EventMatch:
        return match_events(self.original, self.read_back)


@dataclass(frozen=True)
class Fidelity:
    """One reader's comparison of one video, or of all videos pooled.

    faces: frames whose original has a face; read_back_faces: those of them
        where the masked frame has one too.
    blinks: one EventMatch per eye, SIDES' order.
    """

    reader: str
    faces: int
    read_back_faces: int
    signals: tuple[SignalFidelity, ...]
    blinks: tuple[EventMatch, ...]

    @property
    def detection_rate(self) -> float:
        """Masked frames with a face found / original frames with a face."""
        return self.read_back_faces / self.faces if self.faces else math.nan

    @property
    def blink_match(self) -> EventMatch:
        return sum(self.blinks, EventMatch(0, 0, 0))

    def signal(self, name: str) -> SignalFidelity:
        return next(item for item in self.signals if item.signal.name == name)

    def coherence(self, weighted: bool) -> float:
        """Mean over the gaze signals; NaN if any is unmeasurable."""
        values = [s.coherence.weighted if weighted else s.coherence.band_mean for s in self.signals if s.coherence]
        return float(np.mean(values)) if values else math.nan

    def numbers(self, frames: int) -> dict[str, Any]:
        """The pooled figures under flat keys (TARGETS' among them), e.g. right_gaze_yaw_r, head_yaw_mae_deg."""
        blinks = self.blink_match
        numbers: dict[str, Any] = {
            "frames": frames,
            "face_frames": self.faces,
            "masked_detection_rate": self.detection_rate,
            "blink_f1": blinks.f1,
            "blink_precision": blinks.precision,
            "blink_recall": blinks.recall,
            "blink_original_events": blinks.original_events,
            "blink_masked_events": blinks.read_back_events,
        }
        if any(item.coherence for item in self.signals):
            numbers |= {"gaze_coherence": self.coherence(False), "gaze_coherence_weighted": self.coherence(True)}
        numbers |= {f"{side}_blink_f1": match.f1 for side, match in zip(SIDES, self.blinks)}
        for item in self.signals:
            numbers |= {_overall_key(item.signal, name): value for name, value in signal_numbers(item).items()}
        return numbers


def _overall_key(signal: Signal, statistic: str) -> str:
    return f"{signal.name}_{statistic}" + ("_deg" if signal.unit == "deg" and statistic != "r" else "")


def signal_numbers(item: SignalFidelity) -> dict[str, float]:
    numbers = {"mae": item.agreement.mae, "r": item.agreement.r, "offset": item.agreement.offset}
    if item.coherence:
        numbers |= {"coherence": item.coherence.band_mean, "coherence_weighted": item.coherence.weighted}
    return numbers


def blink_numbers(match: EventMatch) -> dict[str, float]:
    return {"f1": match.f1, "precision": match.precision, "recall": match.recall,
            "original_events": match.original_events, "masked_events": match.read_back_events}


@dataclass(frozen=True)
class Reading:
    """One reader's traces of one video, its blink events per eye, and their comparison."""

    traces: SignalTraces
    blinks: tuple[BlinkEvents, ...]
    fidelity: Fidelity


@dataclass(frozen=True)
class VideoFidelity:
    """One video, per reader; frames counts every frame read, with a face or not."""

    name: str
    fps: float
    frames: int
    readings: tuple[Reading, ...]

    def numbers(self, reader: int) -> dict[str, Any]:
        fidelity = self.readings[reader].fidelity
        return {
            "frames": self.frames,
            "face_frames": fidelity.faces,
            "fps": self.fps,
            "masked_detection_rate": fidelity.detection_rate,
            "signals": {item.signal.name: signal_numbers(item) for item in fidelity.signals},
            "blinks": {side: blink_numbers(match) for side, match in zip(SIDES, fidelity.blinks)},
            "coherence_notes": sorted({s.coherence.note for s in fidelity.signals if s.coherence and s.coherence.note}),
        }


def reading(traces: SignalTraces, fps: float) -> Reading:
    """Compare one reader's traces of one video: every signal, gaze coherence at its frame rate, blinks per eye."""
    signals = tuple(
        SignalFidelity(s, agreement(*traces.pair(s.name)), band_coherence(*traces.pair(s.name), fps) if s.gaze else None)
        for s in traces.signals
    )
    blinks = tuple(
        BlinkEvents(side, *(detect_blinks(trace) for trace in traces.pair(f"{side}_aperture"))) for side in SIDES
    )
    fidelity = Fidelity(traces.reader, traces.faces, traces.read_back_faces, signals, tuple(b.match for b in blinks))
    return Reading(traces, blinks, fidelity)


def pooled(videos: Sequence[VideoFidelity], reader: int) -> Fidelity:
    """Frames pooled for r and MAE, counts summed for detection and blinks, coherence averaged over videos."""
    readings = [video.readings[reader] for video in videos]
    traces = SignalTraces.concatenate([r.traces for r in readings])
    signals = tuple(
        SignalFidelity(s, agreement(*traces.pair(s.name)), _mean_coherence(readings, index) if s.gaze else None)
        for index, s in enumerate(traces.signals)
    )
    blinks = tuple(sum((r.fidelity.blinks[i] for r in readings), EventMatch(0, 0, 0)) for i in range(len(SIDES)))
    return Fidelity(traces.reader, traces.faces, traces.read_back_faces, signals, blinks)


def _mean_coherence(readings: Sequence[Reading], index: int) -> Coherence:
    """Mean over the videos where it could be measured (a low frame rate leaves a video out)."""
    measured = [r.fidelity.signals[index].coherence for r in readings]
    band = [c.band_mean for c in measured if not math.isnan(c.band_mean)]
    weighted = [c.weighted for c in measured if not math.isnan(c.weighted)]
    if not band:
        return Coherence(math.nan, math.nan, "no video allowed a coherence measurement")
    return Coherence(float(np.mean(band)), float(np.mean(weighted)) if weighted else math.nan)


@dataclass(frozen=True)
class FidelityResult:
    """The evaluation of all videos: per video and pooled, per reader, and where the report went."""

    videos: tuple[VideoFidelity, ...]
    overall: tuple[Fidelity, ...]
    report: Path
    seconds: float

    def numbers(self) -> dict:
        """Every figure of the report, per reader, for results.json and the CI ratchet."""
        frames = sum(v.frames for v in self.videos)
        readers = {}
        for index, fidelity in enumerate(self.overall):
            overall = fidelity.numbers(frames)
            targets = {t.key: {"threshold": t.threshold, "at_least": t.at_least, "met": t.met(overall[t.key])}
                       for t in TARGETS if t.key in overall}
            readers[fidelity.reader] = {"targets": targets, "overall": overall,
                                        "videos": {v.name: v.numbers(index) for v in self.videos}}
        return {"fidelity": {"readers": readers, "seconds": self.seconds}}

    def lines(self) -> list[str]:
        """One line per video and reader, and one per reader and target."""
        readers = self.numbers()["fidelity"]["readers"]
        per_video = [_video_line(video, reading.fidelity) for video in self.videos for reading in video.readings]
        per_target = [
            f"{name}: {t.label}: {numbers['overall'][t.key]:.3f} (target {t.text}) "
            f"{'met' if t.met(numbers['overall'][t.key]) else 'NOT met'}"
            for name, numbers in readers.items() for t in TARGETS if t.key in numbers["targets"]
        ]
        return per_video + per_target


def _video_line(video: VideoFidelity, fidelity: Fidelity) -> str:
    apertures = " ".join(f"{side[0].upper()} {fidelity.signal(f'{side}_aperture').agreement.r:.2f}" for side in SIDES)
    return (
        f"{video.name} ({fidelity.reader}): {fidelity.faces}/{video.frames} frames with a face, masked detection "
        f"{fidelity.detection_rate:.1%}, aperture r {apertures}, blink F1 {fidelity.blink_match.f1:.2f}"
    )
