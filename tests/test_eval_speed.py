"""`dmask bench`'s report and its deface comparison, with real child processes.

The real deface lives in its own venv (tools/install_deface.sh) and its
figures are measured, not tested. The start-up subtraction is checked on
constructed timings, so no assertion depends on how busy the machine is; a
stand-in `deface` that takes 20 ms a frame checks the whole command and the
written report.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from dmask.errors import EvaluationError
from dmask.evaluation.speed import CommandTiming, DefaceComparison, ToolSpeed, time_command
from support import assert_error, dmask

pytestmark = pytest.mark.slow  # timed runs of dmask and its peers: `pytest -m "not slow"` leaves it out

SLOW_DEFACE = f"""#!{sys.executable}
import sys, time, shutil, cv2
frames = int(cv2.VideoCapture(sys.argv[1]).get(cv2.CAP_PROP_FRAME_COUNT))
time.sleep(0.3 + 0.02 * frames)
shutil.copy(sys.argv[1], sys.argv[3])
"""


@pytest.fixture
def slow_deface(tmp_path):
    path = tmp_path / "deface"
    path.write_text(SLOW_DEFACE)
    path.chmod(0o755)
    return path


def test_time_command_reports_a_failure_with_its_last_line():
    with pytest.raises(EvaluationError, match=r"^deface failed \(exit 3\): no such codec$"):
        time_command("deface", [sys.executable, "-c", "import sys; print('x\\nno such codec', file=sys.stderr); sys.exit(3)"], 1)


def test_time_command_measures_the_childs_peak_memory():
    timing = time_command("big", [sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"], 1)
    assert 300 < timing.peak_rss_mib < 600


def test_a_small_child_is_not_charged_with_this_process_memory():
    ballast = bytearray(200 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert time_command("small", [sys.executable, "-c", "pass"], 1).peak_rss_mib < 60


def speed(tool: str, startup: float, frame_seconds: float, frames: int = 148, prefix: int = 10) -> ToolSpeed:
    """A tool's timings on a whole clip and its prefix, as if it took exactly these times."""
    timing = lambda count: CommandTiming(tool, count, startup + frame_seconds * count, 100.0)  # noqa: E731
    return ToolSpeed(whole=timing(frames), prefix=timing(prefix))


def test_start_up_is_taken_out_of_each_rate():
    deface, ours = speed("deface", 0.8, 0.02), speed("dmask mask", 1.5, 0.01)
    assert deface.marginal_fps == pytest.approx(50.0)
    assert deface.startup_seconds == pytest.approx(0.8)
    comparison = DefaceComparison("clip.mp4", deface, ours)
    assert comparison.ratio == pytest.approx(2.0)
    assert comparison.line().startswith("  deface: 50.0 fps, dmask mask: 100.0 fps (start-up excluded): 2.0x deface; ")


def test_a_clip_too_short_to_exclude_start_up_says_so():
    short = DefaceComparison("d1.mp4", speed("deface", 0.8, 0.02, frames=16), speed("dmask mask", 1.5, 0.01, frames=16))
    assert short.line() == (
        "  deface against dmask mask: the clip is too short to exclude start-up; "
        f"whole commands {16 / 1.12:.1f} and {16 / 1.66:.1f} fps: {(16 / 1.66) / (16 / 1.12):.1f}x"
    )


def test_bench_compares_with_deface_and_writes_a_report(tmp_path, shared_data, slow_deface):
    # 448 frames: dmask mask's frames after the first 10 take several seconds even on a fast machine, well
    # above the 1 s the start-up subtraction needs (148 frames took 0.95 s on an AMD EPYC, and the test failed)
    video = shared_data / "videos/lp_driving_d10.mp4"
    result = dmask(tmp_path, "bench", video, "--frames", "20", "--deface", slow_deface, "-o", "report")
    assert result.returncode == 0, result.stderr
    line = re.search(r"deface: ([\d.]+) fps, dmask mask: ([\d.]+) fps \(start-up excluded\): ([\d.]+)x deface", result.stdout)
    assert line, result.stdout
    numbers = json.loads((tmp_path / "report/results.json").read_text())["bench"]
    timed = numbers["deface"][video.name]
    assert timed["deface"]["marginal_fps"] == pytest.approx(float(line[1]), abs=0.05)
    assert timed["ratio"] == pytest.approx(float(line[2]) / float(line[1]), rel=0.02)
    assert timed["deface"]["frames"] == timed["dmask_mask"]["frames"] == 448
    assert numbers["videos"][video.name]["stages_ms"]["render"]["calls"] == 20
    assert numbers["videos"][video.name]["codec"] == "h264"
    # a frame's CPU (every thread's) is its stages' CPU, and bounds the rate the cores allow
    ours = numbers["videos"][video.name]
    stages = sum(ours["stages_ms"][name]["cpu_mean"] for name in ("decode", "inference", "fit", "render", "encode"))
    assert ours["stages_ms"]["render"]["cpu_mean"] > 0 and ours["frame_cpu_ms"] == pytest.approx(stages, rel=0.1)
    cpu = re.search(r"CPU ([\d.]+) ms a frame over all threads, at most (\d+) fps on (\d+) cores", result.stdout)
    assert cpu and float(cpu[1]) == pytest.approx(ours["frame_cpu_ms"], abs=0.05), result.stdout
    assert int(cpu[2]) == round(1e3 * int(cpu[3]) / ours["frame_cpu_ms"]) == round(ours["cpu_bound_fps"])
    report = (tmp_path / "report/report.md").read_text()
    assert "## Against deface" in report and "| lp_driving_d10.mp4 |" in report
    assert (tmp_path / "report/latency.png").stat().st_size > 1000


