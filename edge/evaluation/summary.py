"""`dmask report`: a clinical summary of a recording, from its signals alone.

Reads the signal schema's per-frame records (edge.signals), as `dmask record`
writes them (`<video>.signals.jsonl`, one wire message a line) or as
`dmask mask --signals` writes them (CSV), and writes one report folder
(edge.evaluation.report): report.md, PNG plots and results.json. It never
reads or shows a pixel. Per eye: blink rate, duration and completeness; the
range of gaze and the deviation between the eyes over time; the dominant
frequency and amplitude of any oscillation (nystagmus) from the spectrum;
lid heights in mm. Per side: brow and mouth-corner heights and every action
unit's asymmetry.

The face followed is the one seen in the most frames (one track id).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.action_units import ACTION_UNITS
from edge.clinical import (
    BLINK_CLOSED_FRACTION,
    BLINK_COMPLETE_FRACTION,
    BLINK_REOPEN_FRACTION,
    GAZE_ZERO_FIXATION_MM,
    NEAREST_FIXATION_MM,
)
from edge.errors import InputError
from edge.evaluation.report import Report, pyplot, require_eval_extra
from edge.evaluation.traces import blinks, open_level
from edge.signals import FIELD_NAMES, SCHEMA, SIDES

# Oscillations are looked for from here up to the Nyquist frequency.
MIN_OSCILLATION_HZ = 1.0
# A spectral peak counts as an oscillation when it holds this share of the band's power.
OSCILLATION_POWER_SHARE = 0.25


class NoFaceTracked(InputError):
    """A recording's signals hold no face in any frame: there is nothing to measure."""


@dataclass(frozen=True)
class Recording:
    """One face's per-frame signals: seconds (N,) and each schema field (N,), NaN without a face."""

    name: str
    seconds: np.ndarray
    fields: dict[str, np.ndarray]

    @property
    def fps(self) -> float:
        steps = np.diff(self.seconds)
        steps = steps[steps > 0]
        return float(1.0 / np.median(steps)) if len(steps) else math.nan

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]


def load_recording(path: Path) -> Recording:
    """A `.signals.jsonl` sidecar (or the video it sits beside) or a `--signals` CSV."""
    if path.suffix == ".mp4":
        path = path.with_name(path.stem + ".signals.jsonl")
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a recording's .signals.jsonl (or its video) or a --signals CSV")
    frames = _csv_frames(path) if path.suffix == ".csv" else _jsonl_frames(path)
    if not frames:
        raise InputError(f"{path}: holds no frames")
    tracks = Counter(face["track_id"] for _, faces in frames for face in faces)
    if not tracks:
        raise NoFaceTracked(f"{path}: no face in any frame; there is nothing to summarise")
    track = tracks.most_common(1)[0][0]
    seconds = np.array([t for t, _ in frames], np.float64)
    fields = {name: np.full(len(frames), np.nan) for name in FIELD_NAMES}
    for row, (_, faces) in enumerate(frames):
        face = next((f for f in faces if f["track_id"] == track), None)
        for name in FIELD_NAMES if face else ():
            value = face.get(name)
            fields[name][row] = np.nan if value in (None, "") else float(value)
    return Recording(path.name, seconds, fields)


def _jsonl_frames(path: Path) -> list[tuple[float, list[dict]]]:
    frames = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            body = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{number}: not a JSON line ({error.msg}); is this a signals sidecar?") from error
        schema = body.get("schema") if isinstance(body, dict) else None
        if schema != SCHEMA:
            raise InputError(f"{path}:{number}: schema {schema!r}, expected {SCHEMA!r}; "
                             "record again with this version of dmask")
        if not isinstance(body.get("capture_ts"), (int, float)) or not isinstance(body.get("faces"), list):
            raise InputError(f"{path}:{number}: a signals message needs capture_ts and faces (docs/WIRE.md)")
        frames.append((float(body["capture_ts"]), body["faces"]))
    return frames


