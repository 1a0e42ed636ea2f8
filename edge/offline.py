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

from edge.config import Config
from edge.media import (
    AtomicVideoWriter,
    MediaKind,
    VideoReader,
    check_decodable,
    kind_of_suffix,
    plan_outputs,
    read_photo,
    write_photo_atomic,
)
from edge.overlap import ReadAhead, WriteBehind
from edge.pipeline import MaskPipeline, ModelSet
from edge.records import Frame, FrameStatus, MaskedFrame
from edge.signals import SignalCsvWriter


@dataclass(frozen=True)
class MaskSummary:
    """What a run did. faces counts faces over all frames; seconds is the
    masking time, model loading excluded."""

    files: int
    frames: int
    faces: int
    failed_closed: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


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

    def __init__(self, config: Config, signals: SignalCsvWriter | None, progress: bool) -> None:
        self.config = config
        self.models = ModelSet.load(config)
        self.signals = signals
        self.progress = progress
        self.started = time.perf_counter()
        self.files = self.frames = self.faces = self.failed_closed = 0

    def mask_file(self, source: Path, destination: Path) -> None:
        if kind_of_suffix(source) is MediaKind.PHOTO:
            self.mask_photo(source, destination)
            return
        with VideoReader(source) as reader:
            self.mask_video(reader, destination, label=source.name)

    def mask_photo(self, source: Path, destination: Path) -> None:
        """A photo is a stream of one frame with no temporal state."""
        frame = Frame(image=read_photo(source), seq=0, timestamp=0.0, source_id=source.name)
        masked = MaskPipeline(self.config, still=True, models=self.models).process(frame)
        write_photo_atomic(destination, masked.image, self.config.output.jpeg_quality)
        self._record(masked, source.name)
        self.files += 1

    def mask_video(self, frames: FrameSource, destination: Path, label: str) -> None:
        """Frames in order through one pipeline into one video of their size and rate.

        Decoding runs ahead and encoding behind on helper threads (edge.overlap).
        """
        pipeline = MaskPipeline(self.config, still=False, models=self.models)
        codec = self.config.output.video_codec
        with (
            AtomicVideoWriter(destination, frames.fps, frames.width, frames.height, codec) as writer,
            ReadAhead(frames) as decoded,
            WriteBehind(writer.write) as encoder,
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
                masked = pipeline.process(frame)
                encoder.put(masked.image)
                self._record(masked, label)
        self.files += 1

    def _record(self, masked: MaskedFrame, label: str) -> None:
        self.frames += 1
        self.faces += len(masked.faces)
        self.failed_closed += masked.status is FrameStatus.FAILED_CLOSED
        if self.signals is not None:
            self.signals.write(masked, label)

    def summary(self) -> MaskSummary:
        seconds = time.perf_counter() - self.started
        return MaskSummary(self.files, self.frames, self.faces, self.failed_closed, seconds)


def mask_inputs(
    inputs: Sequence[str | Path],
    output: str | Path,
    config: Config,
    signals_path: str | Path | None = None,
    progress: bool = True,
) -> MaskSummary:
    """Mask each input into output (a file or a directory, see plan_outputs)."""
    plan = plan_outputs(inputs, output)
    for source, _ in plan:
        check_decodable(source)
    with contextlib.ExitStack() as stack:
        signals = stack.enter_context(SignalCsvWriter(signals_path)) if signals_path else None
        masker = OfflineMasker(config, signals, progress)
        for source, destination in plan:
            masker.mask_file(source, destination)
    return masker.summary()
