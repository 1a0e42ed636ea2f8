"""`dmask mask`, `dmask demo` and `dmask bench` succeeding, as real subprocesses."""

from __future__ import annotations

import csv
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


def test_demo_writes_a_masked_clip_and_its_signals(tmp_path):
    result = dmask(tmp_path, "demo", "-o", "demo", "--frames", "12")
    assert result.returncode == 0, result.stderr
    assert "masked 1 file: 12 frames, 12 faces, 0 frames failed closed" in result.stdout
    capture = cv2.VideoCapture(str(tmp_path / "demo" / "astronaut_masked.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    with open(tmp_path / "demo" / "astronaut_signals.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 12


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
