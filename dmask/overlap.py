"""Decoding ahead, and drawing and encoding behind, the measuring thread, for `dmask mask`.

OpenCV's decoder, the networks' runtimes, the numba renderer and x264 (through
PyAV) release the GIL while they work, so on a 2-core box one frame is
measured while the one before is drawn and the one before that encoded.
Offline, no frame may be dropped and order must hold, so these are bounded
blocking queues (unlike the daemon's NewestSlot): a slow stage makes the
others wait, memory stays at `depth` frames a side. An error in a helper
thread is raised again in the thread that feeds it, in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")
DEPTH = 4
_END = object()
_POLL_SECONDS = 0.1


class _Handover(Generic[Item]):
    """A bounded queue whose producer gives up when told to stop."""

    def __init__(self, depth: int) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()

    def put(self, item: object) -> bool:
        """Blocks while full; False once stopped (the item is dropped: nobody will take it)."""
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


class ReadAhead(Generic[Item]):
    """Iterates `source` on a helper thread, at most `depth` items ahead of the consumer."""

    def __init__(self, source: Iterable[Item], depth: int = DEPTH) -> None:
        self._handover: _Handover[Item] = _Handover(depth)
        self._thread = threading.Thread(target=self._fill, args=(source,), name="dmask-read-ahead", daemon=True)
        self._thread.start()

    def _fill(self, source: Iterable[Item]) -> None:
        try:
            for item in source:
                if not self._handover.put(item):
                    return
            self._handover.put(_END)
        except BaseException as error:  # handed to the consumer, raised there
            self._handover.put(error)

    def __iter__(self) -> Iterator[Item]:
        while True:
            item = self._handover.queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop reading and wait for the helper (it never holds the source past this)."""
        self._handover.stopped.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead[Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class WriteBehind(Generic[Item]):
    """Calls `write(item)` on a helper thread, in order, at most `depth` items behind."""

    def __init__(self, write: Callable[[Item], None], depth: int = DEPTH) -> None:
        self._write = write
        self._handover: _Handover[Item] = _Handover(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="dmask-write-behind", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                item = self._handover.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self._handover.stopped.is_set():
                    return
                continue
            if item is _END or self._handover.stopped.is_set():
                return
            try:
                self._write(item)
            except BaseException as error:  # raised in the producer at its next put or at close
                self._error = error
                self._handover.stopped.set()
                return

    def put(self, item: Item) -> None:
        self._raise_error()
        self._handover.put(item)

    def close(self) -> None:
        """Write everything queued, then raise the helper's error, if any."""
        if self._handover.put(_END):
            self._thread.join()
        self._raise_error()

    def abandon(self) -> None:
        """Stop without writing what is queued (the output is being thrown away)."""
        self._handover.stopped.set()
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> WriteBehind[Item]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()
