"""`dmask eval fidelity`: do the signs a clinician reads survive the drawing?

Each video is masked by a MaskPipeline with the configured identity policy.
Two more pipelines (same models, RestingPolicy.OWN so that they measure and
hide nothing) measure the camera frames (the original signal, the
truth a clinician would see in the raw video) and the masked frames as if
they were camera frames (the read-back signal, what a viewer of the mask can
see). Comparing them frame by frame measures what a clinician sees on screen,
including what the identity policy changed, not the parameters the renderer
was given. Gaze is compared only where both eyes are open in the original:
behind a closed lid there is no iris to see. The maths of the comparison is
in edge.evaluation.traces.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge.clinical import BLINK_CLOSED_FRACTION, BLINK_REOPEN_FRACTION
from edge.config import Config
from edge.errors import EvaluationError
from edge.evaluation.report import Report, pyplot, require_eval_extra, thumbnail
from edge.evaluation.traces import (
    BLINK_OPEN_PERCENTILE,
    BLINK_TOLERANCE_FRAMES,
    COHERENCE_BAND_HZ,
    Agreement,
    Coherence,
    EventMatch,
    agreement,
    band_coherence,
    detect_blinks,
    eyes_open,
    match_events,
)
from edge.fit import RestingPolicy
from edge.media import VideoReader, check_decodable, require_video
from edge.models import ModelSet
from edge.pipeline import MaskPipeline
from edge.records import Frame, FrameStatus, MaskedFrame, MaskParams
from edge.signals import FACE_FIELDS, face_record

SIDES = ("right", "left")
GAZE_AXES = ("yaw", "pitch")
CONTACT_SHEET_PAIRS = 6
UNKNOWN_LENGTH_SECONDS = 10.0  # where to spread contact-sheet samples when the container does not say its length


@dataclass(frozen=True)
class Signal:
    """One clinical signal: a field of the signal schema (edge.signals) under a short name.

    gaze: also compared by coherence, and its offset is the drawn eye's bias.
    """

    name: str
    field: str
    gaze: bool = False

    @property
    def unit(self) -> str:
        return SCHEMA_UNITS[self.field]


SCHEMA_UNITS = {field.name: field.unit for field in FACE_FIELDS}
SIGNALS: tuple[Signal, ...] = (
    *(Signal(f"{side}_gaze_{axis}", f"{side}_gaze_{axis}_deg", gaze=True) for side in ("right", "left") for axis in ("yaw", "pitch")),
    Signal("right_aperture", "right_aperture"),
    Signal("left_aperture", "left_aperture"),
    Signal("right_mrd1", "right_mrd1_mm"),
    Signal("left_mrd1", "left_mrd1_mm"),
    Signal("head_yaw", "head_yaw_deg"),
    Signal("head_pitch", "head_pitch_deg"),
    Signal("head_roll", "head_roll_deg"),
    Signal("right_jaw_drop", "au_right_jaw_drop"),
    Signal("left_jaw_drop", "au_left_jaw_drop"),
    Signal("right_inner_brow_raise", "au_right_inner_brow_raise"),
    Signal("left_inner_brow_raise", "au_left_inner_brow_raise"),
    Signal("right_lip_corner_pull", "au_right_lip_corner_pull"),
    Signal("left_lip_corner_pull", "au_left_lip_corner_pull"),
)
SIGNAL_INDEX = {signal.name: index for index, signal in enumerate(SIGNALS)}
# A signal measured on every frame with a face (gaze is not, behind closed lids).
PRESENCE = SIGNAL_INDEX["head_yaw"]


def signal_values(face: MaskParams) -> np.ndarray:
    """(S,) float64 in SIGNALS' order, in the schema's units."""
    record = face_record(face)
    return np.array([np.nan if record[s.field] is None else record[s.field] for s in SIGNALS], dtype=np.float64)


def _first_face_values(masked: MaskedFrame) -> np.ndarray:
    """The first face's signals, or NaN: a held neutral avatar (status no_face) is not a measured face."""
    if masked.status is not FrameStatus.OK or not masked.faces:
        return np.full(len(SIGNALS), np.nan)
    return signal_values(masked.faces[0])


