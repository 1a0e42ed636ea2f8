"""`dmask eval blinks`: do the blinks the readers find match what an observer sees?

Protocol. A labels file (docs/blinks.tsv) lists, per video and eye, frames an
observer read frame by frame: the lid's narrowest frame of a blink seen
`complete` (the lid covered the whole iris) or `partial` (iris still seen),
or a frame seen `open` where some reader had found a blink (a downward
glance, the open eye of a wink). Each video is read by both readers of
`dmask eval fidelity` (dmask.evaluation.readers: the product's chain, and
dlib's 68 points; they share no model), and each eye's aperture trace is cut
into blinks by dmask.evaluation.traces.blinks, the rule the report and the
fidelity evaluation use (dmask.measure.clinical's thresholds). A label is matched by
the blink whose frames hold it, one frame either side.

Figures per reader: for each seen class, how the reader read it (a complete
blink, a partial one, none) and the depths of the blinks found; the
agreement is the share of labels read as seen. This is how
dmask.measure.clinical.BLINK_COMPLETE_FRACTION was set, and the check that keeps it
honest.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmask.config import Config
from dmask.errors import InputError
from dmask.evaluation.readers import Reader, reader_pairs
from dmask.report_folder import Report, require_plotting
from dmask.clinical.blinks import Blink, blinks
from dmask.capture.media import VideoReader
from dmask.models import ModelSet
from dmask.signals import SIDES

MATCH_FRAMES = 1  # a blink matches a label within this many frames of its span


class Seen(str, enum.Enum):
    """What an observer saw at a labelled frame, and what a reader may read there."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    OPEN = "open"  # no blink


@dataclass(frozen=True)
class BlinkLabel:
    video: str
    eye: str
    frame: int
    seen: Seen


@dataclass(frozen=True)
class LabelReading:
    """One label as one reader read it: its class, and the matched blink's depth (NaN: no blink)."""

    label: BlinkLabel
    reader: str
    read: Seen
    depth: float


def read_labels(path: Path) -> list[BlinkLabel]:
    """The labels file's rows: a header line, then tab-separated video, eye, frame, seen ('#' lines are comments)."""
    if not path.is_file():
        raise InputError(f"{path}: no such labels file; give a TSV of video, eye, frame, seen (docs/blinks.tsv)")
    rows = [(number, line.split("\t")) for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line and not line.startswith("#")]
    labels = []
    for number, cells in rows[1:]:
        try:
            video, eye, frame, seen = cells
            label = BlinkLabel(video, eye, int(frame), Seen(seen))
        except ValueError as error:
            raise InputError(f"{path}:{number}: not video, eye, frame, seen (tab-separated) with seen one of "
                             f"{', '.join(s.value for s in Seen)}") from error
        if label.eye not in SIDES:
            raise InputError(f"{path}:{number}: eye {label.eye!r}, expected right or left (the subject's)")
        labels.append(label)
    if not labels:
        raise InputError(f"{path}: holds no labels")
    return labels


def classify(found: Sequence[Blink], frame: int) -> tuple[Seen, float]:
    """How a reader's blinks read at a labelled frame: the class and depth of the blink there."""
    blink = next((b for b in found if b.onset - MATCH_FRAMES <= frame < b.end + MATCH_FRAMES), None)
    if blink is None:
        return Seen.OPEN, math.nan
    return (Seen.COMPLETE if blink.complete else Seen.PARTIAL), blink.depth


def _apertures(path: Path, readers: Sequence[Reader]) -> list[dict[str, np.ndarray]]:
    """Per reader, each eye's aperture trace (F,) over the whole video."""
    rows: list[list[np.ndarray]] = [[] for _ in readers]
    with VideoReader(path) as video:
        for frame in video:
            for k, reader in enumerate(readers):
                rows[k].append(reader.read(frame))
    names = [[s.name for s in reader.signals] for reader in readers]
    return [{side: np.array(r)[:, n.index(f"{side}_aperture")] for side in SIDES} for r, n in zip(rows, names)]


@dataclass(frozen=True)
class BlinkCheck:
    readings: tuple[LabelReading, ...]
    report: Path
    seconds: float

    def readers(self) -> list[str]:
        return list(dict.fromkeys(r.reader for r in self.readings))

    def table(self, reader: str) -> dict[str, dict[str, float | int]]:
        """Per seen class: labels, how many were read as each class, and the depths of the blinks found."""
        out = {}
        for seen in Seen:
            mine = [r for r in self.readings if r.reader == reader and r.label.seen is seen]
            depths = [r.depth for r in mine if math.isfinite(r.depth)]
            out[seen.value] = {"labels": len(mine), **{f"read_{s.value}": sum(r.read is s for r in mine) for s in Seen},
                               "depth_min": min(depths, default=math.nan), "depth_max": max(depths, default=math.nan)}
        return out

    def agreement(self, reader: str) -> float:
        mine = [r for r in self.readings if r.reader == reader]
        return sum(r.read is r.label.seen for r in mine) / len(mine)

    def numbers(self) -> dict:
        return {"blinks": {"readers": {name: {"agreement": self.agreement(name), "by_seen": self.table(name)}
                                       for name in self.readers()}, "seconds": self.seconds}}

    def lines(self) -> list[str]:
        lines = []
        for name in self.readers():
            t = self.table(name)
            parts = [f"{seen} {t[seen]['read_' + seen]}/{t[seen]['labels']}" for seen in (s.value for s in Seen)]
            lines.append(f"{name}: {self.agreement(name):.0%} of labels read as seen ({', '.join(parts)})")
        return lines


def evaluate_blinks(labels_path: Path, videos: Path, out_dir: Path, config: Config) -> BlinkCheck:
    """Read every labelled video with both readers and write the report folder."""
    started = time.perf_counter()
    labels = read_labels(labels_path)
    missing = sorted({label.video for label in labels if not (videos / label.video).is_file()})
    if missing:
        raise InputError(f"{videos / missing[0]}: no such video ({len(missing)} of the labelled videos missing); "
                         "give the folder the labels' videos are in")
    require_plotting()
    models = ModelSet.load(config)
    readings = []
    for video in dict.fromkeys(label.video for label in labels):
        readers = [pair[0] for pair in reader_pairs(config, models)]  # fresh: the product's reader tracks
        for reader, trace in zip(readers, _apertures(videos / video, readers)):
            found = {side: blinks(trace[side]) for side in SIDES}
            readings += [LabelReading(label, reader.name, *classify(found[label.eye], label.frame))
                         for label in labels if label.video == video]
    report = Report(out_dir, "Blink completeness against an observer")
    result = BlinkCheck(tuple(readings), report.directory / "report.md", time.perf_counter() - started)
    _write_report(report, result, labels_path)
    report.write(result.numbers())
    return result


def _write_report(report: Report, result: BlinkCheck, labels_path: Path) -> None:
    report.paragraph(
        f"Labels: {labels_path.name}, blinks an observer read frame by frame. Each reader's aperture trace is cut into "
        "blinks by the report's rule; a label is matched by the blink whose frames hold it. Depth: the blink's "
        "narrowest opening over the eye's open level."
    )
    header = ["seen", "labels", "read complete", "read partial", "read no blink", "depth min", "depth max"]
    for name in result.readers():
        report.heading(f"{name}: {result.agreement(name):.0%} read as seen")
        report.table(header, [[seen, t["labels"], t["read_complete"], t["read_partial"], t["read_open"],
                               t["depth_min"], t["depth_max"]] for seen, t in result.table(name).items()])
