"""`dmask bench`'s report and its deface comparison, with real child processes.

The real deface lives in its own venv (tools/install_deface.sh) and its
figures are measured, not tested; here a stand-in `deface` that takes 20 ms a
frame checks the timing, the start-up subtraction and the written report.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from edge.errors import EvaluationError
from edge.evaluation.speed import time_command
from support import assert_error, dmask

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


def test_bench_compares_with_deface_and_writes_a_report(tmp_path, shared_data, slow_deface):
    video = shared_data / "videos/lp_driving_d5.mp4"  # 148 frames: long enough to exclude start-up
    result = dmask(tmp_path, "bench", video, "--frames", "20", "--deface", slow_deface, "-o", "report")
    assert result.returncode == 0, result.stderr
    line = re.search(r"deface: ([\d.]+) fps, dmask mask: ([\d.]+) fps \(start-up excluded\): ([\d.]+)x deface", result.stdout)
    assert line, result.stdout
    deface_fps = float(line[1])
    assert 40 < deface_fps < 60  # 20 ms a frame, once the 0.3 s start-up is subtracted
    numbers = json.loads((tmp_path / "report/results.json").read_text())["bench"]
    timed = numbers["deface"][video.name]
    assert 0.3 < timed["deface"]["startup_seconds"] < 1.5  # its 0.3 s sleep, Python and OpenCV's import
    assert timed["ratio"] == pytest.approx(float(line[2]) / deface_fps, rel=0.02)
    assert numbers["videos"][video.name]["stages_ms"]["render"]["calls"] == 20
    report = (tmp_path / "report/report.md").read_text()
    assert "## Against deface" in report and "| lp_driving_d5.mp4 |" in report
    assert (tmp_path / "report/latency.png").stat().st_size > 1000


def test_a_clip_too_short_to_exclude_start_up_says_so(tmp_path, shared_data, slow_deface):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4", "--deface", slow_deface)
    assert result.returncode == 0, result.stderr
    assert re.search(r"deface against dmask mask: the clip is too short to exclude start-up; "
                     r"whole commands [\d.]+ and [\d.]+ fps: [\d.]+x$", result.stdout, re.MULTILINE), result.stdout


def test_bench_refuses_a_deface_that_is_not_there(tmp_path, shared_data):
    result = dmask(tmp_path, "bench", shared_data / "videos/lp_driving_d1.mp4", "--deface", tmp_path / "nope")
    assert_error(result, f"{tmp_path / 'nope'}: not an executable deface; run tools/install_deface.sh or pass --deface PATH")