def test_bench_refuses_a_deface_that_is_not_there(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4", "--deface", tmp_path / "nope")
    assert_error(result, f"{tmp_path / 'nope'}: not an executable deface; run tools/install_deface.sh or pass --deface PATH")


# A stand-in mediapipe: the real timer script runs against it, so the lock-step
# protocol, the frame counts and the report are checked without MediaPipe.
FAKE_MEDIAPIPE = """
import time, types
class FaceMesh:
    def __init__(self, **options):
        assert options == dict(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    def process(self, image):
        assert image.shape == (480, 480, 3)  # lp_driving_d5, RGB
        time.sleep(0.004)
        return types.SimpleNamespace(multi_face_landmarks=[object()])
    def close(self):
        pass
"""


@pytest.fixture
def fake_mediapipe_python(tmp_path):
    package = tmp_path / "fake" / "mediapipe"
    (package / "solutions").mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '0.0-stand-in'\nfrom mediapipe import solutions\n")
    (package / "solutions" / "__init__.py").write_text("from mediapipe.solutions import face_mesh\n")
    (package / "solutions" / "face_mesh.py").write_text(FAKE_MEDIAPIPE)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path / 'fake'} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return python


def test_bench_times_mediapipe_frame_by_frame_beside_ours(tmp_path, shared_data, fake_mediapipe_python):
    video = shared_data / "videos/lp_driving_d5.mp4"
    result = dmask(tmp_path, "bench", video, "--frames", "12", "--no-deface", "--against-mediapipe",
                   "--mediapipe-python", fake_mediapipe_python, "-o", "report")
    assert result.returncode == 0, result.stderr
    line = re.search(r"inference on a tracked frame: dmask ([\d.]+) ms p50 \(CPU ([\d.]+) ms a frame, (\d+) frames\); "
                     r"MediaPipe 0.0-stand-in FaceMesh with iris ([\d.]+) ms p50 .*: ([\d.]+)x MediaPipe's time", result.stdout)
    assert line, result.stdout
    numbers = json.loads((tmp_path / "report/results.json").read_text())["bench"]
    peer = numbers["mediapipe"][video.name]
    assert peer["mediapipe_frames"] == 12  # one MediaPipe frame per measured frame of ours, warm-up excluded
    assert peer["mediapipe_p50_ms"] >= 4.0  # the stand-in sleeps 4 ms a frame
    tracked = numbers["videos"][video.name]["stages_ms"]["on tracked frames"]
    assert 0 < tracked["calls"] < 12  # the detector ran on the other frames
    assert peer["ratio"] == pytest.approx(tracked["p50"] / peer["mediapipe_p50_ms"])
    assert peer["dmask_tracked_cpu_mean_ms"] == pytest.approx(float(line[2]), abs=0.005) and float(line[2]) > 0
    assert "## Against MediaPipe's runtime" in (tmp_path / "report/report.md").read_text()


def test_bench_says_where_mediapipe_is_missing(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4", "--against-mediapipe",
                   "--mediapipe-python", tmp_path / "nope")
    assert_error(result, f"{tmp_path / 'nope'}: no python with mediapipe there; run tools/install_mediapipe.sh or pass --mediapipe-python PATH")


def test_a_mediapipe_that_fails_to_start_is_one_line(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4", "--no-deface", "--against-mediapipe",
                   "--mediapipe-python", sys.executable)  # this venv has no mediapipe
    assert_error(result, "mediapipe did not start: ModuleNotFoundError: No module named 'mediapipe'; "
                         "run tools/install_mediapipe.sh or pass --mediapipe-python PATH")
