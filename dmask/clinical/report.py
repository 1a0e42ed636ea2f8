"""`dmask report`: the clinical summary of recordings as a report folder (report.md, PNG plots, results.json).

What each figure is comes from dmask.clinical.summary; here it is worded,
set beside its normal range (dmask.measure.clinical.NORMAL_RANGES) and
plotted. `write_recording` writes one recording's section into anything with
Report's heading, paragraph, table and figure, so the PDF (dmask.export.
document) says the same. It never reads or shows a pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dmask.clinical.oscillation import FALSE_ALARM, MIN_HZ, threshold, velocity_spectrum
from dmask.clinical.recording import Recording, load_recording
from dmask.clinical.summary import Beat, ClinicalSummary, EyeSummary, summarise
from dmask.config import ClinicalConfig
from dmask.report_folder import Report, pyplot, require_plotting
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
from dmask.signals import SCHEMA, SIDES


@dataclass(frozen=True)
class ClinicalReport:
    summaries: tuple[ClinicalSummary, ...]
    report: Path

    def lines(self) -> list[str]:
        lines = []
        for s in self.summaries:
            right, left = s.eyes.right, s.eyes.left
            lines.append(
                f"{s.recording}: {s.seconds:.1f} s, face in {s.frames_with_face}/{s.frames} frames; "
                f"blinks/min R {right.blinks.per_minute:.1f} L {left.blinks.per_minute:.1f}; "
                f"MRD1 (mm) R {_lid(right, 'mrd1')}, L {_lid(left, 'mrd1')}; "
                f"horizontal deviation {s.deviation.horizontal.median_pd:+.1f} PD"
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
    report.write({"clinical_summary": [s.numbers() for s in summaries]})
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


def write_recording(report: Any, recording: Recording, s: ClinicalSummary, tag: str) -> None:
    """One recording's section, into anything with Report's heading, paragraph, table and figure (the PDF too)."""
    report.heading(s.recording)
    dropped = f" ({s.dropped_frames} dropped by the daemon: gaps in time, not measured)" if s.dropped_frames else ""
    report.paragraph(f"{s.seconds:.1f} s at {s.fps:.1f} frames/s; the face was tracked in "
                     f"{s.frames_with_face} of {s.frames} frames{dropped}.")
    eyes = [s.eyes.of(side) for side in SIDES]
    report.table(
        ["", "right eye", "left eye", "normal range"],
        [
            ["blinks (count, per minute)", *(f"{e.blinks.count}, " + _flagged(e.blinks.per_minute, "blinks_per_minute")
                                             for e in eyes), _range_cell("blinks_per_minute")],
            ["blink duration, median (ms)", *(_whole(e.blinks.median_duration_ms) for e in eyes), ""],
            ["complete blinks", *(_whole(100 * e.blinks.complete_fraction, " %") for e in eyes), ""],
            ["MRD1 (mm)", *(_lid(e, "mrd1") for e in eyes), _range_cell("mrd1")],
            ["MRD2 (mm)", *(_lid(e, "mrd2") for e in eyes), _range_cell("mrd2")],
            ["palpebral fissure (mm)", *(_lid(e, "fissure") for e in eyes), _range_cell("fissure")],
            ["gaze yaw, 5-95 % (deg)", *(_span(e.gaze_yaw_range_deg) for e in eyes), ""],
            ["gaze pitch, 5-95 % (deg)", *(_span(e.gaze_pitch_range_deg) for e in eyes), ""],
            [f"gaze beyond {GAZE_READ_LIMIT_DEG:g} deg, not measured",
             *(_whole(100 * e.gaze_at_limit_fraction, " %") for e in eyes), ""],
            ["oscillation, horizontal (Hz, deg p-p)", *(_beat(e.oscillation_yaw) for e in eyes), "none"],
            ["oscillation, vertical (Hz, deg p-p)", *(_beat(e.oscillation_pitch) for e in eyes), "none"],
            ["covered (times, s)", *(f"{e.covered.episodes}, {e.covered.seconds:.1f}" for e in eyes), ""],
        ],
    )
    report.paragraph(_footnotes())
    horizontal = s.deviation.horizontal
    asymmetry = {name: value for name, value in vars(s.lid_asymmetry_mm).items() if math.isfinite(value)}
    report.paragraph(
        "Deviation between the eyes (right minus left; horizontal > 0 convergent, vertical > 0 right eye lower; "
        "horizontal: the vergence beyond what fixating the camera demands): "
        + "; ".join(f"{axis} median {d.median_pd:+.1f} PD ({d.median_deg:+.1f} deg), 5-95 % "
                    f"{_span(d.range_pd)} PD" for axis, d in vars(s.deviation).items())
        + f". Vergence, median {horizontal.vergence_median_pd:+.1f} PD. Lid asymmetry, right minus left: "
        + (", ".join(f"{name.upper() if name != 'fissure' else 'fissure'} {value:+.1f} mm" for name, value in asymmetry.items())
           or "within normal limits") + "."
    )
    report.paragraph(
        f"Assumed: a visible iris {IRIS_DIAMETER_MM:g} mm across (SD {IRIS_DIAMETER_SD_MM:g} mm, so any one person's "
        f"mm are uncertain by about {IRIS_DIAMETER_SD_MM / IRIS_DIAMETER_MM:.0%}); the eyes fixating the camera, "
        + _fixation(horizontal.fixation_distance_mm)
        + f"; frame times from the source's capture clock ({s.fps:.1f} frames/s)."
    )
    face = s.face
    report.table(
        ["action unit", "FACS", "right: movement above rest (95th percentile)", "left: the same",
         "asymmetry (median while moving)"],
        [[name, f"AU{u.facs}", u.right, u.left, u.asymmetry] for name, u in face.action_units.items()],
    )
    report.table(
        ["height above the population's resting face", "right (median)", "left (median)"],
        [["brow (mm)", face.brow_height_mm.right, face.brow_height_mm.left],
         ["mouth corner (mm)", face.mouth_corner_height_mm.right, face.mouth_corner_height_mm.left]],
    )
    report.figure(f"{tag}_eyes", _eyes_figure(recording, s), f"{s.recording}: gaze, deviation and lids over time")
    report.figure(f"{tag}_spectrum", _spectrum_figure(recording), f"{s.recording}: gaze spectra per eye")


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


def _lid(eye: EyeSummary, name: str) -> str:
    """An eye's resting lid level in mm, flagged against its range; or within normal limits, where it was withheld."""
    return WITHIN_NORMAL if eye.lids_within_normal.of(name) else _flagged(eye.lids_mm.of(name), name)


