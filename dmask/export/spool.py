"""The spool: DICOM instances wait here, on disk, until the PACS holds them.

Every instance is written atomically (dmask.capture.media: a hidden partial, synced,
renamed) as `<SOP Instance UID>.dcm`, before any attempt to send it, so a
PACS that is down, refuses, or dies mid-send loses nothing, and neither does
a power cut. A delivery round asks the PACS whether it already holds each
instance (C-FIND, or QIDO-RS) and sends only those it does not, so an
instance whose C-STORE succeeded just before a crash is not sent twice; an
instance leaves the spool only once the PACS holds it. What failed, when,
and when the next try is due are kept in `state.json` for `dmask status`.
Only instances made by dmask.export (rendered frames, signals) ever get here.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info

from dmask.config.services import PacsConfig
from dmask.errors import DeliveryError, OutputError, RefusedError
from dmask.export.link import Progress, describe
from dmask.export.pacs import open_link
from dmask.capture.media import AtomicFile, drop_dead_partials, ensure_writable_dir
from dmask.wording import count

log = logging.getLogger(__name__)

SUFFIX = ".dcm"
STATE = "state.json"
LOCK = ".lock"
UNREADABLE = "unreadable"  # where a spool file that is not DICOM is moved, kept for a person to look at


@dataclass(frozen=True)
class Delivery:
    """One round: instances sent, found already held (so not sent), left waiting, and the error that ended it."""

    sent: int
    held: int
    waiting: int
    error: str | None = None


@dataclass(frozen=True)
class Backlog:
    """What waits in a spool. oldest_seconds: age of the oldest instance; times are Unix seconds."""

    directory: Path
    files: int
    size_bytes: int
    oldest_seconds: float | None
    last_attempt: float | None
    last_error: str | None
    next_attempt: float | None

    def line(self) -> str:
        """The line `dmask status` prints."""
        head = f"PACS spool {self.directory}: "
        if not self.files:
            tail = "" if self.last_attempt is None else f"; last delivery {_clock(self.last_attempt)}"
            return head + "empty" + tail
        head += (f"{count(self.files, 'instance')} waiting ({self.size_bytes / 1e6:.1f} MB), "
                 f"oldest {_age(self.oldest_seconds)}")
        if self.last_error:
            head += f"; last try {_clock(self.last_attempt)} failed: {self.last_error}"
        if self.next_attempt is not None and self.next_attempt > time.time():  # a recorder will try again
            head += f"; next try in {self.next_attempt - time.time():.0f} s"
        return head


class Spool:
    """A directory of instances waiting for the PACS."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{self.directory}: cannot create the PACS spool ({error.strerror}); "
                              "set pacs.spool_dir to a writable directory") from error
        ensure_writable_dir(self.directory)
        drop_dead_partials(self.directory.glob(f".*{SUFFIX}"))  # a killed writer's: never a whole instance

    def add(self, ds: Dataset) -> Path:
        """Write one instance durably, under its SOP Instance UID."""
        path = self.directory / f"{ds.SOPInstanceUID}{SUFFIX}"
        with AtomicFile(path) as out:
            ds.save_as(out.file, enforce_file_format=True)
        return path

    def pending(self) -> list[Path]:
        """The waiting instances, oldest first."""
        paths = [p for p in self.directory.glob(f"*{SUFFIX}") if not p.name.startswith(".")]
        return sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))

    def backlog(self) -> Backlog:
        paths = self.pending()
        state = self._state()
        oldest = time.time() - paths[0].stat().st_mtime if paths else None
        return Backlog(self.directory, len(paths), sum(p.stat().st_size for p in paths), oldest,
                       state.get("last_attempt"), state.get("last_error"), state.get("next_attempt"))

    def deliver(self, config: PacsConfig, progress: Progress | None = None, retry_in: float | None = None) -> Delivery:
        """One round: every waiting instance the PACS does not hold is sent, then removed.

        A connection or association failure ends the round (recorded, with
        retry_in as the next try); an instance the PACS refuses stays and the
        round goes on with the next. Rounds on one spool take turns (a
        recorder's and a `dmask export dicom --pacs`), so each one's question
        to the PACS sees what the other sent.
        """
        with open(self.directory / LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._round(config, progress, retry_in)

    def _round(self, config: PacsConfig, progress: Progress | None, retry_in: float | None) -> Delivery:
        readable = self._readable(self.pending())
        paths = list(readable)
        sent = held = 0
        refused: list[str] = []
        try:
            if paths:
                with open_link(config, list(readable.values()), progress) as link:
                    for path in paths:
                        ds = dcmread(path)
                        try:
                            if link.holds(ds):
                                held += 1
                            else:
                                link.store(ds)
                                sent += 1
                        except RefusedError as error:
                            refused.append(str(error))
                            continue
                        path.unlink()
        except DeliveryError as error:
            return self._finish(Delivery(sent, held, len(self.pending()), str(error)), retry_in)
        error = refused[0] if refused else None
        return self._finish(Delivery(sent, held, len(self.pending()), error), retry_in if error else None)

    def _readable(self, paths: list[Path]) -> dict[Path, tuple[str, str]]:
        """Each DICOM path's (SOP class, transfer syntax), from its file meta; a file that is not DICOM
        is moved aside to UNREADABLE, with a warning, never deleted."""
        readable = {}
        for path in paths:
            try:
                meta = read_file_meta_info(path)
                readable[path] = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
            except (InvalidDicomError, OSError, ValueError) as error:
                aside = self.directory / UNREADABLE
                aside.mkdir(exist_ok=True)
                path.replace(aside / path.name)
                log.warning("%s: not a DICOM file (%s); moved to %s", path.name, error, aside)
        return readable

    def _finish(self, delivery: Delivery, retry_in: float | None) -> Delivery:
        now = time.time()
        state = {"last_attempt": now, "last_error": delivery.error,
                 "next_attempt": None if retry_in is None or not delivery.waiting else now + retry_in}
        with AtomicFile(self.directory / STATE, "w", encoding="utf-8") as out:
            json.dump(state, out.file)
        return delivery

    def _state(self) -> dict:
        try:
            state = json.loads((self.directory / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}


def _clock(epoch: float | None) -> str:
    return "never" if epoch is None else time.strftime("%H:%M:%S", time.localtime(epoch))


def _age(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def describe_delivery(config: PacsConfig, delivery: Delivery, spool: Spool) -> str:
    """The one line a command prints after a round."""
    line = f"{describe(config)}: sent {count(delivery.sent, 'instance')}"
    if delivery.held:
        line += f", {delivery.held} already held (not sent again)"
    if delivery.waiting:
        line += f"; {delivery.waiting} waiting in {spool.directory}"
    return line
