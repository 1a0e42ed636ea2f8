"""`dmask report`: a clinical summary of a recording, from its signals alone.

Reads the signal schema's per-frame records (dmask.signals), as `dmask record`
writes them (`<video>.signals.jsonl`, one wire message a line) or as
`dmask mask --signals` writes them (CSV), and writes one report folder
(dmask.evaluation.report): report.md, PNG plots and results.json. It never
reads or shows a pixel. Per eye: blink rate, duration and completeness; the
range of gaze and the deviation between the eyes over time; the dominant
frequency and amplitude of any oscillation (nystagmus) both eyes share
(dmask.evaluation.oscillation); lid heights in mm. Per side: brow and
mouth-corner heights and every action unit's asymmetry. The recording is read
by dmask.evaluation.recording.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dmask.measure.action_units import ACTION_UNITS
from dmask.measure.clinical import (
    BLINK_CLOSED_FRACTION,
    BLINK_COMPLETE_FRACTION,
    BLINK_REOPEN_FRACTION,
    GAZE_READ_LIMIT_DEG,
    GAZE_ZERO_FIXATION_MM,
    IRIS_DIAMETER_MM,
    IRIS_DIAMETER_SD_MM,
    NEAREST_FIXATION_MM,
    NORMAL_RANGES,
    UNCERTAINTY,
)
from dmask.config import ClinicalConfig
from dmask.evaluation.oscillation import FALSE_ALARM, MIN_HZ, find_oscillation, threshold, velocity_spectrum
from dmask.evaluation.recording import Recording, load_recording
from dmask.evaluation.report import Report, pyplot, require_plotting
from dmask.evaluation.traces import blinks, open_level
from dmask.signals import SCHEMA, SIDES


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


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


def cover_summary(recording: Recording, side: str) -> dict[str, float]:
    """How often and how long that eye was hidden (a cover test's covers): episodes and seconds."""
    hidden = np.nan_to_num(recording[f"{side}_occluded"]) > 0.5
    episodes = int(np.count_nonzero(hidden[1:] & ~hidden[:-1]) + (hidden[0] if len(hidden) else 0))
    return {"episodes": episodes, "seconds": float(hidden.sum() / recording.fps) if recording.fps > 0 else math.nan}


def summarise(recording: Recording) -> dict[str, Any]:
    """Every figure of the clinical summary of one recording."""
    oscillations = {axis: find_oscillation(recording[f"right_gaze_{axis}_deg"], recording[f"left_gaze_{axis}_deg"],
                                           recording.fps) for axis in ("yaw", "pitch")}
    eyes = {}
    for side in SIDES:
        open_ = recording[f"{side}_aperture"] > 0.6 * open_level(recording[f"{side}_aperture"])
        lids = {name: _median(np.where(open_, recording[f"{side}_{name}_mm"], np.nan)) for name in ("mrd1", "mrd2", "fissure")}
        normal = {name: _mean(recording[f"{side}_{name}_normal"]) >= 0.5 for name in ("mrd1", "mrd2")}
        normal = {name: bool(not math.isfinite(lids[name]) and within) for name, within in
                  (("mrd1", normal["mrd1"]), ("mrd2", normal["mrd2"]), ("fissure", normal["mrd1"] or normal["mrd2"]))}
        eyes[side] = {
            "blinks": blink_summary(recording, side),
            "gaze_yaw_range_deg": _range(recording[f"{side}_gaze_yaw_deg"]),
            "gaze_pitch_range_deg": _range(recording[f"{side}_gaze_pitch_deg"]),
            "gaze_at_limit_fraction": _mean(recording[f"{side}_gaze_at_limit"]),  # of the frames the eye was seen
            **{f"oscillation_{axis}": {"frequency_hz": found.frequency_hz, "amplitude_deg": getattr(found, f"{side}_deg")}
               for axis, found in oscillations.items()},
            "lids_mm": lids,
            "lids_within_normal": normal,  # withheld, the resting level within normal limits in most frames
            "covered": cover_summary(recording, side),
        }
    face = {
        "brow_height_mm": {side: _median(recording[f"{side}_brow_height_mm"]) for side in SIDES},
        "mouth_corner_height_mm": {side: _median(recording[f"{side}_mouth_corner_height_mm"]) for side in SIDES},
        "action_units": {
            unit.name: {
                "facs": unit.facs,
                "right": _range(recording[f"au_right_{unit.name}"])[1],  # how far the side moved, above its rest
                "left": _range(recording[f"au_left_{unit.name}"])[1],
                "asymmetry": _median(recording[f"asym_{unit.name}"]),  # where either side moved
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
        "dropped_frames": recording.dropped,
        "seconds": float(recording.seconds[-1] - recording.seconds[0]),
        "fps": recording.fps,
        "eyes": eyes,
        "deviation": deviation,
        "oscillation": {name: asdict(oscillations[axis]) for name, axis in (("horizontal", "yaw"), ("vertical", "pitch"))},
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
                f"MRD1 (mm) R {_lid(right, 'mrd1')}, L {_lid(left, 'mrd1')}; "
                f"horizontal deviation {s['deviation']['horizontal']['median_pd']:+.1f} PD"
            )
        return lines


def write_clinical_report(paths: list[Path], out_dir: Path) -> ClinicalReport:
    """Summarise each recording and write the report folder; no pixel is read or written."""
    recordings = [load_recording(Path(path)) for path in paths]
    require_plotting("report")
    report = Report(out_dir, "Clinical summary", context_in_appendix=True)
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
        f"when it closes below {BLINK_COMPLETE_FRACTION:.0%}. Oscillation (nystagmus): the strongest peak of "
        f"the spectrum of both eyes' mean gaze velocity from {MIN_HZ:g} Hz, where it stands above the band's median "
        f"as white noise would with probability {FALSE_ALARM:g}; amplitude peak to peak, by a sine fitted at that "
        "frequency to each eye's gaze."
    )


def write_recording(report: Any, recording: Recording, s: dict[str, Any], tag: str) -> None:
    """One recording's section, into anything with Report's heading, paragraph, table and figure (the PDF too)."""
    report.heading(f"{s['recording']}")
    dropped = f" ({s['dropped_frames']} dropped by the daemon: gaps in time, not measured)" if s["dropped_frames"] else ""
    report.paragraph(f"{s['seconds']:.1f} s at {s['fps']:.1f} frames/s; the face was tracked in "
                     f"{s['frames_with_face']} of {s['frames']} frames{dropped}.")
    eyes = s["eyes"]
    report.table(
        ["", "right eye", "left eye", "normal range"],
        [
            ["blinks (count, per minute)", *(f"{eyes[e]['blinks']['count']}, "
                                             + _flagged(eyes[e]["blinks"]["per_minute"], "blinks_per_minute") for e in SIDES),
             _range_cell("blinks_per_minute")],
            ["blink duration, median (ms)", *(_whole(eyes[e]["blinks"]["median_duration_ms"]) for e in SIDES), ""],
            ["complete blinks", *(_whole(100 * eyes[e]["blinks"]["complete_fraction"], " %") for e in SIDES), ""],
            ["MRD1 (mm)", *(_lid(eyes[e], "mrd1") for e in SIDES), _range_cell("mrd1")],
            ["MRD2 (mm)", *(_lid(eyes[e], "mrd2") for e in SIDES), _range_cell("mrd2")],
            ["palpebral fissure (mm)", *(_lid(eyes[e], "fissure") for e in SIDES), _range_cell("fissure")],
            ["gaze yaw, 5-95 % (deg)", *(_span(eyes[e]["gaze_yaw_range_deg"]) for e in SIDES), ""],
            ["gaze pitch, 5-95 % (deg)", *(_span(eyes[e]["gaze_pitch_range_deg"]) for e in SIDES), ""],
            [f"gaze beyond {GAZE_READ_LIMIT_DEG:g} deg, not measured", *(_whole(100 * eyes[e]["gaze_at_limit_fraction"], " %")
                                                                        for e in SIDES), ""],
            ["oscillation, horizontal (Hz, deg p-p)", *(_beat(eyes[e]["oscillation_yaw"]) for e in SIDES), "none"],
            ["oscillation, vertical (Hz, deg p-p)", *(_beat(eyes[e]["oscillation_pitch"]) for e in SIDES), "none"],
            ["covered (times, s)", *(f"{eyes[e]['covered']['episodes']}, {eyes[e]['covered']['seconds']:.1f}" for e in SIDES), ""],
        ],
    )
    report.paragraph(_footnotes())
    deviation = s["deviation"]
    horizontal = deviation["horizontal"]
    asymmetry = {name: value for name, value in s["lid_asymmetry_mm"].items() if math.isfinite(value)}
    report.paragraph(
        "Deviation between the eyes (right minus left; horizontal > 0 convergent, vertical > 0 right eye lower; "
        "horizontal: the vergence beyond what fixating the camera demands): "
        + "; ".join(f"{axis} median {d['median_pd']:+.1f} PD ({d['median_deg']:+.1f} deg), 5-95 % "
                    f"{_span(d['range_pd'])} PD" for axis, d in deviation.items())
        + f". Vergence, median {horizontal['vergence_median_pd']:+.1f} PD. Lid asymmetry, right minus left: "
        + (", ".join(f"{name.upper() if name != 'fissure' else 'fissure'} {value:+.1f} mm" for name, value in asymmetry.items())
           or "within normal limits") + "."
    )
    report.paragraph(
        f"Assumed: a visible iris {IRIS_DIAMETER_MM:g} mm across (SD {IRIS_DIAMETER_SD_MM:g} mm, so any one person's "
        f"mm are uncertain by about {IRIS_DIAMETER_SD_MM / IRIS_DIAMETER_MM:.0%}); the eyes fixating the camera, "
        + _fixation(horizontal["fixation_distance_mm"])
        + f"; frame times from the source's capture clock ({s['fps']:.1f} frames/s)."
    )
    face = s["face"]
    report.table(
        ["action unit", "FACS", "right: movement above rest (95th percentile)", "left: the same",
         "asymmetry (median while moving)"],
        [[name, f"AU{u['facs']}", u["right"], u["left"], u["asymmetry"]] for name, u in face["action_units"].items()],
    )
    report.table(
        ["height above the population's resting face", "right (median)", "left (median)"],
        [["brow (mm)", face["brow_height_mm"]["right"], face["brow_height_mm"]["left"]],
         ["mouth corner (mm)", face["mouth_corner_height_mm"]["right"], face["mouth_corner_height_mm"]["left"]]],
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


WITHIN_NORMAL = "within normal limits"


def _flagged(value: float, name: str) -> str:
    """A figure to one decimal, marked where it falls outside NORMAL_RANGES[name]."""
    if not math.isfinite(value):
        return "n/a"
    flag = NORMAL_RANGES[name].flag(value)
    return f"{value:.1f} ({flag})" if flag else f"{value:.1f}"


def _whole(value: float, unit: str = "") -> str:
    return f"{value:.0f}{unit}" if math.isfinite(value) else "n/a"


def _range_cell(name: str) -> str:
    normal = NORMAL_RANGES[name]
    return f"{normal.low:g}-{normal.high:g} {normal.unit} [{list(NORMAL_RANGES).index(name) + 1}]"


def _lid(eye: dict[str, Any], name: str) -> str:
    """An eye's resting lid level in mm, flagged against its range; or within normal limits, where it was withheld."""
    return WITHIN_NORMAL if eye["lids_within_normal"][name] else _flagged(eye["lids_mm"][name], name)


def _footnotes() -> str:
    defaults = ClinicalConfig()
    return (
        f"{WITHIN_NORMAL.capitalize()}: the lid's resting level met none of the clinical criteria (config `clinical`; "
        f"by default MRD1 above {defaults.ptosis_mrd1_mm:g} mm and at most {defaults.retraction_mrd1_mm:g} mm, MRD2 at "
        f"most {defaults.scleral_show_mrd2_mm:g} mm, the two eyes within {defaults.lid_asymmetry_mm:g} mm), so the "
        "person's own level is withheld from the mask and the signals (it would identify them); a level that meets "
        "one is shown in mm. (low), (high): outside the normal range. Normal ranges: "
        + "; ".join(f"[{number}] {normal.reference}" for number, normal in enumerate(NORMAL_RANGES.values(), 1)) + ". "
        "One reading strays, on faces without the sign (1 SD; `dmask eval repeatability`, README \"Repeatability\"), by: "
        + "; ".join(u.words() for u in UNCERTAINTY.values()) + "."
    )


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
    """Both eyes' mean gaze-velocity spectrum per axis, with the power an oscillation must reach."""
    figure, axes = pyplot().subplots(1, 2, figsize=(9, 3), sharey=True)
    for ax, axis in zip(axes, ("yaw", "pitch")):
        found = velocity_spectrum(recording[f"right_gaze_{axis}_deg"], recording[f"left_gaze_{axis}_deg"], recording.fps)
        if found is not None:
            frequencies, power, band = found
            ax.semilogy(frequencies, power + 1e-12)
            ax.axhline(threshold(len(band)) * np.median(power[band]), color="tab:red", lw=0.8, label="oscillation above")
            ax.legend(fontsize=7)
        ax.set(title=f"gaze {axis}, both eyes", xlabel="Hz")
    axes[0].set(ylabel="velocity power")
    return figure
