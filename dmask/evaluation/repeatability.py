"""`dmask eval repeatability`: how far one reading of a clinical measure strays, per photo and per second of video.

A clinician reading "horizontal deviation 12 PD" or "MRD1 2.1 mm" needs to
know how much of it one photo, or one second of video, can get wrong. This
measures it on faces that carry no sign, as the chain reads them (resting
levels as measured, dmask.measure.fit.RestingPolicy.OWN, not withheld):

- per photo: the pooled within-person standard deviation over people with
  two or more photos (one folder each), so what differs from one photo of a
  person to the next: the measurement, and the person's own gaze, lids and
  expression on the day;
- per second of video: the pooled standard deviation of one-second means
  about each video's own mean, so what differs from one second to the next.

Both hold the person's own changes as well as the chain's noise: they are
upper bounds on the chain's own, the spread a clinician should allow a
reading of a face without the sign. Each measure pools both eyes where it is
per eye. dmask.measure.clinical.UNCERTAINTY carries the figures measured on
../shared/data; a slow test re-measures them.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dmask.measure.clinical import UNCERTAINTY
from dmask.config import Config
from dmask.evaluation.privacy import Identity, find_identities
from dmask.report_folder import Report
from dmask.measure.fit import RestingPolicy
from dmask.capture.media import VideoReader, read_photo, require_video
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline
from dmask.records import Frame, MaskParams
from dmask.signals import SIDES, face_values


def _per_eye(field: str) -> Callable[[dict], tuple[float, ...]]:
    return lambda r: tuple(r[f"{side}_{field}"] for side in SIDES)


def _right_minus_left(field: str) -> Callable[[dict], tuple[float, ...]]:
    return lambda r: (r[f"right_{field}"] - r[f"left_{field}"],)


# Each measure of dmask.measure.clinical.UNCERTAINTY: its readings (one per eye, or one) from a face's values (NaN: empty).
MEASURES: dict[str, Callable[[dict], tuple[float, ...]]] = {
    "horizontal_deviation": lambda r: (r["horizontal_deviation_pd"],),
    "vertical_deviation": lambda r: (r["vertical_deviation_pd"],),
    "mrd1": _per_eye("mrd1_mm"),
    "mrd2": _per_eye("mrd2_mm"),
    "mouth_corner_difference": _right_minus_left("mouth_corner_height_mm"),
    "brow_difference": _right_minus_left("brow_height_mm"),
}


def pooled_sd(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """The pooled standard deviation of groups about their own means, and its degrees of freedom (NaNs dropped)."""
    squares, dof = 0.0, 0
    for group in groups:
        values = np.asarray(group, np.float64)
        values = values[np.isfinite(values)]
        if len(values) >= 2:
            squares += float(((values - values.mean()) ** 2).sum())
            dof += len(values) - 1
    return (math.sqrt(squares / dof) if dof else math.nan), dof


@dataclass(frozen=True)
class Spread:
    """One measure's repeatability: 1 SD of a reading per photo and per second of video, with degrees of freedom."""

    name: str
    unit: str
    per_photo: float
    photo_dof: int
    per_second: float
    second_dof: int


@dataclass(frozen=True)
class RepeatabilityResult:
    spreads: tuple[Spread, ...]
    photos: int
    videos: int
    report: Path
    seconds: float

    def numbers(self) -> dict:
        return {"repeatability": {"photos": self.photos, "videos": self.videos, "seconds": self.seconds,
                                  "measures": {s.name: {"unit": s.unit, "per_photo": s.per_photo, "photo_dof": s.photo_dof,
                                                        "per_second": s.per_second, "second_dof": s.second_dof}
                                               for s in self.spreads}}}

    def lines(self) -> list[str]:
        return [f"{s.name}: {s.per_photo:.2f} {s.unit} a photo ({s.photo_dof} dof), {s.per_second:.2f} {s.unit} "
                f"a second of video ({s.second_dof} dof)" for s in self.spreads]


