"""`dmask eval fidelity`: do the signs a clinician reads survive the drawing?

Each video is masked by a MaskPipeline with the configured identity policy.
Every reader of dmask.evaluation.readers (the product's own landmark chain,
and dlib's 68-point predictor, which shares no model with it) then measures
the camera frames (the original signal, the truth a clinician would see in the
raw video) and, as if they were camera frames, the masked frames (the
read-back signal, what a viewer of the mask can see). Comparing them frame by
frame, each reader against its own original, measures what a clinician sees
on screen, including what the identity policy changed, not the parameters the
renderer was given. Gaze is compared only where both eyes are open in the
original: behind a closed lid there is no iris to see. The comparison is
in dmask.evaluation.comparison, the report in dmask.evaluation.fidelity_report.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dmask.config import Config
from dmask.errors import EvaluationError
from dmask.evaluation.comparison import FidelityResult, SignalTraces, VideoFidelity, pooled, reading
from dmask.evaluation.fidelity_report import write_report
from dmask.evaluation.readers import Reader, reader_pairs
from dmask.report_folder import Report, require_plotting, thumbnail
from dmask.capture.media import VideoReader, check_decodable, require_video
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline
from dmask.records import Frame

CONTACT_SHEET_PAIRS = 6
UNKNOWN_LENGTH_SECONDS = 10.0  # where to spread contact-sheet samples when the container does not say its length


@dataclass(frozen=True)
class VideoMeasurement:
    """What every reader measured on one video, plus a few (original, masked) BGR frame pairs."""

    name: str
    fps: float
    traces: tuple[SignalTraces, ...]
    samples: tuple[tuple[np.ndarray, np.ndarray], ...]


def evaluate_fidelity(
    videos: Sequence[Path], out_dir: Path, config: Config, *, max_frames: int | None = None, progress: bool = True
) -> FidelityResult:
    """Measure every video on both sides of the mask with every reader, compare, and write the report folder."""
    started = time.perf_counter()
    videos = [Path(video) for video in videos]
    for video in videos:
        require_video(video)
        check_decodable(video)
    require_plotting()
    models = ModelSet.load(config)
    report = Report(out_dir, "Clinical fidelity evaluation")
    samples_each = math.ceil(CONTACT_SHEET_PAIRS / max(1, len(videos)))
    measurements = [_measure(video, models, config, max_frames, progress, samples_each) for video in videos]
    per_video = tuple(
        VideoFidelity(m.name, m.fps, len(m.traces[0].seconds), tuple(reading(t, m.fps) for t in m.traces))
        for m in measurements
    )
    overall = tuple(pooled(per_video, index) for index in range(len(per_video[0].readings)))
    result = FidelityResult(per_video, overall, report.directory / "report.md", time.perf_counter() - started)
    samples = [pair for m in measurements for pair in m.samples][:CONTACT_SHEET_PAIRS]
    write_report(report, result, samples)
    report.write(result.numbers())
    return result


def _measure(
    video: Path, models: ModelSet, config: Config, max_frames: int | None, progress: bool, sample_count: int
) -> VideoMeasurement:
    """One video through the masking pipeline, and both sides of it through every reader."""
    masker = MaskPipeline(config, models=models)
    readers = reader_pairs(config, models)
    with VideoReader(video) as reader:
        expected = min((n for n in (reader.frame_count, max_frames) if n), default=0)
        sample_seqs = _sample_seqs(expected or round(UNKNOWN_LENGTH_SECONDS * reader.fps), sample_count)
        with tqdm(islice(reader, max_frames), total=expected or None, desc=video.name, unit="frame",
                  file=sys.stderr, leave=False, disable=None if progress else True) as frames:
            traces, samples = _measure_frames(frames, masker, readers, sample_seqs)
        fps = reader.fps
    if traces[0].faces == 0:
        raise EvaluationError(f"{video}: no face found in any frame; fidelity needs a visible face")
    return VideoMeasurement(video.name, fps, tuple(t.gaze_where_eyes_open() for t in traces), samples)


def _measure_frames(
    frames: Iterable[Frame], masker: MaskPipeline, readers: Sequence[tuple[Reader, Reader]], sample_seqs: set[int]
) -> tuple[tuple[SignalTraces, ...], tuple[tuple[np.ndarray, np.ndarray], ...]]:
    """Mask each frame; each reader measures the camera frame and, as a camera frame, the masked one.

    Every masked frame goes to the readers, faces or not, so that a reader
    that tracks sees the stream a person watching the mask would; copies of
    the frames in sample_seqs are kept, as thumbnails, for the contact sheet.
    """
    seconds, samples = [], []
    original: list[list[np.ndarray]] = [[] for _ in readers]
    read_back: list[list[np.ndarray]] = [[] for _ in readers]
    for frame in frames:
        masked = masker.process(frame)
        shown = Frame(masked.image, frame.seq, frame.timestamp, frame.source_id)
        seconds.append(frame.timestamp)
        for index, (camera_reader, mask_reader) in enumerate(readers):
            original[index].append(camera_reader.read(frame))
            read_back[index].append(mask_reader.read(shown))
        if frame.seq in sample_seqs:
            samples.append((thumbnail(frame.image), thumbnail(masked.image)))
    traces = tuple(
        _traces(pair[0], np.array(seconds), np.reshape(o, (len(seconds), len(pair[0].signals))),
                np.reshape(r, (len(seconds), len(pair[0].signals))))
        for pair, o, r in zip(readers, original, read_back)
    )
    return traces, tuple(samples)


def _sample_seqs(frames: int, samples: int) -> set[int]:
    """Frame numbers spread evenly inside a video of this many frames (ends excluded: often fades)."""
    return set(np.linspace(0, frames - 1, samples + 2)[1:-1].round().astype(int).tolist())


def _traces(reader: Reader, seconds: np.ndarray, original: np.ndarray, read_back: np.ndarray) -> SignalTraces:
    """Read-back values of frames whose original had no face are not compared: NaN."""
    read_back[~np.isfinite(original).any(1)] = np.nan
    return SignalTraces(reader.name, reader.signals, seconds, original, read_back)
