"""`dmask report`: the clinical summary of a recording, from a signals sidecar with known signs."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from dmask.measure.clinical import GAZE_READ_LIMIT_DEG, UNCERTAINTY
from dmask.measure.fit import IRIS_MODEL_YAW_GAIN
from dmask.records import EyeParams
from dmask.signals import SCHEMA, face_record
from support import assert_error, dmask, eye_params, mask_params

FPS = 30.0
SECONDS = 20.0
BLINK_ONSETS_S = (2.0, 7.0, 12.0, 17.0)
NYSTAGMUS_HZ, NYSTAGMUS_PP_DEG = 4.0, 6.0
LEFT_COVERS_S = ((4.0, 5.0), (9.0, 10.5))  # a cover test on the left eye, between blinks


def frame(t: float, aside: tuple[float, float] = (0.0, 0.0)) -> dict:
    """One frame's signals: a 4 Hz horizontal oscillation, a right ptosis, blinks of 100 ms, and two covers of the left eye;
    the right eye looking past what is read from `aside`[0] to [1] s."""
    closing = any(onset <= t < onset + 0.1 for onset in BLINK_ONSETS_S)
    yaw = 0.5 * NYSTAGMUS_PP_DEG * math.sin(2 * math.pi * NYSTAGMUS_HZ * t)
    right = dataclasses.replace(eye_params(yaw, 0.0, 0.0 if closing else 0.1, 0.0 if closing else 0.12), mrd1_mm=1.0)
    if aside[0] <= t < aside[1]:
        right = dataclasses.replace(right, gaze_yaw=math.radians(GAZE_READ_LIMIT_DEG), gaze_at_limit=True)
    left = eye_params(yaw, 0.0, 0.0 if closing else 0.15, 0.0 if closing else 0.12)
    if any(start <= t < end for start, end in LEFT_COVERS_S):
        left = EyeParams.hidden()
    face = mask_params(right_eye=right, left_eye=left)
    return {"v": 9, "seq": round(t * FPS), "capture_ts": 100.0 + t, "status": "ok", "schema": SCHEMA,
            "faces": [face_record(face)]}


@pytest.fixture()
def sidecar(tmp_path):
    path = tmp_path / "visit.signals.jsonl"
    lines = [json.dumps(frame(i / FPS)) for i in range(int(SECONDS * FPS))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_reads_blinks_nystagmus_and_lids_from_the_signals(sidecar, tmp_path):
    from dmask.clinical.recording import load_recording
    from dmask.clinical.summary import summarise

    summary = summarise(load_recording(sidecar))
    for side in ("right", "left"):
        eye = summary.eyes.of(side)
        assert eye.blinks.count == 4
        assert eye.blinks.per_minute == pytest.approx(4 / (SECONDS - 1 / FPS) * 60, rel=1e-3)
        assert eye.blinks.median_duration_ms == pytest.approx(100.0, abs=1000 / FPS + 1)
        assert eye.blinks.complete_fraction == 1.0
        assert eye.oscillation_yaw.frequency_hz == pytest.approx(NYSTAGMUS_HZ, abs=0.1)
        assert eye.oscillation_yaw.amplitude_deg == pytest.approx(NYSTAGMUS_PP_DEG, rel=0.1)
        assert math.isnan(eye.oscillation_pitch.frequency_hz)
    assert (summary.eyes.left.covered.episodes, summary.eyes.left.covered.seconds) == (2, pytest.approx(2.5, abs=1.5 / FPS))
    assert (summary.eyes.right.covered.episodes, summary.eyes.right.covered.seconds) == (0, 0.0)
    assert summary.eyes.right.lids_mm.mrd1 == 1.0
    assert summary.lid_asymmetry_mm.mrd1 == pytest.approx(-3.5)


def test_dmask_report_writes_markdown_plots_and_json_without_pixels(sidecar, tmp_path):
    out = tmp_path / "report"
    run = dmask(tmp_path, "report", sidecar, "-o", out)
    assert run.returncode == 0, run.stderr
    assert "visit.signals.jsonl: 20.0 s" in run.stdout and "MRD1 (mm) R 1.0 (low), L 4.5" in run.stdout
    numbers = json.loads((out / "results.json").read_text())["clinical_summary"][0]
    assert numbers["eyes"]["left"]["blinks"]["count"] == 4
    text = (out / "report.md").read_text()
    assert re.search(r"\| oscillation, horizontal \(Hz, deg p-p\) \| 4\.0 Hz, (5\.[5-9]|6\.[0-5]) \|", text)
    assert "r1_eyes.png" in text
    assert UNCERTAINTY["horizontal_deviation"].words() in text and UNCERTAINTY["mrd1"].words() in text
    assert sorted(p.name for p in out.glob("*.png")) == ["r1_eyes.png", "r1_spectrum.png"]


def test_a_folder_holding_a_report_is_refused_before_any_work_and_replaced_with_overwrite(sidecar, tmp_path):
    """One overwrite rule (issue 29): report -o replaced an earlier report silently, where mask refuses."""
    out = tmp_path / "report"
    assert dmask(tmp_path, "report", sidecar, "-o", out).returncode == 0
    (out / "report.md").write_text("an earlier report")
    assert_error(dmask(tmp_path, "report", sidecar, "-o", out),
                 f"{out / 'report.md'}: already holds a report; pass --overwrite to replace it, or choose another name")
    assert (out / "report.md").read_text() == "an earlier report"
    assert dmask(tmp_path, "report", sidecar, "-o", out, "--overwrite").returncode == 0
    assert (out / "report.md").read_text().startswith("# ")


def test_the_frames_an_eye_looked_past_what_is_read_are_counted(tmp_path):
    sidecar = tmp_path / "aside.signals.jsonl"
    sidecar.write_text("".join(json.dumps(frame(i / FPS, aside=(5.0, 7.0))) + "\n" for i in range(int(SECONDS * FPS))))
    out = tmp_path / "report"
    run = dmask(tmp_path, "report", sidecar, "-o", out)
    assert run.returncode == 0, run.stderr
    assert "| gaze beyond 50 deg, not measured | 10 % | 0 % |" in (out / "report.md").read_text()


def test_frames_the_daemon_dropped_are_gaps_in_time_and_the_nystagmus_keeps_its_rhythm(tmp_path):
    """Dropped frames closed up as if they had never been would play the 4 Hz beat faster."""
    from dmask.clinical.recording import load_recording
    from dmask.clinical.summary import summarise

    kept = [i for i in range(int(SECONDS * FPS)) if i % 7 not in (3, 4)]  # 2 of every 7 frames dropped
    path = tmp_path / "dropped.signals.jsonl"
    path.write_text("".join(json.dumps(frame(i / FPS)) + "\n" for i in kept))
    recording = load_recording(path)
    rows = kept[-1] + 1
    assert (len(recording.seconds), recording.dropped) == (rows, rows - len(kept))
    assert np.isnan(recording["right_gaze_yaw_deg"][3]) and recording.seconds[3] == pytest.approx(100.0 + 3 / FPS)
    summary = summarise(recording)
    assert summary.fps == pytest.approx(FPS) and summary.dropped_frames == recording.dropped
    assert summary.oscillation.horizontal.frequency_hz == pytest.approx(NYSTAGMUS_HZ, abs=0.1)


def test_a_withheld_normal_lid_reads_within_normal_limits_beside_its_range_and_a_low_one_is_flagged(tmp_path):
    """The population's MRD1 of 4.5 mm was published as the patient's (issue 25); a figure stood beside no range."""
    normal = dataclasses.replace(eye_params(), mrd1_mm=math.nan, mrd2_mm=math.nan, mrd1_normal=True, mrd2_normal=True)
    low = dataclasses.replace(eye_params(), mrd1_mm=1.0)
    path = tmp_path / "visit.signals.jsonl"
    path.write_text("".join(json.dumps({**frame(i / FPS), "faces": [face_record(mask_params(right_eye=low, left_eye=normal))]})
                            + "\n" for i in range(90)))
    out = tmp_path / "report"
    run = dmask(tmp_path, "report", path, "-o", out)
    assert run.returncode == 0, run.stderr
    text = (out / "report.md").read_text()
    assert "| MRD1 (mm) | 1.0 (low) | within normal limits | 3.5-5.5 mm [1] |" in text
    assert "| MRD2 (mm) | 5.2 | within normal limits | 4.5-6 mm [2] |" in text
    assert "[1] MRD1 about 3.5-5.5 mm in adults" in text and "Assumed: a visible iris 11.7 mm across" in text
    assert text.index("## Appendix") > text.index("| MRD1 (mm)") and "commit" not in text[: text.index("## Appendix")]
    numbers = json.loads((out / "results.json").read_text())["clinical_summary"][0]["eyes"]["left"]
    assert numbers["lids_within_normal"] == {"mrd1": True, "mrd2": True, "fissure": True}


def test_a_file_that_is_not_a_sidecar_is_named(tmp_path):
    bad = tmp_path / "notes.signals.jsonl"
    bad.write_text("hello\n")
    assert_error(dmask(tmp_path, "report", bad), f"{bad}:1: not a JSON line (Expecting value); is this a signals sidecar?")
    assert_error(dmask(tmp_path, "report", tmp_path / "none.mp4"), f"{tmp_path / 'none.signals.jsonl'}: no such file; "
                 "give a recording's .signals.jsonl (or its video) or the CSV of dmask mask --signals")


def test_a_signals_csv_is_read_like_a_sidecar(tmp_path):
    from dmask.clinical.recording import load_recording
    from dmask.records import FrameStatus, MaskedFrame
    from dmask.signals import SignalCsvWriter

    path = tmp_path / "signals.csv"
    with SignalCsvWriter(path) as writer:
        for i in range(3):
            face = mask_params(right_eye=dataclasses.replace(eye_params(), mrd1_mm=1.0 + i))
            writer.write(MaskedFrame(np.zeros((2, 2, 3), np.uint8), i, i / FPS, FrameStatus.OK, (face,)), file="a.mp4")
        writer.write(MaskedFrame(np.zeros((2, 2, 3), np.uint8), 3, 3 / FPS, FrameStatus.NO_FACE), file="a.mp4")
    recording = load_recording(path)
    assert recording.seconds.tolist() == pytest.approx([0, 1 / FPS, 2 / FPS, 3 / FPS], abs=1e-6)  # CSV: 6 decimals
    assert recording["right_mrd1_mm"][:3].tolist() == [1.0, 2.0, 3.0] and math.isnan(recording["right_mrd1_mm"][3])


def test_a_sidecar_of_another_schema_is_refused(tmp_path):
    old = tmp_path / "old.signals.jsonl"
    old.write_text(json.dumps({"v": 1, "seq": 0, "capture_ts": 0.0, "faces": []}) + "\n")
    assert_error(dmask(tmp_path, "report", old),
                 f"{old}:1: schema None, expected 'dmask.signals/9'; record again with this version of dmask")


@pytest.fixture(scope="module")
def talking_head(shared_data, tmp_path_factory):
    """A real healthy face's signals, as `dmask mask --signals` writes them (216 frames at 30 fps)."""
    directory = tmp_path_factory.mktemp("talking")
    run = dmask(directory, "mask", shared_data / "videos" / "lp_driving_d18.mp4", "-o", "masked.mp4", "--signals", "face.csv")
    assert run.returncode == 0, run.stderr
    from dmask.clinical.recording import load_recording

    return load_recording(directory / "face.csv")


