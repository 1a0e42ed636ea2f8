"""`dmask mask`, `dmask demo` and `dmask bench` succeeding, as real subprocesses."""

from __future__ import annotations

import csv
import json
import re

import cv2
import numpy as np

from edge.media import VideoReader, read_photo
from test_cli_errors import dmask


def test_mask_a_video_and_a_photo_with_signals(tmp_path, shared_data):
    video = shared_data / "videos/lp_driving_d1.mp4"
    photo = shared_data / "identities/eric_clapton/of_clapton-2.jpg"
    result = dmask(tmp_path, "mask", video, photo, "-o", "out", "--signals", "signals.csv", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"masked 2 files: 17 frames, 17 faces, 0 frames failed closed, [\d.]+ fps\n", result.stdout)

    with VideoReader(video) as original, VideoReader(tmp_path / "out" / video.name) as masked:
        assert (masked.width, masked.height, masked.fps) == (original.width, original.height, original.fps)
        pairs = list(zip(original, masked))
    assert len(pairs) == 16
    for before, after in pairs:
        assert np.abs(before.image.astype(int) - after.image).mean() > 20
    masked_photo = read_photo(tmp_path / "out" / photo.name)
    assert masked_photo.shape == read_photo(photo).shape

    with open(tmp_path / "signals.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file"] for r in rows] == [video.name] * 16 + [photo.name]
    assert {r["status"] for r in rows} == {"ok"}
    assert all(0.0 < float(r["right_aperture"]) < 0.6 for r in rows[:4])
    assert [r.name for r in (tmp_path / "out").iterdir()] and not list(tmp_path.rglob(".*partial*"))


def test_demo_runs_the_daemon_with_a_recorder(tmp_path):
    """The README's first command: daemon and recorder on the astronaut clip."""
    result = dmask(tmp_path, "demo", "-o", "demo", "--frames", "12")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.splitlines()[0]
    assert re.match(r"recorded (12|13) frames in 1 file, 0 missing frames \(gaps\), statuses: ok=12, no_face=0, failed_closed=0", summary)
    assert "last status: source down (end of file)" in summary
    capture = cv2.VideoCapture(str(tmp_path / "demo" / "astronaut_masked.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) in (12, 13)
    lines = (tmp_path / "demo" / "astronaut_masked.signals.jsonl").read_text().splitlines()
    statuses = [json.loads(line)["status"] for line in lines]
    assert statuses[:12] == ["ok"] * 12
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["astronaut_masked.mp4", "astronaut_masked.signals.jsonl"]


def test_bench_prints_every_stage(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4")
    assert result.returncode == 0, result.stderr
    for stage in ("decode", "inference", "detector", "face mesh", "iris (both eyes)", "fit", "render", "encode"):
        assert re.search(rf"^\s+{re.escape(stage)}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+$", result.stdout, re.MULTILINE), stage
    assert re.search(r"end to end: [\d.]+ fps; peak memory \d+ MiB", result.stdout)


def test_bench_refuses_a_photo(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "identities/eric_clapton/of_clapton-2.jpg")
    assert result.returncode == 2
    assert "not a video" in result.stderr


def test_eval_fidelity_prints_its_summary_and_where_the_report_went(tmp_path, shared_data):
    result = dmask(tmp_path, "eval", "fidelity", shared_data / "videos/lp_driving_d1.mp4", "-o", "report", "--no-progress")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lp_driving_d1.mp4: 16/16 frames with a face, masked detection 100.0%")
    assert lines[-1] == "wrote report/report.md (it shows raw faces: keep it with the originals)"
    assert sum("report.md" in line for line in lines) == 1
    assert (tmp_path / "report/report.md").is_file()
