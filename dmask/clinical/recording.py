"""A recording's signals, read back for `dmask report` and the DICOM export: one face, frame by frame, on the source's grid.

Reads the signal schema's per-frame records (dmask.signals) as `dmask record`
writes them (`<video>.signals.jsonl`, one wire message a line) or as
`dmask mask --signals` writes them (CSV). The face followed is the one seen in
the most frames (one track id). Frames are placed by their `seq`: a frame the
daemon dropped is a row of NaN at its place, its time between its
neighbours', so a gap stays a gap in time and the spectra and blink timings
see the source's rhythm; the daemon's `source_down` fillers (seq < 0) carry
no measurement and are left out. Where seq goes back (a daemon restart), the
frames stay in the order received.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmask.errors import InputError
from dmask.signals import FIELD_NAMES, SCHEMA

# One frame as read: (seq, capture time s, faces)
_Frame = tuple[int, float, list[dict]]


class NoFaceTracked(InputError):
    """A recording's signals hold no face in any frame: there is nothing to measure."""


@dataclass(frozen=True)
class Recording:
    """One face's per-frame signals: seconds (N,) and each schema field (N,), NaN without a face.

    dropped: frames missing from the source's numbering, each a NaN row.
    """

    name: str
    seconds: np.ndarray
    fields: dict[str, np.ndarray]
    dropped: int = 0

    @property
    def fps(self) -> float:
        steps = np.diff(self.seconds)
        steps = steps[steps > 0]
        return float(1.0 / np.median(steps)) if len(steps) else math.nan

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]


def load_recording(path: Path) -> Recording:
    """A `.signals.jsonl` sidecar (or the video it sits beside) or a `--signals` CSV."""
    if path.suffix == ".mp4":
        path = path.with_name(path.stem + ".signals.jsonl")
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a recording's .signals.jsonl (or its video) "
                         "or the CSV of dmask mask --signals")
    frames = [f for f in (_csv_frames(path) if path.suffix == ".csv" else _jsonl_frames(path)) if f[0] >= 0]
    if not frames:
        raise InputError(f"{path}: holds no frames")
    tracks = Counter(face["track_id"] for _, _, faces in frames for face in faces)
    if not tracks:
        raise NoFaceTracked(f"{path}: no face in any frame; there is nothing to summarise")
    track = tracks.most_common(1)[0][0]
    rows, seconds = _grid(frames)
    fields = {name: np.full(len(seconds), np.nan) for name in FIELD_NAMES}
    for row, (_, _, faces) in zip(rows, frames):
        face = next((f for f in faces if f["track_id"] == track), None)
        for name in FIELD_NAMES if face else ():
            value = face.get(name)
            fields[name][row] = np.nan if value in (None, "") else float(value)
    return Recording(path.name, seconds, fields, len(seconds) - len(frames))


def _grid(frames: list[_Frame]) -> tuple[np.ndarray, np.ndarray]:
    """(each frame's row, every row's capture time): rows by seq, a missing seq's time interpolated."""
    seqs = np.array([seq for seq, _, _ in frames])
    times = np.array([t for _, t, _ in frames], np.float64)
    if len(seqs) > 1 and np.any(np.diff(seqs) <= 0):
        return np.arange(len(frames)), times
    rows = seqs - seqs[0]
    return rows, np.interp(np.arange(rows[-1] + 1), rows, times)


def _jsonl_frames(path: Path) -> list[_Frame]:
    frames = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            body = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{number}: not a JSON line ({error.msg}); is this a signals sidecar?") from error
        schema = body.get("schema") if isinstance(body, dict) else None
        if schema != SCHEMA:
            raise InputError(f"{path}:{number}: schema {schema!r}, expected {SCHEMA!r}; "
                             "record again with this version of dmask")
        if (not isinstance(body.get("capture_ts"), (int, float)) or not isinstance(body.get("faces"), list)
                or not isinstance(body.get("seq"), int)):
            raise InputError(f"{path}:{number}: a signals message needs seq, capture_ts and faces (docs/WIRE.md)")
        frames.append((body["seq"], float(body["capture_ts"]), body["faces"]))
    return frames


def _csv_frames(path: Path) -> list[_Frame]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in FIELD_NAMES if name not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"{path}: not a dmask signals CSV of schema {SCHEMA} (no column {missing[0]})")
        frames: dict[tuple[str, str], _Frame] = {}
        for row in reader:
            key = (row["file"], row["seq"])
            _, _, faces = frames.setdefault(key, (int(row["seq"]), float(row["timestamp"]), []))
            if row["track_id"]:
                faces.append({**row, "track_id": int(row["track_id"])})
    return list(frames.values())