@dataclass(frozen=True)
class Target:
    """A figure from the issue that the overall result should reach."""

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
    *(Target(f"{side}_gaze_{axis}_r", f"{side} gaze {axis} r", 0.95, True) for side in SIDES for axis in GAZE_AXES),
    *(Target(f"{side}_aperture_mae", f"{side} aperture MAE (eye width)", 0.03, False) for side in SIDES),
    Target("blink_f1", "blink F1", 0.95, True),
    *(Target(f"head_{angle}_mae_deg", f"head {angle} MAE (deg)", 2.0, False) for angle in ("yaw", "pitch", "roll")),
    Target("masked_detection_rate", "masked-frame detection rate", 0.99, True),
    Target("gaze_coherence", "gaze coherence, band mean", 0.9, True),
    Target("gaze_coherence_weighted", "gaze coherence, power-weighted", 0.9, True),
)


@dataclass(frozen=True)
class SignalTraces:
    """Every signal of every frame read, on both sides of the mask.

    seconds: (N,) float64 media time of each frame.
    original: (N, S) float64, SIGNALS' order and units, NaN where the
        original frame had no face.
    read_back: (N, S) float64, the same measured on the masked frame; NaN
        where the original had no face (excluded) or the masked frame had none
        (a detection miss).
    """

    seconds: np.ndarray
    original: np.ndarray
    read_back: np.ndarray

    @property
    def faces(self) -> int:
        """Frames where the original has a face: the frames compared."""
        return int(np.isfinite(self.original[:, PRESENCE]).sum())

    @property
    def read_back_faces(self) -> int:
        return int(np.isfinite(self.read_back[:, PRESENCE]).sum())

    def pair(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(original, read_back) (N,) traces of one signal."""
        index = SIGNAL_INDEX[name]
        return self.original[:, index], self.read_back[:, index]

    def gaze_where_eyes_open(self) -> SignalTraces:
        """Gaze NaN on both sides wherever either eye is closed in the original (no iris to compare)."""
        closed = ~(eyes_open(self.pair("right_aperture")[0]) & eyes_open(self.pair("left_aperture")[0]))
        gaze = [SIGNAL_INDEX[signal.name] for signal in SIGNALS if signal.gaze]
        original, read_back = self.original.copy(), self.read_back.copy()
        original[np.ix_(closed, gaze)] = np.nan
        read_back[np.ix_(closed, gaze)] = np.nan
        return SignalTraces(self.seconds, original, read_back)

    @staticmethod
    def concatenate(traces: Sequence[SignalTraces]) -> SignalTraces:
        """All videos end to end, for figures pooled over frames (r, MAE)."""
        parts = ("seconds", "original", "read_back")
        return SignalTraces(*(np.concatenate([getattr(t, part) for t in traces]) for part in parts))


@dataclass(frozen=True)
class VideoMeasurement:
    """What was measured on one video, plus a few (original, masked) BGR frame pairs for the contact sheet."""

    name: str
    fps: float
    traces: SignalTraces
    samples: tuple[tuple[np.ndarray, np.ndarray], ...]


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
    """The comparison of one video, or of all videos pooled.

    faces: frames whose original has a face; read_back_faces: those of them
        where the masked frame has one too.
    blinks: one EventMatch per eye, SIDES' order.
    """

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

    def coherence(self, weighted: bool) -> float:
        """Mean over the gaze signals; NaN if any is unmeasurable."""
        values = [s.coherence.weighted if weighted else s.coherence.band_mean for s in self.signals if s.coherence]
        return float(np.mean(values)) if values else math.nan


@dataclass(frozen=True)
class VideoFidelity:
    """One video's traces and their comparison; frames counts every frame read, with a face or not."""

    name: str
    fps: float
    frames: int
    traces: SignalTraces
    blinks: tuple[BlinkEvents, ...]
    fidelity: Fidelity


def _video_fidelity(measurement: VideoMeasurement) -> VideoFidelity:
    """Compare one video's traces: every signal, gaze coherence at its frame rate, blinks per eye."""
    traces = measurement.traces
    signals = tuple(
        SignalFidelity(
            signal,
            agreement(*traces.pair(signal.name)),
            band_coherence(*traces.pair(signal.name), measurement.fps) if signal.gaze else None,
        )
        for signal in SIGNALS
    )
    blinks = tuple(
        BlinkEvents(side, *(detect_blinks(trace) for trace in traces.pair(f"{side}_aperture"))) for side in SIDES
    )
    fidelity = Fidelity(traces.faces, traces.read_back_faces, signals, tuple(b.match for b in blinks))
    return VideoFidelity(measurement.name, measurement.fps, len(traces.seconds), traces, blinks, fidelity)


def _pooled(videos: Sequence[VideoFidelity]) -> Fidelity:
    """Frames pooled for r and MAE, counts summed for detection and blinks, coherence averaged over videos."""
    traces = SignalTraces.concatenate([v.traces for v in videos])
    signals = tuple(
        SignalFidelity(
            signal, agreement(*traces.pair(signal.name)), _mean_coherence(videos, index) if signal.gaze else None
        )
        for index, signal in enumerate(SIGNALS)
    )
    blinks = tuple(sum((v.fidelity.blinks[i] for v in videos), EventMatch(0, 0, 0)) for i in range(len(SIDES)))
    return Fidelity(traces.faces, traces.read_back_faces, signals, blinks)


def _mean_coherence(videos: Sequence[VideoFidelity], index: int) -> Coherence:
    """Mean over the videos where it could be measured (a low frame rate leaves a video out)."""
    measured = [v.fidelity.signals[index].coherence for v in videos]
    band = [c.band_mean for c in measured if not math.isnan(c.band_mean)]
    weighted = [c.weighted for c in measured if not math.isnan(c.weighted)]
    if not band:
        return Coherence(math.nan, math.nan, "no video allowed a coherence measurement")
    return Coherence(float(np.mean(band)), float(np.mean(weighted)) if weighted else math.nan)


@dataclass(frozen=True)
class FidelityResult:
    """The evaluation of all videos: per video, pooled, and where the report went."""

    videos: tuple[VideoFidelity, ...]
    overall: Fidelity
    report: Path
    seconds: float

    def numbers(self) -> dict:
        """Every figure of the report, for results.json and the CI ratchet."""
        overall = _overall_numbers(self.overall, sum(v.frames for v in self.videos))
        targets = {
            t.key: {"threshold": t.threshold, "at_least": t.at_least, "met": t.met(overall[t.key])} for t in TARGETS
        }
        return {
            "fidelity": {
                "targets": targets,
                "overall": overall,
                "videos": {v.name: _video_numbers(v) for v in self.videos},
                "seconds": self.seconds,
            }
        }

    def lines(self) -> list[str]:
        """One line per video and one per target."""
        overall = self.numbers()["fidelity"]["overall"]
        per_video = [_video_line(v) for v in self.videos]
        per_target = [
            f"{t.label}: {overall[t.key]:.3f} (target {t.text}) {'met' if t.met(overall[t.key]) else 'NOT met'}"
            for t in TARGETS
        ]
        return per_video + per_target


def _video_line(video: VideoFidelity) -> str:
    fidelity = video.fidelity
    gaze_r = " ".join(f"{side[0].upper()} {_signal(fidelity, f'{side}_gaze_yaw').agreement.r:.2f}" for side in SIDES)
    return (
        f"{video.name}: {fidelity.faces}/{video.frames} frames with a face, masked detection "
        f"{fidelity.detection_rate:.1%}, gaze yaw r {gaze_r}, blink F1 {fidelity.blink_match.f1:.2f}"
    )


def _signal(fidelity: Fidelity, name: str) -> SignalFidelity:
    return fidelity.signals[SIGNAL_INDEX[name]]


def _overall_key(signal: Signal, statistic: str) -> str:
    """Flat key of a pooled figure, e.g. right_gaze_yaw_r, head_yaw_mae_deg."""
    return f"{signal.name}_{statistic}" + ("_deg" if signal.unit == "deg" and statistic != "r" else "")


def _overall_numbers(fidelity: Fidelity, frames: int) -> dict[str, Any]:
    blinks = fidelity.blink_match
    numbers: dict[str, Any] = {
        "frames": frames,
        "face_frames": fidelity.faces,
        "masked_detection_rate": fidelity.detection_rate,
        "blink_f1": blinks.f1,
        "blink_precision": blinks.precision,
        "blink_recall": blinks.recall,
        "blink_original_events": blinks.original_events,
        "blink_masked_events": blinks.read_back_events,
        "gaze_coherence": fidelity.coherence(weighted=False),
        "gaze_coherence_weighted": fidelity.coherence(weighted=True),
    }
    numbers |= {f"{side}_blink_f1": match.f1 for side, match in zip(SIDES, fidelity.blinks)}
    for item in fidelity.signals:
        numbers |= {_overall_key(item.signal, name): value for name, value in _signal_numbers(item).items()}
    return numbers


def _signal_numbers(item: SignalFidelity) -> dict[str, float]:
    numbers = {"mae": item.agreement.mae, "r": item.agreement.r, "offset": item.agreement.offset}
    if item.coherence:
        numbers |= {"coherence": item.coherence.band_mean, "coherence_weighted": item.coherence.weighted}
    return numbers


def _blink_numbers(match: EventMatch) -> dict[str, float]:
    return {
        "f1": match.f1,
        "precision": match.precision,
        "recall": match.recall,
        "original_events": match.original_events,
        "masked_events": match.read_back_events,
    }


def _video_numbers(video: VideoFidelity) -> dict[str, Any]:
    fidelity = video.fidelity
    return {
        "frames": video.frames,
        "face_frames": fidelity.faces,
        "fps": video.fps,
        "masked_detection_rate": fidelity.detection_rate,
        "signals": {item.signal.name: _signal_numbers(item) for item in fidelity.signals},
        "blinks": {side: _blink_numbers(match) for side, match in zip(SIDES, fidelity.blinks)},
        "coherence_notes": sorted({s.coherence.note for s in fidelity.signals if s.coherence and s.coherence.note}),
    }


def evaluate_fidelity(
    videos: Sequence[Path], out_dir: Path, config: Config, *, max_frames: int | None = None, progress: bool = True
) -> FidelityResult:
    """Measure every video on both sides of the mask, compare, and write the report folder."""
    started = time.perf_counter()
    videos = [Path(video) for video in videos]
    for video in videos:
        require_video(video)
        check_decodable(video)
    require_eval_extra()
    models = ModelSet.load(config)
    report = Report(out_dir, "Clinical fidelity evaluation")
    samples_each = math.ceil(CONTACT_SHEET_PAIRS / max(1, len(videos)))
    measurements = [_measure(video, models, config, max_frames, progress, samples_each) for video in videos]
    per_video = tuple(_video_fidelity(m) for m in measurements)
    overall = _pooled(per_video)
    result = FidelityResult(per_video, overall, report.directory / "report.md", time.perf_counter() - started)
    samples = [pair for m in measurements for pair in m.samples][:CONTACT_SHEET_PAIRS]
    _write_report(report, result, samples)
    report.write(result.numbers())
    return result


def _measure(
    video: Path, models: ModelSet, config: Config, max_frames: int | None, progress: bool, sample_count: int
) -> VideoMeasurement:
    """One video through the masking pipeline, and both sides of it through measuring pipelines."""
    masker = MaskPipeline(config, models=models)
    measurer = MaskPipeline(config, models=models, resting=RestingPolicy.OWN)
    viewer = MaskPipeline(config, models=models, resting=RestingPolicy.OWN)
    with VideoReader(video) as reader:
        expected = min((n for n in (reader.frame_count, max_frames) if n), default=0)
        sample_seqs = _sample_seqs(expected or round(UNKNOWN_LENGTH_SECONDS * reader.fps), sample_count)
        with tqdm(islice(reader, max_frames), total=expected or None, desc=video.name, unit="frame",
                  file=sys.stderr, leave=False, disable=None if progress else True) as frames:
            traces, samples = _measure_frames(frames, masker, measurer, viewer, sample_seqs)
        fps = reader.fps
    if traces.faces == 0:
        raise EvaluationError(f"{video}: no face found in any frame; fidelity needs a visible face")
    return VideoMeasurement(video.name, fps, traces.gaze_where_eyes_open(), samples)


def _measure_frames(
    frames: Iterable[Frame], masker: MaskPipeline, measurer: MaskPipeline, viewer: MaskPipeline, sample_seqs: set[int]
) -> tuple[SignalTraces, tuple[tuple[np.ndarray, np.ndarray], ...]]:
    """Mask each frame; measure the camera frame and, as a camera frame, the masked one; keep both first faces.

    Every masked frame goes to the viewer, faces or not, so that its tracker
    sees the stream a person watching the mask would; copies of the frames in
    sample_seqs are kept, as thumbnails, for the contact sheet.
    """
    seconds, original, read_back, samples = [], [], [], []
    for frame in frames:
        masked = masker.process(frame)
        seen = viewer.process(Frame(masked.image, frame.seq, frame.timestamp, frame.source_id))
        seconds.append(frame.timestamp)
        original.append(_first_face_values(measurer.process(frame)))
        read_back.append(_first_face_values(seen))
        if frame.seq in sample_seqs:
            samples.append((thumbnail(frame.image), thumbnail(masked.image)))
    shape = (len(seconds), len(SIGNALS))
    traces = _traces(np.array(seconds), np.reshape(original, shape), np.reshape(read_back, shape))
    return traces, tuple(samples)


def _sample_seqs(frames: int, samples: int) -> set[int]:
    """Frame numbers spread evenly inside a video of this many frames (ends excluded: often fades)."""
    return set(np.linspace(0, frames - 1, samples + 2)[1:-1].round().astype(int).tolist())


def _traces(seconds: np.ndarray, original: np.ndarray, read_back: np.ndarray) -> SignalTraces:
    """Read-back values of frames whose original had no face are not compared: NaN."""
    read_back[~np.isfinite(original[:, PRESENCE])] = np.nan
    return SignalTraces(seconds, original, read_back)


def _write_report(report: Report, result: FidelityResult, samples: list[tuple[np.ndarray, np.ndarray]]) -> None:
    report.paragraph(_METHOD)
    report.heading("Overall")
    _targets_table(report, result)
    _signals_table(report, result.overall)
    for video in result.videos:
        report.heading(video.name)
        fidelity = video.fidelity
        report.paragraph(
            f"{video.frames} frames at {video.fps:g} fps; {fidelity.faces} with a face in the original, "
            f"{fidelity.read_back_faces} of those also on the masked frame "
            f"(masked-frame detection {fidelity.detection_rate:.1%})."
        )
        _signals_table(report, fidelity)
        notes = sorted({s.coherence.note for s in fidelity.signals if s.coherence and s.coherence.note})
        if notes:
            report.paragraph("Coherence not measured: " + "; ".join(notes) + ".")
        report.figure(f"traces_{Path(video.name).stem}", _trace_figure(video), _trace_caption(video))
    if samples:
        report.heading("Frames")
        caption = "Original (left) and masked (right) frames, spread over the videos"
        report.contact_sheet("contact_sheet", samples, caption)


_METHOD = (
    "Each video is masked with the configured identity policy. Two more pipelines with the same models that keep "
    "each person's resting levels (they measure and hide nothing) measure the camera frames (the **original** signal: what the raw video shows) and "
    "the masked frames as camera frames (the **read-back** signal: what a viewer of the mask can see, not what "
    "the renderer was given). Differences therefore include what the identity policy deliberately changes (the "
    "resting lid levels and resting action units are drawn at the population's). Only frames whose "
    "original has a face are compared; a masked frame where no face is found is a detection miss (NaN in its "
    "trace). Gaze is compared only on frames where both eyes are open in the original (not closed by the blink "
    "rule below): behind a closed lid there is no iris to see. Units: gaze yaw and pitch in degrees (head frame; yaw > 0 towards the subject's left, pitch > 0 down), "
    "aperture as a fraction of the eye's corner-to-corner width, head yaw/pitch/roll in degrees (`dmask mask "
    "--signals` conventions), MRD1 in mm, action units as intensities 0..1 (the signal schema, docs/WIRE.md). "
    "MAE is the mean absolute difference and includes the **offset** (mean read-back minus original, a "
    "systematic bias such as the drawn eye's); r is Pearson's over frames valid in both. **Coherence** is the "
    f"magnitude-squared coherence of the gaze traces from {COHERENCE_BAND_HZ[0]:g} to {COHERENCE_BAND_HZ[1]:g} Hz "
    "(missing frames interpolated; needs ≥ 16 fps): the *band mean* weighs every frequency alike, including bands "
    "where the eye did not move and both traces hold only landmark noise, so it is the conservative figure; the "
    "*power-weighted* mean weighs each frequency by the original trace's power, i.e. where the movement is. "
    f"**Blinks**: frames where an eye's aperture is below {BLINK_CLOSED_FRACTION:g} of that trace's open level "
    f"(its {BLINK_OPEN_PERCENTILE:g}th percentile) start a blink, which lasts until the aperture is back above "
    f"{BLINK_REOPEN_FRACTION:g} of it; the event is timed at its onset; the same "
    f"detector on both traces, events matched one-to-one within ±{BLINK_TOLERANCE_FRAMES} frames. F1 is defined "
    "as 1.0 when neither trace has a blink. Pooled figures: frames of all videos concatenated for MAE and r, "
    "counts summed for detection and blinks, coherence averaged over videos."
)


def _targets_table(report: Report, result: FidelityResult) -> None:
    overall = result.numbers()["fidelity"]["overall"]
    rows = [(t.label, overall[t.key], t.text, "met" if t.met(overall[t.key]) else "not met") for t in TARGETS]
    report.table(("figure", "value", "target", "met"), rows)


def _signals_table(report: Report, fidelity: Fidelity) -> None:
    rows = [
        (
            item.signal.name,
            item.signal.unit,
            item.agreement.mae,
            item.agreement.r,
            item.agreement.offset,
            item.coherence.band_mean if item.coherence else "",
            item.coherence.weighted if item.coherence else "",
        )
        for item in fidelity.signals
    ]
    report.table(("signal", "unit", "MAE", "r", "offset", "coherence (band mean)", "coherence (weighted)"), rows)
    blink_rows = [
        (side, m.f1, m.precision, m.recall, m.original_events, m.read_back_events)
        for side, m in zip(SIDES, fidelity.blinks)
    ]
    report.table(("blinks", "F1", "precision", "recall", "original events", "masked events"), blink_rows)


def _trace_caption(video: VideoFidelity) -> str:
    return (
        f"{video.name}: original (blue) and read-back (orange) gaze yaw, gaze pitch and aperture of each eye; "
        "triangles mark the blink events found on each trace"
    )


def _trace_figure(video: VideoFidelity) -> Any:
    """Rows: gaze yaw, gaze pitch, aperture; columns: right eye, left eye."""
    figure, axes = pyplot().subplots(3, len(SIDES), figsize=(12, 7.5), sharex=True, squeeze=False)
    seconds = video.traces.seconds
    for column, blinks in enumerate(video.blinks):
        for row, (quantity, unit) in enumerate((("gaze_yaw", "deg"), ("gaze_pitch", "deg"), ("aperture", "eye width"))):
            axis = axes[row, column]
            original, read_back = video.traces.pair(f"{blinks.side}_{quantity}")
            axis.plot(seconds, original, color="tab:blue", linewidth=1, label="original")
            axis.plot(seconds, read_back, color="tab:orange", linewidth=1, label="read-back")
            axis.set_ylabel(f"{blinks.side} {quantity.replace('_', ' ')} ({unit})")
        aperture_axis = axes[2, column]
        original, read_back = video.traces.pair(f"{blinks.side}_aperture")
        aperture_axis.plot(seconds[blinks.original], original[blinks.original], "v", color="tab:blue")
        aperture_axis.plot(seconds[blinks.read_back], read_back[blinks.read_back], "^", color="tab:orange")
        aperture_axis.set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper right", fontsize="small")
    figure.suptitle(video.name)
    figure.tight_layout()
    return figure
