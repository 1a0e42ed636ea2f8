"""Where `dmask run` gets its frames: cameras, RTSP, GStreamer and video files.

The capture stage is the one place that talks to the source. It runs in its own
thread and hands every frame to a NewestSlot, which never blocks: a camera must
be read at its own rate or its driver queues stale frames, so a slow consumer
loses frames instead of delaying them. A source that fails is reopened with
backoff forever; the daemon, not this module, decides whether "down for long"
is fatal. Frames only ever go into the slot; nothing here writes pixels out.
"""

from __future__ import annotations

import enum
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2

from dmask.config import SourceConfig
from dmask.errors import ConfigError
from dmask.capture.media import VIDEO_SUFFIXES, believable_fps
from dmask.records import Frame
from dmask.capture.redaction import GST_PREFIX, scrubbed, shown_source
from dmask.capture.slot import NewestSlot

log = logging.getLogger(__name__)

_APPSINK = "appsink drop=true max-buffers=1"
# a paced file this far behind its schedule (slow decoding) is re-anchored to
# now, so it resumes at its frame rate instead of bursting to catch up
_MAX_PACE_LAG_SECONDS = 1.0
# heartbeat granularity while waiting (backoff, pacing): the daemon's watchdog
# must see the thread alive even during a long backoff
_BEAT_SECONDS = 0.25
# pause between failed reads of a live source, so a dead one is not spun on
_RETRY_READ_SECONDS = 0.01