def _footnotes() -> str:
    defaults = ClinicalConfig()
    return (
        f"{WITHIN_NORMAL.capitalize()}: the lid's resting level met none of the clinical criteria (config `clinical`; "
        f"by default MRD1 above {defaults.ptosis_mrd1_mm:g} mm and at most {defaults.retraction_mrd1_mm:g} mm, MRD2 at "
        f"most {defaults.scleral_show_mrd2_mm:g} mm, the two eyes within {defaults.lid_asymmetry_mm:g} mm), so the "
        "person's own level is withheld from the mask and the signals (it would identify them); a level that meets "
        "one is shown in mm. (low), (high): outside the normal range. Normal ranges: "
        + "; ".join(f"[{number}] {normal.reference}" for number, normal in enumerate(NORMAL_RANGES.values(), 1)) + ". "
        "One reading strays, on faces without the sign (1 SD; `dmask eval repeatability`, docs/fidelity.md, \"Repeatability\"), by: "
        + "; ".join(u.words() for u in UNCERTAINTY.values()) + "."
    )


def _span(pair: tuple[float, float]) -> str:
    return f"{pair[0]:+.1f} to {pair[1]:+.1f}"


def _beat(found: Beat) -> str:
    if not math.isfinite(found.frequency_hz):
        return "none"
    return f"{found.frequency_hz:.1f} Hz, {found.amplitude_deg:.1f}"


def _eyes_figure(recording: Recording, s: ClinicalSummary) -> Any:
    figure, axes = pyplot().subplots(3, 1, figsize=(9, 7), sharex=True)
    t = recording.seconds - recording.seconds[0]
    for side, colour in zip(SIDES, ("tab:blue", "tab:orange")):
        axes[0].plot(t, recording[f"{side}_gaze_yaw_deg"], color=colour, label=f"{side} yaw")
        axes[0].plot(t, recording[f"{side}_gaze_pitch_deg"], color=colour, linestyle=":", label=f"{side} pitch")
        axes[2].plot(t, recording[f"{side}_fissure_mm"], color=colour, label=f"{side} fissure")
        for onset in s.eyes.of(side).blinks.onsets_s:
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
