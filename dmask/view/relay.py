"""From the daemon's ZeroMQ topics to every open browser, newest only, never blocking.

One thread subscribes (CURVE as for the recorder) and hands each message to
the server's event loop, where a Latest holds only the newest frame, the
newest status and the signals. A browser's stream awaits the next version of
what it has shown and skips whatever came in between, so a slow or vanished
browser holds up nobody: not the other viewers, not the subscriber, and not
the daemon (whose publisher drops for a subscriber that falls behind).
Frames are relayed as published: the daemon's JPEG bytes unchanged (a BGR
frame is JPEG-encoded here, in memory), never written anywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from dmask.errors import DmaskError
from dmask.serve.transport import WIRE_VERSION, Message, Topic, decode_frame, subscribe

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
_JPEG_QUALITY = 90  # for a daemon publishing raw BGR only


@dataclass(frozen=True)
class Picture:
    """One masked frame as a browser gets it. jpeg: the bytes; capture_ts: wall seconds at capture."""

    jpeg: bytes
    seq: int
    capture_ts: float


class Latest:
    """The newest value of a topic on the event loop, and a wait for the next one."""

    def __init__(self) -> None:
        self.version = 0
        self.value: Any = None
        self._changed = asyncio.Event()

    def set(self, value: Any) -> None:
        """On the loop's thread only (Relay hands values over with call_soon_threadsafe)."""
        self.value = value
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def after(self, version: int) -> tuple[int, Any]:
        """The newest (version, value) later than version, waiting for one if need be."""
        while self.version <= version:
            await self._changed.wait()
        return self.version, self.value


class Relay:
    """The subscriber thread feeding frame, signals and status Latests on a loop."""

    def __init__(self, endpoint: str, client_secret_key: Path | None, server_public_key: Path | None) -> None:
        self._where = (endpoint, client_secret_key, server_public_key)
        self.frames, self.signals, self.status = Latest(), Latest(), Latest()
        self.heartbeat = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="dmask-view-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        endpoint, client_key, server_key = self._where
        try:
            with subscribe(endpoint, tuple(Topic), client_key, server_key) as sub:
                while not self._stop.is_set():
                    self.heartbeat = time.monotonic()
                    message = sub.receive(POLL_SECONDS)
                    if message is not None and message.header.get("v") == WIRE_VERSION:
                        self._hand_over(message)
        except DmaskError as error:
            log.error("%s", error)

    def _hand_over(self, message: Message) -> None:
        if message.topic == Topic.FRAME:
            target, value = self.frames, self._picture(message)
        elif message.topic == Topic.SIGNALS:
            target, value = self.signals, json.dumps(message.header)
        else:
            target, value = self.status, json.dumps(message.header)
        if value is not None:
            self._loop.call_soon_threadsafe(target.set, value)

    @staticmethod
    def _picture(message: Message) -> Picture | None:
        header = message.header
        if header.get("encoding") == "jpeg":
            jpeg = bytes(message.payload)
        else:
            try:
                ok, buffer = cv2.imencode(".jpg", decode_frame(message), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
            except (DmaskError, ValueError, KeyError):
                return None
            jpeg = buffer.tobytes() if ok else b""
        if not jpeg:
            return None
        return Picture(jpeg, int(header.get("seq", -1)), float(header.get("capture_ts", 0.0)))