class SourceKind(str, enum.Enum):
    """What a source.uri names; each is opened with its own backend."""

    CAMERA = "camera"
    RTSP = "rtsp"
    GSTREAMER = "gstreamer"
    FILE = "file"


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source.uri.

    target: the camera's int index or /dev path, the RTSP URL, the GStreamer
        pipeline (ending in an appsink) or the file's path.
    """

    kind: SourceKind
    target: str | int

    @property
    def live(self) -> bool:
        """True for sources that run on their own clock (everything but files)."""
        return self.kind is not SourceKind.FILE

    @property
    def missing_file(self) -> bool:
        """A video file that is not there (now): down while running, a mistyped path at start-up."""
        return self.kind is SourceKind.FILE and not Path(str(self.target)).is_file()

    @property
    def display(self) -> str:
        """The source as it may be logged or published (dmask.capture.redaction.shown_source)."""
        return shown_source(GST_PREFIX + str(self.target) if self.kind is SourceKind.GSTREAMER else str(self.target))


def parse_source(uri: str) -> SourceSpec:
    """The source that uri names; ConfigError (one line) if it names none."""
    uri = uri.strip()
    if not uri:
        raise ConfigError("source.uri: no source given; set source.uri or pass --source")
    if re.fullmatch(r"\d+", uri):
        return SourceSpec(SourceKind.CAMERA, int(uri))
    if uri.startswith("/dev/"):  # /dev/video0, or a stable /dev/v4l/by-id/... link
        return SourceSpec(SourceKind.CAMERA, uri)
    if uri.lower().startswith(("rtsp://", "rtsps://")):
        return SourceSpec(SourceKind.RTSP, uri)
    if uri.lower().startswith(GST_PREFIX):
        pipeline = uri[len(GST_PREFIX):].strip()
        if not pipeline:
            raise ConfigError("source.uri: gst: needs a GStreamer pipeline after the prefix")
        last_element = pipeline.rsplit("!", 1)[-1].split()
        if not last_element or last_element[0] != "appsink":
            # OpenCV reads from an appsink; one that keeps a single buffer and
            # drops the rest gives the newest frame, like a camera with buffer 1
            pipeline = f"{pipeline} ! {_APPSINK}"
        return SourceSpec(SourceKind.GSTREAMER, pipeline)
    if Path(uri).suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(
            f"source.uri: {shown_source(uri)}: not a camera (/dev/videoN or an index), rtsp:// URL, "
            f"gst: pipeline or video file ({' '.join(VIDEO_SUFFIXES)})"
        )
    return SourceSpec(SourceKind.FILE, uri)


def open_capture(spec: SourceSpec, timeout_seconds: float | None = None) -> cv2.VideoCapture:
    """A VideoCapture for spec with the backend that suits it; check isOpened().

    The backend is named, not guessed, so a camera is never opened through a
    slower or buffering backend. Cameras keep a single buffer so a read returns
    the newest frame, not a queued one. timeout_seconds bounds opening and each
    read of a network stream, so a dead camera cannot block the thread forever.
    """
    if spec.kind is SourceKind.CAMERA:
        capture = cv2.VideoCapture(spec.target, cv2.CAP_V4L2)
        if capture.isOpened():
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture
    if spec.kind is SourceKind.GSTREAMER:
        return cv2.VideoCapture(str(spec.target), cv2.CAP_GSTREAMER)
    params: list[int] = []
    if spec.kind is SourceKind.RTSP and timeout_seconds is not None:
        ms = max(1, int(timeout_seconds * 1000))
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    return cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG, params)


class SourceState(str, enum.Enum):
    """What a source is doing: STARTING (not opened yet), UP (delivering),
    DOWN (out, see last_error, and being reopened), ENDED (a file that does
    not loop has played to its end: nothing is wrong and nothing will come),
    STOPPED (the stage was stopped)."""

    STARTING = "starting"
    UP = "up"
    DOWN = "down"
    ENDED = "ended"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SourceStatus:
    """What the capture stage is doing, for status messages and the daemon.

    frames: frames delivered so far (all opens together).
    reopen_attempts: opens tried after the first one.
    last_error: why the source is down or ended ("" while it is up).
    retry_seconds: the current backoff before the next reopen.
    """

    state: SourceState = SourceState.STARTING
    frames: int = 0
    reopen_attempts: int = 0
    last_error: str = ""
    retry_seconds: float = 0.0


class _SourceDown(Exception):
    """The source must be closed and reopened; the message says why."""


class _EndOfFile(Exception):
    """A non-looping file is done."""


class CaptureStage:
    """Reads the configured source in a thread into slot, reopening it when it fails.

    seq increases by one per delivered frame across reopens and loops, so the
    consumer can count what it dropped. timestamp is time.time() at the read
    for live sources; for files it is media time (frame index / fps) offset by
    the wall time the file started, so paced timestamps match the file's
    rhythm exactly and a looped file continues its timeline.
    """

    def __init__(
        self,
        config: SourceConfig,
        slot: NewestSlot[Frame],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._spec = parse_source(config.uri)
        self._slot = slot
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state = SourceStatus(retry_seconds=config.reopen_seconds)
        self._thread: threading.Thread | None = None
        self._capture: cv2.VideoCapture | None = None  # touched by the thread only
        self._seq = 0
        self._last_timestamp = -math.inf
        self.last_beat = clock()
        self.description = f"{self._spec.kind.value} {self._spec.display}"

    # -- control ---------------------------------------------------------

    def start(self) -> None:
        """Start the capture thread (once)."""
        if self._thread is not None:
            raise RuntimeError("CaptureStage.start() called twice")
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to end and wait up to timeout; True if it has ended.

        All waits in the thread are on one Event, so this interrupts a backoff
        or pacing sleep at once; only a read blocked inside the driver can
        delay it (bounded for RTSP by the read timeout).
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        self._set(state=SourceState.STOPPED)
        return True

    @property
    def alive(self) -> bool:
        """True while the capture thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> SourceStatus:
        """A consistent snapshot of the stage's state (safe from any thread)."""
        with self._lock:
            return self._state

    # -- thread ----------------------------------------------------------

    def _set(self, **changes) -> None:
        """Change the state; a change of state (or of why it is down) is one log line."""
        with self._lock:
            before, self._state = self._state, replace(self._state, **changes)
        after = self._state
        if after.state is not before.state or (after.state is SourceState.DOWN and after.last_error != before.last_error):
            self._log_change(after)

    def _log_change(self, now: SourceStatus) -> None:
        source = self.description
        if now.state is SourceState.UP:
            again = f" again after {now.reopen_attempts} reopen attempts" if now.reopen_attempts else ""
            log.info("source up%s: %s", again, source)
        elif now.state is SourceState.DOWN:
            log.warning("source down: %s; reopening in %g s (attempt %d)", now.last_error, now.retry_seconds, now.reopen_attempts + 1)
        elif now.state is SourceState.ENDED:
            log.info("source ended: %s played to its end (%d frames)", source, now.frames)

    def _beat(self) -> None:
        self.last_beat = self._clock()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to seconds, beating; True if stop was asked meanwhile."""
        end = self._clock() + seconds
        while not self._stop.is_set():
            self._beat()
            left = end - self._clock()
            if left <= 0:
                break
            self._stop.wait(min(left, _BEAT_SECONDS))
        return self._stop.is_set()

    def _run(self) -> None:
        """Open, read until the source fails, back off, reopen; never raises."""
        cfg = self._config
        first = True
        while not self._stop.is_set():
            self._beat()
            if not first:
                delay = self.state().retry_seconds
                if self._wait(delay):
                    break
                with self._lock:
                    self._state = replace(
                        self._state,
                        reopen_attempts=self._state.reopen_attempts + 1,
                        retry_seconds=min(delay * 2, cfg.reopen_max_seconds),
                    )
            first = False
            try:
                self._read_source()
            except _EndOfFile:
                self._set(state=SourceState.ENDED, last_error="end of file")
                return
            except _SourceDown as down:
                self._set(state=SourceState.DOWN, last_error=str(down))
            except Exception as error:  # a driver or decoder fault must not kill capture
                self._set(state=SourceState.DOWN, last_error=scrubbed(f"{type(error).__name__}: {error}", cfg.uri))

    def _open(self) -> tuple[cv2.VideoCapture, float]:
        """An opened capture and its frame rate; _SourceDown if it cannot open."""
        spec = self._spec
        if spec.missing_file:
            raise _SourceDown(f"no such file: {spec.display}")
        capture = open_capture(spec, timeout_seconds=self._config.stall_seconds)
        if not capture.isOpened():
            capture.release()
            raise _SourceDown(f"cannot open {spec.kind.value} source {spec.display}")
        return capture, believable_fps(capture.get(cv2.CAP_PROP_FPS))

    def _read_source(self) -> None:
        """Deliver frames from one open of the source (files: all loops of it).

        Returns when stop is asked; raises _SourceDown or _EndOfFile otherwise.
        Whatever capture is open at the end is released here.
        """
        self._capture, fps = self._open()
        try:
            if self._spec.live:
                self._read_live()
            else:
                self._read_file(fps)
        finally:
            capture, self._capture = self._capture, None
            if capture is not None:
                capture.release()

    def _read_live(self) -> None:
        stall = self._config.stall_seconds
        last_frame = self._clock()
        while not self._stop.is_set():
            self._beat()
            ok, image = self._capture.read()
            if ok and image is not None:
                self._deliver(image, time.time())
                last_frame = self._clock()
            elif self._clock() - last_frame >= stall:
                raise _SourceDown(f"no frame for {stall:g} s")
            elif self._wait(_RETRY_READ_SECONDS):
                return

    def _read_file(self, fps: float) -> None:
        # index in the current pass; origins of the pass in wall and monotonic
        # time; due times are computed from the origin, so drift never adds up
        index = 0
        wall_origin = max(time.time(), self._last_timestamp + 1 / fps)
        mono_origin = self._clock()
        while not self._stop.is_set():
            self._beat()
            ok, image = self._capture.read()
            if not ok or image is None:
                if index == 0:
                    raise _SourceDown(f"no frame could be decoded from {self._spec.display}")
                if not self._config.loop:
                    raise _EndOfFile()
                # loop by reopening: rewinding by seeking is unreliable across containers
                self._capture.release()
                self._capture = None
                self._capture, next_fps = self._open()
                wall_origin += index / fps
                mono_origin += index / fps
                fps, index = next_fps, 0
                continue
            if self._config.pace:
                due = mono_origin + index / fps
                lag = self._clock() - due
                if lag > _MAX_PACE_LAG_SECONDS:
                    wall_origin += lag
                    mono_origin += lag
                elif lag < 0 and self._wait(-lag):
                    return
            self._deliver(image, wall_origin + index / fps)
            index += 1

    def _deliver(self, image, timestamp: float) -> None:
        """Hand one frame over (never blocks) and mark the source up."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if image.dtype != "uint8" or image.shape[2] != 3:
            raise _SourceDown(f"unexpected frame format {image.dtype} {image.shape}")
        self._slot.put(Frame(image=image, seq=self._seq, timestamp=timestamp, source_id=self._spec.display))
        self._seq += 1
        self._last_timestamp = timestamp
        self._set(
            state=SourceState.UP,
            last_error="",  # recovered: the error was then, not now
            frames=self._state.frames + 1,  # only this thread changes frames
            retry_seconds=self._config.reopen_seconds,  # backoff resets on a good frame
        )
