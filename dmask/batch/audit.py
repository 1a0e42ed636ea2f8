"""The audit trail: one JSON Lines file, appended one whole entry at a time, that an ethics board can read.

Each entry is one line, written with a single write() on a file opened for
appending and then synced, so a crash leaves whole lines and at most one
torn last line, which reading skips. Entries hold relative paths, hashes,
counts, versions and times; never a pixel and never an absolute path. The
newest entry for an input is the one that counts: a rerun skips an input
whose newest entry is `done` for the same input hash and config hash with
its output in place; `--verify` re-hashes every output against it.
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from dmask.errors import OutputError


class FileStatus(str, enum.Enum):
    """A file's status in the audit. SHORT: masked and written, but from damaged input that decoded fewer frames
    than its container lists (reason says how many); masked again on the next run, like a failed one. REFUSED:
    not read at all (a link out of SRC_DIR); reason says why."""

    DONE = "done"
    SHORT = "short"
    FAILED = "failed"
    REFUSED = "refused"

    @property
    def written(self) -> bool:
        """Whether a file of this status has an output."""
        return self in (FileStatus.DONE, FileStatus.SHORT)


@dataclass(frozen=True)
class Entry:
    """One file's outcome (reason says why a file is not DONE, in one line); times in UTC ISO 8601."""

    source: str
    source_sha256: str
    source_bytes: int
    status: FileStatus
    reason: str = ""
    output: str = ""
    output_sha256: str = ""
    frames: int = 0
    faces: int = 0
    failed_closed: int = 0
    no_face: int = 0
    codec: str = ""
    dmask_version: str = ""
    commit: str = ""
    config_sha256: str = ""
    started: str = ""
    ended: str = ""


class Audit:
    def __init__(self, path: Path) -> None:
        """A torn last line left by a crash is ended first, so the next entry starts a line of its own."""
        self.path = path
        try:
            with path.open("rb+") as file:
                if file.seek(0, os.SEEK_END) and (file.seek(-1, os.SEEK_END), file.read(1))[1] != b"\n":
                    file.write(b"\n")
        except FileNotFoundError:
            pass
        except OSError as error:
            raise OutputError(f"{path}: cannot open the audit ({error.strerror})") from error

    def append(self, entry: Entry) -> None:
        line = (json.dumps(asdict(entry), sort_keys=True) + "\n").encode("utf-8")
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise OutputError(f"{self.path}: cannot append to the audit ({error.strerror})") from error

    def entries(self) -> list[Entry]:
        """Every whole entry, oldest first; a torn last line (a crash mid-write) is skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                entry = Entry(**json.loads(line))
                found.append(replace(entry, status=FileStatus(entry.status)))
            except (ValueError, TypeError):
                continue
        return found

    def latest(self) -> dict[str, Entry]:
        """The newest entry per input."""
        return {entry.source: entry for entry in self.entries()}