def _csv_frames(path: Path) -> list[tuple[float, list[dict]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in FIELD_NAMES if name not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"{path}: not a dmask signals CSV of schema {SCHEMA} (no column {missing[0]})")
        frames: dict[tuple[str, str], tuple[float, list[dict]]] = {}
        for row in reader:
            key = (row["file"], row["seq"])
            _, faces = frames.setdefault(key, (float(row["timestamp"]), []))
            if row["track_id"]:
                faces.append({**row, "track_id": int(row["track_id"])})
    return list(frames.values())


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else math.nan


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(np.percentile(finite, 5)), float(np.percentile(finite, 95))) if len(finite) else (math.nan,) * 2


def blink_summary(recording: Recording, side: str) -> dict[str, Any]:
    """Rate per minute, durations and completeness of one eye's blinks."""
    found = blinks(recording[f"{side}_aperture"])
    minutes = (recording.seconds[-1] - recording.seconds[0]) / 60.0 if len(recording.seconds) > 1 else math.nan
    durations = [1000.0 * (recording.seconds[min(b.end, len(recording.seconds) - 1)] - recording.seconds[b.onset])
                 for b in found]
    return {
        "count": len(found),
        "per_minute": len(found) / minutes if minutes and minutes > 0 else math.nan,
        "median_duration_ms": float(np.median(durations)) if durations else math.nan,
        "complete_fraction": float(np.mean([b.complete for b in found])) if found else math.nan,
        "onsets_s": [float(recording.seconds[b.onset] - recording.seconds[0]) for b in found],
    }


