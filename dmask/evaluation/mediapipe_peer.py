"""`dmask bench --against-mediapipe`: our inference against MediaPipe's own runtime.

MediaPipe 0.10.14's FaceMesh with iris (`refine_landmarks=True`: one
attention mesh, run by its graph with XNNPACK) is what our three networks
came from. It needs opencv-contrib-python and an older protobuf, so it runs
in its own venv (tools/install_mediapipe.sh makes `.venv-mediapipe`) as
`mediapipe_timer.py`, on the same video as `dmask bench`, in lock-step: after
each of our frames, MediaPipe processes the same frame. Machines here change
speed 2-3x within minutes; alternating frame by frame lets both runtimes see
the machine in the same state. The figure compared is inference on a
tracked frame (no detector run): crops, the face mesh, both eyes' iris model
and the eye-evidence test, against MediaPipe's `process` on the same frames.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmask.bench import TRACKED, BenchReport
from dmask.errors import EvaluationError

REPO_PYTHON = Path(__file__).resolve().parents[2] / ".venv-mediapipe" / "bin" / "python"
TIMER = Path(__file__).with_name("mediapipe_timer.py")
INSTALL_HINT = "run tools/install_mediapipe.sh or pass --mediapipe-python PATH"
TARGET_RATIO = 1.0


@dataclass(frozen=True)
class MediaPipeComparison:
    """Our inference on tracked frames against MediaPipe's on the same frames.

    ours_cpu_ms: our mean CPU on a tracked frame, every thread's;
    mediapipe_ms, mediapipe_cpu_ms: (frames,) float64 wall and CPU
    milliseconds of MediaPipe's `process` on each measured frame.
    """

    video: str
    version: str
    ours_p50_ms: float
    ours_cpu_ms: float
    ours_frames: int
    mediapipe_ms: np.ndarray
    mediapipe_cpu_ms: np.ndarray

    @property
    def mediapipe_p50_ms(self) -> float:
        return float(np.percentile(self.mediapipe_ms, 50))

    @property
    def ratio(self) -> float:
        """Our time over MediaPipe's: at or below 1.0 is as fast or faster."""
        return self.ours_p50_ms / self.mediapipe_p50_ms

    def line(self) -> str:
        return (
            f"  inference on a tracked frame: dmask {self.ours_p50_ms:.2f} ms p50 (CPU {self.ours_cpu_ms:.2f} ms a frame, "
            f"{self.ours_frames} frames); MediaPipe {self.version} FaceMesh with iris {self.mediapipe_p50_ms:.2f} ms p50 "
            f"(CPU {np.mean(self.mediapipe_cpu_ms):.2f} ms a frame): {self.ratio:.2f}x MediaPipe's time"
        )

    def numbers(self) -> dict:
        return {
            "mediapipe_version": self.version,
            "dmask_tracked_p50_ms": self.ours_p50_ms,
            "dmask_tracked_cpu_mean_ms": self.ours_cpu_ms,
            "dmask_tracked_frames": self.ours_frames,
            "mediapipe_p50_ms": self.mediapipe_p50_ms,
            "mediapipe_p95_ms": float(np.percentile(self.mediapipe_ms, 95)),
            "mediapipe_cpu_mean_ms": float(np.mean(self.mediapipe_cpu_ms)),
            "mediapipe_frames": len(self.mediapipe_ms),
            "ratio": self.ratio,
        }


def locate_mediapipe(explicit: Path | None) -> Path:
    """The python of MediaPipe's venv: the one asked for, else the repository's."""
    python = explicit if explicit is not None else REPO_PYTHON
    if not os.access(python, os.X_OK):
        raise EvaluationError(f"{python}: no python with mediapipe there; {INSTALL_HINT}")
    return python


class MediaPipeStepper:
    """MediaPipe in its own process, one frame per `step()`, in order from the video's first.

    Use as a context manager; `times()` gives the steps after `warmup`.
    """

    def __init__(self, python: Path, video: Path, warmup: int) -> None:
        self.warmup = warmup
        self.rows: list[tuple[float, float]] = []
        self.errors = tempfile.TemporaryFile()  # MediaPipe logs there; a pipe could fill and stall it
        self.process = subprocess.Popen(
            [str(python), str(TIMER), str(video)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True,
        )
        ready = self._reply()
        if not ready.startswith("ready "):
            problem = ready or self._last_error()
            self.close()
            raise EvaluationError(f"mediapipe did not start: {problem}; {INSTALL_HINT}")
        self.version = ready.split()[1]

    def step(self) -> None:
        self.process.stdin.write("next\n")
        self.process.stdin.flush()
        reply = self._reply()
        fields = reply.split()
        if len(fields) != 3:
            raise EvaluationError(f"mediapipe stopped: {reply or self._last_error()}")
        self.rows.append((float(fields[0]), float(fields[1])))

    def times(self) -> tuple[np.ndarray, np.ndarray]:
        """(wall ms, CPU ms) of the steps after the warm-up, each (frames,)."""
        rows = np.array(self.rows[self.warmup :], np.float64).reshape(-1, 2)
        return rows[:, 0], rows[:, 1]

    def _reply(self) -> str:
        return self.process.stdout.readline().strip()

    def _last_error(self) -> str:
        self.process.kill()
        code = self.process.wait()
        self.errors.seek(0)
        lines = self.errors.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit {code}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.errors.close()

    def __enter__(self) -> "MediaPipeStepper":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def compare(bench: BenchReport, stepper: MediaPipeStepper) -> MediaPipeComparison:
    tracked = bench.stage(TRACKED)
    wall, cpu = stepper.times()
    return MediaPipeComparison(bench.video, stepper.version, tracked.milliseconds[0], tracked.cpu_ms, tracked.calls, wall, cpu)
