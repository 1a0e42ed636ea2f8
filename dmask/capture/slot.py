"""A bounded hand-over between two threads that keeps only the newest item.

The producer never waits: putting into a full slot replaces the old item and
counts it as dropped. This is what keeps the capture loop from ever blocking
on a slower stage: a late frame is lost, never queued.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestSlot(Generic[T]):
    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.put_count = 0

    def put(self, item: T) -> None:
        """Hand over item now, replacing (and counting) one not yet taken."""
        with self._ready:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self.put_count += 1
            self._ready.notify()

    def take(self, timeout: float) -> T | None:
        """The newest item, waiting at most timeout seconds; None if none came or closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """Wake any taker; later takes return what is left, then None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