def test_a_healthy_face_has_no_oscillation_and_an_added_3hz_nystagmus_is_found_at_its_size(talking_head):
    """The old single-eye position spectrum called 17 of 22 healthy videos nystagmus (issue 25)."""
    from dmask.clinical.summary import summarise

    healthy = summarise(talking_head)
    assert math.isnan(healthy.oscillation.horizontal.frequency_hz)
    assert math.isnan(healthy.oscillation.vertical.frequency_hz)
    frames = np.arange(len(talking_head.seconds))
    size = 2.0 / IRIS_MODEL_YAW_GAIN  # 3 deg peak to peak: the iris model reads it, and the head's own movement, at 2/3
    for phase in (0.0, 1.6, 3.1):
        beat = 0.5 * size * np.sin(2 * np.pi * 3.0 * frames / talking_head.fps + phase)
        fields = dict(talking_head.fields)
        for side in ("right", "left"):
            fields[f"{side}_gaze_yaw_deg"] = talking_head[f"{side}_gaze_yaw_deg"] + beat
        found = summarise(dataclasses.replace(talking_head, fields=fields)).oscillation
        assert found.horizontal.frequency_hz == pytest.approx(3.0, rel=0.1)
        assert found.horizontal.amplitude_deg == pytest.approx(size, rel=0.1)
        assert math.isnan(found.vertical.frequency_hz)
