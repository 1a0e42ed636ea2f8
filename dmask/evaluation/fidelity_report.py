"""The report folder of `dmask eval fidelity`: the readers side by side, per video and pooled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dmask.measure.clinical import BLINK_CLOSED_FRACTION, BLINK_REOPEN_FRACTION
from dmask.evaluation.comparison import TARGETS, Fidelity, FidelityResult, VideoFidelity
from dmask.evaluation.readers import DLIB_MAX_SIDE
from dmask.report_folder import Report, pyplot
from dmask.clinical.blinks import BLINK_OPEN_PERCENTILE
from dmask.evaluation.traces import BLINK_TOLERANCE_FRAMES, COHERENCE_BAND_HZ
from dmask.signals import SIDES

TRACED = (("gaze_yaw", "deg"), ("gaze_pitch", "deg"), ("aperture", "eye width"))

_METHOD = (
    "Each video is masked with the configured identity policy. Two **readers** that share no model then measure "
    "the camera frames (the **original** signal: what the raw video shows) and the masked frames as camera frames "
    "(the **read-back** signal: what a viewer of the mask can see, not what the renderer was given): "
    "**mediapipe**, the product's own chain (face mesh, iris model and fit) keeping each person's resting levels, "
    "and **dlib**, dlib's HOG face detector (on each frame shrunk to a longer side of "
    f"{DLIB_MAX_SIDE} pixels) and its 68-point shape predictor, which the mask was never tuned with. Each reader is "
    "compared with its own reading of the original. Differences therefore include what the identity policy "
    "deliberately changes (resting lids and action units are drawn at the population's level). Only frames "
    "whose original has a face for that reader are compared; a masked frame where it finds none is a detection "
    "miss. Gaze is compared only on frames where both eyes are open in the original (not closed by the blink rule "
    "below). Units: gaze yaw and pitch in degrees (head frame; yaw > 0 towards the subject's left, pitch > 0 "
    "down); aperture as a fraction of the eye's corner-to-corner width (mediapipe: both lids' distance from the "
    "corner line in the head frame; dlib: the eye aspect ratio of its six eye points); head angles in degrees; "
    "MRD1 in mm; action units 0..1 (the signal schema, docs/WIRE.md); mouth opening (the inner lips' gap) and "
    "brow height (a brow's mean point above its eye's) along the face's vertical, over the outer eye corners' "
    "distance, by one formula for both readers. MAE is the mean absolute difference and includes the "
    "**offset** (mean read-back minus original); r is Pearson's over frames valid in both. **Coherence** is the "
    f"magnitude-squared coherence of the gaze traces from {COHERENCE_BAND_HZ[0]:g} to {COHERENCE_BAND_HZ[1]:g} Hz "
    "(missing frames interpolated; needs ≥ 16 fps): the *band mean* weighs every frequency alike, including bands "
    "where the eye did not move; the *power-weighted* mean weighs each by the original trace's power. "
    f"**Blinks**: frames where an eye's aperture is below {BLINK_CLOSED_FRACTION:g} of that trace's open level "
    f"(its {BLINK_OPEN_PERCENTILE:g}th percentile) start a blink, which lasts until the aperture is back above "
    f"{BLINK_REOPEN_FRACTION:g} of it; the event is timed at its onset; the same detector on every trace, events "
    f"matched one-to-one within ±{BLINK_TOLERANCE_FRAMES} frames. F1 is 1.0 when neither trace has a blink. "
    "Pooled figures: frames of all videos concatenated for MAE and r, counts summed for detection and blinks, "
    "coherence averaged over videos."
)


def write_report(report: Report, result: FidelityResult, samples: list[tuple[np.ndarray, np.ndarray]]) -> None:
    report.paragraph(_METHOD)
    report.heading("Overall")
    _targets_table(report, result)
    _signals_tables(report, result.overall)
    for video in result.videos:
        report.heading(video.name)
        report.paragraph(f"{video.frames} frames at {video.fps:g} fps. " + " ".join(
            f"{r.fidelity.reader}: {r.fidelity.faces} with a face in the original, {r.fidelity.read_back_faces} of "
            f"those also on the masked frame ({r.fidelity.detection_rate:.1%})." for r in video.readings))
        _signals_tables(report, [r.fidelity for r in video.readings])
        notes = sorted({s.coherence.note for r in video.readings for s in r.fidelity.signals
                        if s.coherence and s.coherence.note})
        if notes:
            report.paragraph("Coherence not measured: " + "; ".join(notes) + ".")
        report.figure(f"traces_{Path(video.name).stem}", _trace_figure(video), _trace_caption(video))
    if samples:
        report.heading("Frames")
        report.contact_sheet("contact_sheet", samples, "Original (left) and masked (right) frames, spread over the videos")


def _targets_table(report: Report, result: FidelityResult) -> None:
    readers = result.numbers()["fidelity"]["readers"]
    names = list(readers)
    rows = []
    for target in TARGETS:
        values = [readers[name]["overall"].get(target.key) for name in names]
        met = [f"{name}: {'met' if target.met(v) else 'not met'}" for name, v in zip(names, values) if v is not None]
        rows.append((target.label, *("" if v is None else v for v in values), target.text, ", ".join(met)))
    report.table(("figure", *names, "target", "met"), rows)


def _signals_tables(report: Report, fidelities: Sequence[Fidelity]) -> None:
    """Every signal, each reader's MAE, r and offset side by side; then blinks per reader and eye."""
    names = list(dict.fromkeys(item.signal.name for f in fidelities for item in f.signals))
    rows = []
    for name in names:
        found = [next((item for item in f.signals if item.signal.name == name), None) for f in fidelities]
        unit = next(item.signal.unit for item in found if item)
        cells: list[Any] = []
        for item in found:
            cells += [item.agreement.mae, item.agreement.r, item.agreement.offset] if item else ["", "", ""]
        coherence = next((item.coherence for item in found if item and item.coherence), None)
        rows.append((name, unit, *cells, coherence.band_mean if coherence else "", coherence.weighted if coherence else ""))
    header = [f"{f.reader} {statistic}" for f in fidelities for statistic in ("MAE", "r", "offset")]
    report.table(("signal", "unit", *header, "coherence (band mean)", "coherence (weighted)"), rows)
    blink_rows = [(f.reader, side, m.f1, m.precision, m.recall, m.original_events, m.read_back_events)
                  for f in fidelities for side, m in zip(SIDES, f.blinks)]
    report.table(("reader", "blinks", "F1", "precision", "recall", "original events", "masked events"), blink_rows)