def gaze_spectrum(trace: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(frequencies Hz, complex spectrum, window sum) of a trace; None with under 16 measured frames.

    Gaps (closed eyes, a cover, no face) are bridged linearly; the mean and
    trend are removed and a Hann window applied. The window is summed over
    the measured frames only, so a gap, which holds no oscillation, does not
    shrink the amplitude read from the spectrum.
    """
    valid = np.isfinite(trace)
    if valid.sum() < 16 or not math.isfinite(fps):
        return None
    index = np.arange(len(trace))
    filled = np.interp(index, index[valid], trace[valid])
    filled = filled - np.polyval(np.polyfit(index, filled, 1), index)
    window = np.hanning(len(filled))
    return np.fft.rfftfreq(len(filled), 1.0 / fps), np.fft.rfft(filled * window), float(window[valid].sum())


def oscillation(trace: np.ndarray, fps: float) -> dict[str, float]:
    """The dominant frequency (Hz) of a gaze trace and its amplitude (deg, peak to peak), from its spectrum.

    A peak that holds less than OSCILLATION_POWER_SHARE of the power from
    MIN_OSCILLATION_HZ up is no oscillation: frequency and amplitude are then NaN.
    """
    none = {"frequency_hz": math.nan, "amplitude_deg": math.nan, "power_share": math.nan}
    found = gaze_spectrum(trace, fps)
    if found is None:
        return none
    frequencies, spectrum, window = found
    band = frequencies >= MIN_OSCILLATION_HZ
    power = np.abs(spectrum) ** 2
    if not band.any() or power[band].sum() <= 0:
        return none
    peak = np.flatnonzero(band)[np.argmax(power[band])]
    share = float(power[max(peak - 1, 0) : peak + 2].sum() / power[band].sum())
    if share < OSCILLATION_POWER_SHARE:
        return {**none, "power_share": share}
    amplitude = 4.0 * np.abs(spectrum[peak]) / window  # a sine's peak to peak: twice its amplitude
    return {"frequency_hz": float(frequencies[peak]), "amplitude_deg": float(amplitude), "power_share": share}


def cover_summary(recording: Recording, side: str) -> dict[str, float]:
    """How often and how long that eye was hidden (a cover test's covers): episodes and seconds."""
    hidden = np.nan_to_num(recording[f"{side}_occluded"]) > 0.5
    episodes = int(np.count_nonzero(hidden[1:] & ~hidden[:-1]) + (hidden[0] if len(hidden) else 0))
    return {"episodes": episodes, "seconds": float(hidden.sum() / recording.fps) if recording.fps > 0 else math.nan}


def summarise(recording: Recording) -> dict[str, Any]:
    """Every figure of the clinical summary of one recording."""
    eyes = {}
    for side in SIDES:
        open_ = recording[f"{side}_aperture"] > 0.6 * open_level(recording[f"{side}_aperture"])
        lids = {name: _median(np.where(open_, recording[f"{side}_{name}_mm"], np.nan)) for name in ("mrd1", "mrd2", "fissure")}
        eyes[side] = {
            "blinks": blink_summary(recording, side),
            "gaze_yaw_range_deg": _range(recording[f"{side}_gaze_yaw_deg"]),
            "gaze_pitch_range_deg": _range(recording[f"{side}_gaze_pitch_deg"]),
            "oscillation_yaw": oscillation(np.where(open_, recording[f"{side}_gaze_yaw_deg"], np.nan), recording.fps),
            "oscillation_pitch": oscillation(np.where(open_, recording[f"{side}_gaze_pitch_deg"], np.nan), recording.fps),
            "lids_mm": lids,
            "covered": cover_summary(recording, side),
        }
    face = {
        "brow_height_mm": {side: _median(recording[f"{side}_brow_height_mm"]) for side in SIDES},
        "mouth_corner_height_mm": {side: _median(recording[f"{side}_mouth_corner_height_mm"]) for side in SIDES},
        "action_units": {
            unit.name: {
                "facs": unit.facs,
                "right": _median(recording[f"au_right_{unit.name}"]),
                "left": _median(recording[f"au_left_{unit.name}"]),
                "asymmetry": _median(recording[f"asym_{unit.name}"]),
            }
            for unit in ACTION_UNITS
        },
    }
    deviation = {axis: {"median_deg": _median(recording[f"{axis}_deviation_deg"]),
                        "median_pd": _median(recording[f"{axis}_deviation_pd"]),
                        "range_pd": _range(recording[f"{axis}_deviation_pd"])} for axis in ("horizontal", "vertical")}
    deviation["horizontal"]["vergence_median_pd"] = _median(recording["horizontal_vergence_pd"])
    deviation["horizontal"]["fixation_distance_mm"] = _median(recording["fixation_distance_mm"])
    seen = np.isfinite(recording["head_yaw_deg"])
    return {
        "recording": recording.name,
        "frames": len(recording.seconds),
        "frames_with_face": int(seen.sum()),
        "seconds": float(recording.seconds[-1] - recording.seconds[0]),
        "fps": recording.fps,
        "eyes": eyes,
        "deviation": deviation,
        "lid_asymmetry_mm": {name: eyes["right"]["lids_mm"][name] - eyes["left"]["lids_mm"][name]
                             for name in ("mrd1", "mrd2", "fissure")},
        "face": face,
    }


@dataclass(frozen=True)
class ClinicalReport:
    summaries: tuple[dict[str, Any], ...]
    report: Path

    def lines(self) -> list[str]:
        lines = []
        for s in self.summaries:
            right, left = s["eyes"]["right"], s["eyes"]["left"]
            lines.append(
                f"{s['recording']}: {s['seconds']:.1f} s, face in {s['frames_with_face']}/{s['frames']} frames; "
                f"blinks/min R {right['blinks']['per_minute']:.1f} L {left['blinks']['per_minute']:.1f}; "
                f"MRD1 R {right['lids_mm']['mrd1']:.1f} L {left['lids_mm']['mrd1']:.1f} mm; "
                f"horizontal deviation {s['deviation']['horizontal']['median_pd']:+.1f} PD"
            )
        return lines


def write_clinical_report(paths: list[Path], out_dir: Path) -> ClinicalReport:
    """Summarise each recording and write the report folder; no pixel is read or written."""
    recordings = [load_recording(Path(path)) for path in paths]
    require_eval_extra()
    report = Report(out_dir, "Clinical summary")
    report.paragraph(method_paragraph())
    summaries = []
    for index, recording in enumerate(recordings):
        summary = summarise(recording)
        summaries.append(summary)
        write_recording(report, recording, summary, f"r{index + 1}")
    report.write({"clinical_summary": summaries})
    return ClinicalReport(tuple(summaries), report.directory / "report.md")


def method_paragraph() -> str:
    """What the summary's figures mean: the first paragraph of every clinical summary (report.md, the PDF)."""
    return (
        f"From the published signals only (schema `{SCHEMA}`, docs/WIRE.md); no image was read. Right and left are "
        "the subject's. Resting levels are the population's unless a clinical criterion let them through "
        "(config `clinical`); movements are as measured. Blinks: the lid opening falls below "
        f"{BLINK_CLOSED_FRACTION:.0%} of its open level and rises back above {BLINK_REOPEN_FRACTION:.0%}; complete "
        f"when it closes below {BLINK_COMPLETE_FRACTION:.0%}. Oscillation: the strongest spectral peak "
        f"from {MIN_OSCILLATION_HZ:g} Hz to the Nyquist frequency, if it holds at least "
        f"{OSCILLATION_POWER_SHARE:.0%} of that band's power; amplitude peak to peak."
    )


def write_recording(report: Any, recording: Recording, s: dict[str, Any], tag: str) -> None:
    """One recording's section, into anything with Report's heading, paragraph, table and figure (the PDF too)."""
    report.heading(f"{s['recording']}")
    report.paragraph(f"{s['seconds']:.1f} s at {s['fps']:.1f} frames/s; the face was tracked in "
                     f"{s['frames_with_face']} of {s['frames']} frames.")
    eyes = s["eyes"]
    report.table(
        ["", "right eye", "left eye"],
        [
            ["blinks (count, per minute)", *(f"{eyes[e]['blinks']['count']}, {eyes[e]['blinks']['per_minute']:.1f}" for e in SIDES)],
            ["blink duration, median (ms)", *(eyes[e]["blinks"]["median_duration_ms"] for e in SIDES)],
            ["complete blinks (fraction)", *(eyes[e]["blinks"]["complete_fraction"] for e in SIDES)],
            ["MRD1 (mm)", *(eyes[e]["lids_mm"]["mrd1"] for e in SIDES)],
            ["MRD2 (mm)", *(eyes[e]["lids_mm"]["mrd2"] for e in SIDES)],
            ["palpebral fissure (mm)", *(eyes[e]["lids_mm"]["fissure"] for e in SIDES)],
            ["gaze yaw, 5-95 % (deg)", *(_span(eyes[e]["gaze_yaw_range_deg"]) for e in SIDES)],
            ["gaze pitch, 5-95 % (deg)", *(_span(eyes[e]["gaze_pitch_range_deg"]) for e in SIDES)],
            ["oscillation, horizontal (Hz, deg p-p)", *(_beat(eyes[e]["oscillation_yaw"]) for e in SIDES)],
            ["oscillation, vertical (Hz, deg p-p)", *(_beat(eyes[e]["oscillation_pitch"]) for e in SIDES)],
            ["covered (times, s)", *(f"{eyes[e]['covered']['episodes']}, {eyes[e]['covered']['seconds']:.1f}" for e in SIDES)],
        ],
    )
    deviation = s["deviation"]
    horizontal = deviation["horizontal"]
    report.paragraph(
        "Deviation between the eyes (right minus left; horizontal > 0 convergent, vertical > 0 right eye lower; "
        "horizontal: the vergence beyond what fixating the camera demands): "
        + "; ".join(f"{axis} median {d['median_pd']:+.1f} PD ({d['median_deg']:+.1f} deg), 5-95 % "
                    f"{_span(d['range_pd'])} PD" for axis, d in deviation.items())
        + f". Vergence, median {horizontal['vergence_median_pd']:+.1f} PD, " + _fixation(horizontal["fixation_distance_mm"])
        + ". Lid asymmetry, right minus left: "
        + ", ".join(f"{name.upper() if name != 'fissure' else 'fissure'} {value:+.1f} mm"
                    for name, value in s["lid_asymmetry_mm"].items()) + "."
    )
    face = s["face"]
    report.table(
        ["action unit", "FACS", "right (median)", "left (median)", "asymmetry (median)"],
        [[name, f"AU{u['facs']}", u["right"], u["left"], u["asymmetry"]] for name, u in face["action_units"].items()]
        + [["brow height (mm)", "", face["brow_height_mm"]["right"], face["brow_height_mm"]["left"], ""],
           ["mouth-corner height (mm)", "", face["mouth_corner_height_mm"]["right"], face["mouth_corner_height_mm"]["left"], ""]],
    )
    report.figure(f"{tag}_eyes", _eyes_figure(recording, s), f"{s['recording']}: gaze, deviation and lids over time")
    report.figure(f"{tag}_spectrum", _spectrum_figure(recording), f"{s['recording']}: gaze spectra per eye")


def _fixation(distance_mm: float) -> str:
    """What distance the horizontal deviation was taken at, in words."""
    if math.isnan(distance_mm):
        return (f"at no known fixation distance (no focal length, or nearer than {NEAREST_FIXATION_MM / 10:.0f} cm: "
                f"a crop), so the deviation is taken beyond the gaze zero's {GAZE_ZERO_FIXATION_MM / 1000:g} m")
    return (f"at a fixation distance of {distance_mm / 10:.0f} cm (median; from the iris's size and the camera's "
            "field of view in config `clinical.camera_fov_deg`, the fixation taken to be the camera)")


def _span(pair) -> str:
    return f"{pair[0]:+.1f} to {pair[1]:+.1f}"


def _beat(found: dict[str, float]) -> str:
    if not math.isfinite(found["frequency_hz"]):
        return "none"
    return f"{found['frequency_hz']:.1f} Hz, {found['amplitude_deg']:.1f}"


def _eyes_figure(recording: Recording, s: dict[str, Any]) -> Any:
    figure, axes = pyplot().subplots(3, 1, figsize=(9, 7), sharex=True)
    t = recording.seconds - recording.seconds[0]
    for side, colour in zip(SIDES, ("tab:blue", "tab:orange")):
        axes[0].plot(t, recording[f"{side}_gaze_yaw_deg"], color=colour, label=f"{side} yaw")
        axes[0].plot(t, recording[f"{side}_gaze_pitch_deg"], color=colour, linestyle=":", label=f"{side} pitch")
        axes[2].plot(t, recording[f"{side}_fissure_mm"], color=colour, label=f"{side} fissure")
        for onset in s["eyes"][side]["blinks"]["onsets_s"]:
            axes[2].axvline(onset, color=colour, alpha=0.3)
    axes[1].plot(t, recording["horizontal_deviation_pd"], label="horizontal")
    axes[1].plot(t, recording["vertical_deviation_pd"], label="vertical")
    axes[0].set(ylabel="gaze (deg)")
    axes[1].set(ylabel="deviation (PD)")
    axes[2].set(ylabel="fissure (mm)", xlabel="time (s)")
    for ax in axes:
        ax.legend(loc="upper right", fontsize=7)
    return figure


def _spectrum_figure(recording: Recording) -> Any:
    figure, axes = pyplot().subplots(1, 2, figsize=(9, 3), sharey=True)
    for ax, side in zip(axes, SIDES):
        for axis in ("yaw", "pitch"):
            found = gaze_spectrum(recording[f"{side}_gaze_{axis}_deg"], recording.fps)
            if found is not None:
                ax.semilogy(found[0], np.abs(found[1]) ** 2 + 1e-12, label=axis)
        ax.set(title=f"{side} eye", xlabel="Hz")
        ax.legend(fontsize=7)
    axes[0].set(ylabel="power")
    return figure