def _readings(face: MaskParams | None) -> dict[str, tuple[float, ...]]:
    values = face_values(face) if face is not None else None
    return {name: (read(values) if values is not None else ()) for name, read in MEASURES.items()}


def photo_groups(identities: Sequence[Identity], config: Config, models: ModelSet, progress: bool) -> tuple[dict, int]:
    """{measure: [readings of one person's one eye (or face), ...]} over the photos of every identity."""
    groups: dict[str, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    paths = [(identity, path) for identity in identities for path in identity.photos]
    for identity, path in tqdm(paths, desc="photos", unit="photo", file=sys.stderr, disable=None if progress else True):
        masked = MaskPipeline(config, still=True, models=models, resting=RestingPolicy.OWN).process(
            Frame(read_photo(path), 0, 0.0))
        for name, values in _readings(masked.faces[0] if masked.faces else None).items():
            for eye, value in enumerate(values):
                groups[name][(identity.root, identity.folder, eye)].append(value)
    return groups, len(paths)


def second_groups(videos: Sequence[Path], config: Config, models: ModelSet, max_frames: int | None,
                  progress: bool) -> dict:
    """{measure: [one-second means of one video's one eye (or face), ...]} over the videos."""
    groups: dict[str, list[list[float]]] = defaultdict(list)
    for video in tqdm(videos, desc="videos", unit="video", file=sys.stderr, disable=None if progress else True):
        pipeline = MaskPipeline(config, models=models, resting=RestingPolicy.OWN)
        per_second: dict[str, dict[tuple[int, int], list[float]]] = defaultdict(lambda: defaultdict(list))
        with VideoReader(video) as reader:
            for frame in islice(reader, max_frames):
                masked = pipeline.process(frame)
                for name, values in _readings(masked.faces[0] if masked.faces else None).items():
                    for eye, value in enumerate(values):
                        per_second[name][(eye, int(frame.timestamp))].append(value)
        for name, seconds in per_second.items():
            for eye in sorted({eye for eye, _ in seconds}):
                means = [np.nanmean(v) if np.isfinite(v).any() else math.nan
                         for (e, _), v in sorted(seconds.items()) if e == eye]
                groups[name].append(means)
    return groups


def evaluate_repeatability(photo_roots: Sequence[Path], videos: Sequence[Path], out_dir: Path, config: Config, *,
                           max_frames: int | None = None, progress: bool = True) -> RepeatabilityResult:
    """Measure every measure's spread on the photos and videos and write the report folder."""
    started = time.perf_counter()
    identities, videos = find_identities([Path(p) for p in photo_roots]), [Path(v) for v in videos]
    for video in videos:
        require_video(video)
    models = ModelSet.load(config)
    report = Report(out_dir, "Repeatability of the clinical measures")
    photos, photo_count = photo_groups(identities, config, models, progress)
    seconds = second_groups(videos, config, models, max_frames, progress)
    spreads = tuple(Spread(name, UNCERTAINTY[name].unit, *pooled_sd(list(photos[name].values())),
                           *pooled_sd(seconds[name])) for name in MEASURES)
    result = RepeatabilityResult(spreads, photo_count, len(videos), report.directory / "report.md",
                                 time.perf_counter() - started)
    _write_report(report, result)
    report.write(result.numbers())
    return result


def _write_report(report: Report, result: RepeatabilityResult) -> None:
    report.paragraph(
        f"One standard deviation of a reading, on faces without a sign, as the chain reads them: per photo, the "
        f"pooled spread between photos of the same person ({result.photos} photos); per second of video, the pooled "
        f"spread of one-second means about each video's own ({result.videos} videos). Both hold the person's own "
        "changes (gaze, lids, expression) as well as the measurement's: upper bounds on its own.")
    report.table(["measure", "unit", "1 SD a photo", "dof", "1 SD a second of video", "dof"],
                 [[UNCERTAINTY[s.name].label, s.unit, s.per_photo, s.photo_dof, s.per_second, s.second_dof]
                  for s in result.spreads])