def _trace_caption(video: VideoFidelity) -> str:
    return (
        f"{video.name}: original (blue) and read-back (orange) traces, each reader against its own original; "
        "triangles mark the blink events found on each aperture trace"
    )


def _trace_figure(video: VideoFidelity) -> Any:
    """Rows: each reader's gaze yaw, gaze pitch and aperture, where it measures them; columns: right eye, left eye."""
    rows = [(reading, quantity, unit) for reading in video.readings for quantity, unit in TRACED
            if any(s.name == f"right_{quantity}" for s in reading.traces.signals)]
    figure, axes = pyplot().subplots(len(rows), len(SIDES), figsize=(12, 2.5 * len(rows)), sharex=True, squeeze=False)
    for row, (reading, quantity, unit) in enumerate(rows):
        seconds = reading.traces.seconds
        for column, blinks in enumerate(reading.blinks):
            axis = axes[row, column]
            original, read_back = reading.traces.pair(f"{blinks.side}_{quantity}")
            axis.plot(seconds, original, color="tab:blue", linewidth=1, label="original")
            axis.plot(seconds, read_back, color="tab:orange", linewidth=1, label="read-back")
            axis.set_ylabel(f"{reading.fidelity.reader}\n{blinks.side} {quantity.replace('_', ' ')} ({unit})")
            if quantity == "aperture":
                axis.plot(seconds[blinks.original], original[blinks.original], "v", color="tab:blue")
                axis.plot(seconds[blinks.read_back], read_back[blinks.read_back], "^", color="tab:orange")
    for axis in axes[-1]:
        axis.set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper right", fontsize="small")
    figure.suptitle(video.name)
    figure.tight_layout()
    return figure
