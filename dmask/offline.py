"""The library side of `dmask mask`: photo and video files in, masked files
(and optionally the signal CSV) out.

Every input is opened and the output directories checked before the models
are loaded, so a bad tenth file fails in a second instead of after nine videos.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from tqdm import tqdm

from dmask.config import Config, VideoCodec
from dmask.capture.media import (
    MediaKind,
    VideoReader,
    check_decodable,
    drop_dead_partials,
    kind_of_suffix,
    plan_outputs,
    read_photo,
    refuse_existing,
    write_photo_atomic,
)
from dmask.overlap import ReadAhead, WriteBehind
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline, Measured
from dmask.provenance import provenance_key
from dmask.records import Frame, FrameStatus, MaskedFrame
from dmask.signals import SignalCsvWriter
from dmask.video_out import AtomicVideoWriter
from dmask.wording import count


@dataclass(frozen=True)
class MaskSummary:
    """What a run did. faces counts faces over all frames; seconds is the
    masking time, model loading excluded; video_frames and video_seconds are
    the videos' share of frames and seconds (a photo has no frame rate);
    codecs: what the videos were written with; short: one line per video
    that decoded fewer frames than its container lists (damaged input)."""

    photos: int
    videos: int
    frames: int
    faces: int
    failed_closed: int
    seconds: float
    video_frames: int = 0
    video_seconds: float = 0.0
    codecs: frozenset[VideoCodec] = frozenset()
    no_face: int = 0
    short: tuple[str, ...] = ()

    @property
    def files(self) -> int:
        return self.photos + self.videos

    @property
    def fps(self) -> float:
        """Video frames masked per second; 0 without videos."""
        return self.video_frames / self.video_seconds if self.video_seconds > 0 else 0.0

    def line(self) -> str:
        """The line `dmask mask` prints, e.g. `masked 2 videos and 1 photo:
        301 frames, 301 faces, 0 frames failed closed; 85.2 fps; videos in H.264`."""
        kinds = [count(self.videos, "video"), count(self.photos, "photo")]
        what = " and ".join(kind for kind in kinds if not kind.startswith("0 ")) or "0 files"
        text = (
            f"masked {what}: {count(self.frames, 'frame')}, {count(self.faces, 'face')}, "
            f"{count(self.failed_closed, 'frame')} failed closed"
        )
        if self.videos:
            codecs = " and ".join(sorted(codec.label for codec in self.codecs))
            text += f"; {self.fps:.1f} fps; videos in {codecs}"
        return text


class FrameSource(Protocol):
    """A stream of frames of one size: a VideoReader, or the demo clip."""

    fps: float
    width: int
    height: int
    frame_count: int

    def __iter__(self) -> Iterator[Frame]: ...


class OfflineMasker:
    """Masks photos and frame streams with one set of loaded models, writing
    each output atomically and tallying what it did."""

    def __init__(self, config: Config, models: ModelSet, signals: SignalCsvWriter | None, progress: bool) -> None:
        """models: loaded once by the caller (ModelSet.load), shared by every file."""
        self.config = config
        self.seal = provenance_key(config)  # before any work: a key that cannot be used stops the run here
        self.models = models
        self.signals = signals
        self.progress = progress
        self.started = time.perf_counter()
        self.photos = self.videos = self.frames = self.faces = self.failed_closed = self.no_face = 0
        self.video_frames, self.video_seconds = 0, 0.0
        self.codecs: set[VideoCodec] = set()
        self.short: list[str] = []

    def mask_file(self, source: Path, destination: Path) -> None:
        if kind_of_suffix(source) is MediaKind.PHOTO:
            self.mask_photo(source, destination)
            return
        with VideoReader(source, self.config.input.max_video_megapixels) as reader:
            self.mask_video(reader, destination, label=source.name)
        if reader.shortfall:
            self.short.append(
                f"{source}: decoded {reader.decoded} of the {reader.frame_count} frames its container lists "
                f"({count(reader.damaged_packets, 'damaged packet')} skipped), so its output is that much shorter; "
                "copy or export the file again from its source")

    def mask_photo(self, source: Path, destination: Path) -> None:
        """A photo is a stream of one frame with no temporal state."""
        frame = Frame(image=read_photo(source, self.config.input.max_photo_megapixels), seq=0, timestamp=0.0, source_id=source.name)
        masked = MaskPipeline(self.config, still=True, models=self.models).process(frame)
        write_photo_atomic(destination, masked.image, self.config.output.jpeg_quality)
        self._record(masked, source.name)
        self.photos += 1

    def mask_video(self, frames: FrameSource, destination: Path, label: str) -> None:
        """Frames in order through one pipeline into one video of their size and rate.

        Four threads, in order, each handing on through a bounded queue
        (dmask.overlap): decoding, measuring (tracking and the fit, here),
        drawing, encoding. On two cores the two heavy halves of a frame,
        measuring and drawing with encoding, each get a core.
        """
        pipeline = MaskPipeline(self.config, still=False, models=self.models)
        codec = self.config.output.video_codec
        started, frames_before = time.perf_counter(), self.frames
        with (
            AtomicVideoWriter(destination, frames.fps, frames.width, frames.height, codec, seal=self.seal) as writer,
            ReadAhead(frames) as decoded,
            WriteBehind(lambda masked: writer.write(masked.image, masked.timestamp)) as encoder,
            WriteBehind(lambda measured: self._draw(pipeline, measured, encoder, label)) as drawer,
            tqdm(
                decoded,
                total=frames.frame_count or None,
                desc=label,
                unit="frame",
                file=sys.stderr,
                leave=False,
                disable=None if self.progress else True,  # None: only on a terminal
            ) as bar,
        ):
            for frame in bar:
                drawer.put(pipeline.measure(frame))
        self.videos += 1
        self.codecs.add(writer.codec)
        self.video_frames += self.frames - frames_before
        self.video_seconds += time.perf_counter() - started

    def _draw(self, pipeline: MaskPipeline, measured: Measured, encoder: WriteBehind, label: str) -> None:
        masked = pipeline.draw(measured)
        encoder.put(masked)
        self._record(masked, label)

    def _record(self, masked: MaskedFrame, label: str) -> None:
        self.frames += 1
        self.faces += len(masked.faces)
        self.failed_closed += masked.status is FrameStatus.FAILED_CLOSED
        self.no_face += masked.status is FrameStatus.NO_FACE
        if self.signals is not None:
            self.signals.write(masked, label)

    def summary(self) -> MaskSummary:
        return MaskSummary(
            self.photos, self.videos, self.frames, self.faces, self.failed_closed,
            time.perf_counter() - self.started, self.video_frames, self.video_seconds, frozenset(self.codecs),
            self.no_face, tuple(self.short),
        )


def mask_inputs(
    inputs: Sequence[str | Path],
    output: str | Path,
    config: Config,
    signals_path: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    models: ModelSet | None = None,
) -> MaskSummary:
    """Mask each input into output (a file or a directory, see plan_outputs).

    An existing output or signals file is refused unless overwrite is set,
    before any work starts. models: already loaded ones (else loaded here).
    """
    plan = plan_outputs(inputs, output)
    outputs = [destination for _, destination in plan] + ([Path(signals_path)] if signals_path else [])
    refuse_existing([path for path in outputs if path.exists()], "exists", overwrite)
    for source, _ in plan:
        check_decodable(source, config.input.max_photo_megapixels, config.input.max_video_megapixels)
    for written in outputs:
        # what a dmask mask killed outright (SIGKILL) left of this output: never whole, and made again now
        drop_dead_partials(written.parent.glob(f".{written.stem}.partial-*{written.suffix}"))
    with contextlib.ExitStack() as stack:
        signals = stack.enter_context(SignalCsvWriter(signals_path)) if signals_path else None
        masker = OfflineMasker(config, models or ModelSet.load(config), signals, progress)
        for source, destination in plan:
            masker.mask_file(source, destination)
    return masker.summary()

