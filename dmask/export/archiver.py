"""`dmask record --pacs`: each finished segment into the spool and on to the PACS, on a thread of its own.

The recorder hands over a segment's path as soon as it is committed and goes
back to receiving; this stage makes the segment's instances (a remux, a PDF
and an SR: seconds of CPU), spools them and runs a delivery round. A failed
round is tried again after pacs.retry_seconds, doubling up to
pacs.retry_max_seconds, and at once when the next segment arrives. A segment
that cannot be exported is logged in one line and stays on disk as an MP4,
for `dmask export dicom`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dmask.config.services import PacsConfig
from dmask.errors import DmaskError
from dmask.export.package import StudyExport
from dmask.export.spool import Delivery, Spool, describe_delivery
from dmask.wording import count

log = logging.getLogger(__name__)

_STOP = Path()  # the queue's end marker


@dataclass(frozen=True)
class ArchiveSummary:
    """What one recorder run archived: segments spooled, those that could not be exported, and the deliveries' sum."""

    segments: int
    failed: int
    delivery: Delivery

    def line(self, config: PacsConfig, spool: Spool) -> str:
        """The line `dmask record --pacs` prints at the end."""
        failed = f", {count(self.failed, 'segment')} not exported (see above)" if self.failed else ""
        return f"{count(self.segments, 'segment')} spooled{failed}; {describe_delivery(config, self.delivery, spool)}"


class Archiver:
    """Exports, spools and delivers finished segments; start, submit, stop."""

    def __init__(self, export: StudyExport, spool: Spool, config: PacsConfig) -> None:
        self.export = export
        self.spool = spool
        self.config = config
        self.heartbeat = time.monotonic()
        self._queue: queue.Queue[Path] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="dmask-archive", daemon=True)
        self._segments = self._failed = self._sent = self._held = 0
        self._last: Delivery | None = None

    def start(self) -> None:
        self._thread.start()

    def submit(self, video: Path) -> None:
        """A committed segment (called from the recorder's thread; never blocks)."""
        self._queue.put(video)

    def stop(self) -> ArchiveSummary:
        """Export what was submitted, try one last round if the PACS was reachable, then end."""
        self._queue.put(_STOP)
        self._thread.join()
        last = self._last
        return ArchiveSummary(self._segments, self._failed, Delivery(
            self._sent, self._held, len(self.spool.pending()), last.error if last else None))

    def _run(self) -> None:
        delay = self.config.retry_seconds
        wait: float | None = None  # None: nothing to retry, wait for the next segment
        while True:
            try:
                video = self._queue.get(timeout=wait)
            except queue.Empty:
                video = None
            self.heartbeat = time.monotonic()
            if video == _STOP:
                if self.spool.pending() and (self._last is None or self._last.error is None):
                    self._deliver(delay)
                return
            if video is not None:
                self._archive(video)
            delivery = self._deliver(delay)
            wait = delay if delivery.waiting and delivery.error else None
            delay = min(delay * 2, self.config.retry_max_seconds) if delivery.error else self.config.retry_seconds

    def _archive(self, video: Path) -> None:
        try:
            for ds in self.export.instances(video):
                self.spool.add(ds)
            self._segments += 1
        except DmaskError as error:
            self._failed += 1
            log.warning("%s: not exported to the PACS (%s); export it later with dmask export dicom", video, error)

    def _deliver(self, retry_in: float) -> Delivery:
        delivery = self.spool.deliver(self.config, retry_in=retry_in)
        self._sent += delivery.sent
        self._held += delivery.held
        if delivery.error and (self._last is None or self._last.error != delivery.error):
            log.warning("%s", delivery.error)
        self._last = delivery
        return delivery
