"""`dmask mask`, `dmask demo` and `dmask bench` succeeding, as real subprocesses."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import numpy as np

from dmask.config import load_config
from dmask.capture.media import VideoReader, read_photo
from dmask.provenance import provenance_key, seal_problem
from support import damaged_copy, dmask, dmask_env, video_streams


def test_mask_a_video_and_a_photo_with_signals(tmp_path, shared_data, provenance_home):
    video = shared_data / "videos/lp_driving_d1.mp4"
    photo = shared_data / "identities/eric_clapton/of_clapton-2.jpg"
    result = dmask(tmp_path, "mask", video, photo, "-o", "out", "--signals", "signals.csv", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"masked 1 video and 1 photo: 17 frames, 17 faces, 0 frames failed closed; [\d.]+ fps; videos in H.264\n", result.stdout
    )

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
    assert video_streams(tmp_path / "out" / video.name) == [("video", "h264", "yuv420p")]
    # sealed with the key made on first use (issue 26, defect 9), which only its owner can read
    assert seal_problem(tmp_path / "out" / video.name, provenance_key(load_config(None), create=False)) is None
    assert provenance_home.stat().st_mode & 0o777 == 0o600 and provenance_home.parent.stat().st_mode & 0o777 == 0o700


def test_a_damaged_video_is_masked_as_far_as_it_decodes_and_the_shortfall_is_an_error(tmp_path, shared_data):
    """Its output is kept; the summary counts what was masked; one line names both counts and the fix (issue 25)."""
    damaged_copy(shared_data / "videos/lp_driving_d1.mp4", tmp_path / "damaged.mp4", 3000)
    result = dmask(tmp_path, "mask", "damaged.mp4", "-o", "out.mp4", "--no-progress")
    assert result.returncode == 2
    found = re.fullmatch(
        r"dmask: error: damaged.mp4: decoded (\d+) of the 16 frames its container lists \(\d+ damaged packets? skipped\), "
        r"so its output is that much shorter; copy or export the file again from its source\n", result.stderr)
    assert found and 0 < int(found[1]) < 16
    assert result.stdout.startswith(f"masked 1 video: {found[1]} frames, {found[1]} faces")
    with VideoReader(tmp_path / "out.mp4") as masked:
        assert len(list(masked)) == int(found[1])


def test_outputs_of_an_earlier_run_are_not_replaced_silently(tmp_path, shared_data):
    photo = shared_data / "identities/eric_clapton/of_clapton-2.jpg"
    first = dmask(tmp_path, "mask", photo, "-o", "out.jpg", "--signals", "signals.csv", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "masked 1 photo: 1 frame, 1 face, 0 frames failed closed\n"
    before = (tmp_path / "signals.csv").read_bytes()
    (tmp_path / "signals.csv").write_text("kept\n")
    again = dmask(tmp_path, "mask", photo, "-o", "other.jpg", "--signals", "signals.csv", "--no-progress")
    assert again.returncode == 2
    assert again.stderr == "dmask: error: signals.csv: already exists; pass --overwrite to replace it, or choose another name\n"
    assert (tmp_path / "signals.csv").read_text() == "kept\n" and not (tmp_path / "other.jpg").exists()
    forced = dmask(tmp_path, "mask", photo, "-o", "out.jpg", "--signals", "signals.csv", "--overwrite", "--no-progress")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "signals.csv").read_bytes() == before


def test_the_partials_a_killed_mask_left_are_swept_by_the_next_one(tmp_path, shared_data):
    """dmask mask killed outright left .out.partial-PID.mp4 files that no later run removed (issue 26)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    left = [tmp_path / f".visit.partial-{dead.pid}.mp4", tmp_path / f".signals.partial-{dead.pid}.csv"]
    for path in left:
        path.write_bytes(b"half written")
    other = tmp_path / f".other.partial-{dead.pid}.mp4"  # another output's: not this run's business
    other.write_bytes(b"half written")
    result = dmask(tmp_path, "mask", shared_data / "videos" / "lp_driving_d1.mp4", "-o", "visit.mp4",
                   "--signals", "signals.csv", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not any(path.exists() for path in left) and other.exists()
    assert (tmp_path / "visit.mp4").is_file() and (tmp_path / "signals.csv").is_file()


def test_demo_records_every_frame_of_the_clip(tmp_path):
    """The README's first command: daemon and recorder on the astronaut clip.

    The clip waits for the daemon, so every frame is recorded however busy
    the machine is; the stream ends with the clip, not with a blank frame.
    """
    result = dmask(tmp_path, "demo", "-o", "demo", "--frames", "12")
    assert result.returncode == 0, result.stderr
    played, daemon, recorded, wrote = result.stdout.splitlines()
    assert played == "the astronaut clip played to its end: 12 frames into the daemon"
    assert daemon.startswith("daemon: source ended (end of file) | ")
    assert re.search(r" \| \d+ frames processed, 0 dropped \(0 before processing, 0 before publishing, 0 by the publisher\) \| ", daemon)
    assert recorded == (
        "recorded 12 frames in 1 H.264 file; no frames missing; statuses: ok=12, no_face=0, failed_closed=0, source_down=0"
    )
    assert wrote == "wrote demo/astronaut_masked.mp4 (H.264) and demo/astronaut_masked.signals.jsonl"
    video = tmp_path / "demo" / "astronaut_masked.mp4"
    assert video_streams(video) == [("video", "h264", "yuv420p")]
    with VideoReader(video) as reader:
        frames = [frame.image for frame in reader]
    assert len(frames) == 12
    drawn = [(np.abs(frame.astype(int) - 96).max(axis=2) > 40).mean() for frame in frames]
    assert min(drawn) > 0.02, "a blank frame was recorded"
    lines = (tmp_path / "demo" / "astronaut_masked.signals.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(12))
    assert {json.loads(line)["status"] for line in lines} == {"ok"}
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["astronaut_masked.mp4", "astronaut_masked.signals.jsonl"]

    summary = dmask(tmp_path, "report", video, "-o", "report")
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.startswith("astronaut_masked.signals.jsonl: ") and "face in 12/12 frames" in summary.stdout
    assert json.loads((tmp_path / "report" / "results.json").read_text())["clinical_summary"][0]["frames_with_face"] == 12


def test_bench_prints_every_stage(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4")
    assert result.returncode == 0, result.stderr
    for stage in ("decode", "inference", "detector", "face mesh", "iris (both eyes)", "fit", "render", "encode"):
        # p50, p95, p99 wall, mean CPU, calls
        assert re.search(rf"^\s+{re.escape(stage)}(\s+[\d.]+){{4}}\s+\d+$", result.stdout, re.MULTILINE), stage
    assert re.search(r"end to end: [\d.]+ fps; CPU [\d.]+ ms a frame over all threads, at most \d+ fps on \d+ cores; "
                     r"peak memory \d+ MiB", result.stdout)


def test_bench_refuses_a_photo(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "identities/eric_clapton/of_clapton-2.jpg")
    assert result.returncode == 2
    assert "not a video" in result.stderr


def test_eval_fidelity_prints_its_summary_and_where_the_report_went(tmp_path, shared_data):
    result = dmask(tmp_path, "eval", "fidelity", shared_data / "videos/lp_driving_d1.mp4", "-o", "report", "--no-progress")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lp_driving_d1.mp4 (mediapipe): 16/16 frames with a face, masked detection 100.0%")
    assert lines[1].startswith("lp_driving_d1.mp4 (dlib): 16/16 frames with a face")
    assert lines[-1] == "wrote report/report.md (it shows raw faces: keep it with the originals)"
    assert sum("report.md" in line for line in lines) == 1
    assert (tmp_path / "report/report.md").is_file()


def test_masking_needs_no_scipy(tmp_path, shared_data):
    """The appliance's install has no SciPy (only the eval and pacs extras bring it). numba compiled the
    action-unit fit's dot product to a BLAS call through SciPy: there every face failed closed, and a
    kernel cached where SciPy was installed aborted the process. Kernels compiled afresh, SciPy hidden."""
    hide_scipy = "import sys; sys.modules['scipy'] = None; from dmask.cli import main; main()"
    photo = shared_data / "identities/angelina_jolie/df_img7.jpg"
    result = subprocess.run([sys.executable, "-c", hide_scipy, "mask", photo, "-o", tmp_path / "masked.png"],
                            env={**dmask_env(), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "masked 1 photo: 1 frame, 1 face, 0 frames failed closed" in result.stdout, result.stdout + result.stderr
