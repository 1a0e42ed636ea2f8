"""The daemon: camera in, only masked frames out, three threads.

    capture thread --Frame--> NewestSlot --> process thread --MaskedFrame--> NewestSlot --> publish thread
    (sources.py)                             (MaskPipeline)                                 (transport.py)

Each hand-over keeps only the newest item, so a slow stage drops frames and
the capture loop never blocks. The publish thread also sends the status
topic about once a second. While the source is down, the process thread
publishes blank `source_down` frames once a second, so a recorder sees the
outage rather than silence. Every loop beats a heartbeat.

Under systemd (Type=notify) the daemon says READY=1 once the models are
loaded and the publisher is bound, even with the camera unplugged (a unit
that waited for a frame would be restarted in a loop), a STATUS= line (with
the source's state) with each status
message, WATCHDOG=1 only while frames are being processed or the source is
being reopened (so a wedged pipeline is restarted), and STOPPING=1 on stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from dmask import __version__
from dmask.config import Config, weakened
from dmask.errors import InputError
from dmask.serve.notify import Notifier
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline, StageTimes
from dmask.records import Frame, FrameStatus, MaskedFrame
from dmask.capture.slot import NewestSlot
from dmask.capture.sources import CaptureStage, SourceState, SourceStatus, parse_source
from dmask.serve.status import Counts, CpuMeter, DaemonStatus, Drops, Latencies
from dmask.serve.transport import Publisher

log = logging.getLogger(__name__)

TAKE_TIMEOUT = 0.2
LATENCY_WINDOW = 300
ALIVE_SECONDS = 2.0  # a loop or a processed frame older than this is not "alive"


@dataclass
class Heartbeats:
    """When each loop last went round (monotonic seconds)."""

    process: float = field(default_factory=time.monotonic)
    publish: float = field(default_factory=time.monotonic)
    frame_processed: float = 0.0


class Capture(Protocol):
    """What the daemon needs of its source stage (CaptureStage, or the demo's clip)."""

    last_beat: float
    description: str  # what it reads, fit to log: no credentials

    def start(self) -> None: ...

    def stop(self, timeout: float) -> bool: ...

    def state(self) -> SourceStatus: ...


class Daemon:
    def __init__(
        self,
        config: Config,
        models: ModelSet,
        capture: Callable[[NewestSlot[Frame]], Capture] | None = None,
    ) -> None:
        """models: loaded once by the caller (ModelSet.load); capture builds the
        source stage on the frame slot (default: config.source)."""
        self.config = config
        self.frames: NewestSlot[Frame] = NewestSlot()
        self.masked: NewestSlot[MaskedFrame] = NewestSlot()
        self.publisher = Publisher(config.publish, config.output.jpeg_quality)
        self.pipeline = MaskPipeline(config, models=models)
        self.notifier = Notifier()
        self.capture = capture(self.frames) if capture else CaptureStage(config.source, self.frames)
        self.beats = Heartbeats()
        self.started = time.monotonic()
        self.published = 0
        self.latency: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.cpu = CpuMeter()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._process_loop, name="process", daemon=True),
            threading.Thread(target=self._publish_loop, name="publish", daemon=True),
        ]

    def describe(self) -> str:
        """The start-up log line: version, source, endpoints, CURVE, backends; no key, no credential."""
        return (
            f"started: version {__version__}; source {self.capture.description}; "
            f"publishing {self.config.publish.encoding.value} frames on {', '.join(self.publisher.endpoints)} "
            f"(CURVE {'on' if self.publisher.curve else 'off'}); "
            f"inference {self.pipeline.models.inference.label}; render {self.pipeline.renderer.name.value}"
        )

    def start(self) -> None:
        """Capture, process and publish threads; then READY=1: the models are loaded and
        the publisher is bound, whether or not the source is up (STATUS= says how it is)."""
        self.capture.start()
        for thread in self._threads:
            thread.start()
        self.notifier.send("READY=1")
        self._ready.set()

    def stop(self, timeout: float = 3.0) -> None:
        self.notifier.send("STOPPING=1")
        self._stop.set()
        self.capture.stop(timeout)
        self.frames.close()
        self.masked.close()
        for thread in self._threads:
            if thread.ident is not None:  # a stop during start() finds some not started
                thread.join(timeout)
        self.publisher.close()

    def _process_loop(self) -> None:
        last_outage = 0.0
        while not self._stop.is_set():
            self.beats.process = time.monotonic()
            frame = self.frames.take(TAKE_TIMEOUT)
            if frame is not None:
                self.masked.put(self.pipeline.process(frame))
                self.beats.frame_processed = time.monotonic()
            elif self.capture.state().state is SourceState.DOWN and time.monotonic() - last_outage >= 1.0:
                last_outage = time.monotonic()
                self.masked.put(self._outage_frame())

    def _outage_frame(self) -> MaskedFrame:
        """A blank frame saying the source is down, at the last frame's size (VGA before any)."""
        height, width = self.pipeline.last_size or (480, 640)
        return MaskedFrame(self.pipeline.blank(height, width), -1, time.time(), FrameStatus.SOURCE_DOWN)

    def _publish_loop(self) -> None:
        next_status = time.monotonic()
        while not self._stop.is_set():
            self.beats.publish = time.monotonic()
            masked = self.masked.take(TAKE_TIMEOUT)
            if masked is not None:
                self.publisher.send_frame(masked)
                self.publisher.send_signals(masked)
                self.published += 1
                if masked.status is not FrameStatus.SOURCE_DOWN:
                    self.latency.append(time.time() - masked.timestamp)
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + self.config.publish.status_interval_seconds
                status = self.status()
                self.publisher.send_status(status.to_wire())
                self._tell_systemd(status)

    def _tell_systemd(self, status: DaemonStatus) -> None:
        """STATUS= (and WATCHDOG=1 while alive), only after READY=1 has gone."""
        if not self._ready.is_set():
            return
        line = f"STATUS=source {status.source.state.value}, {status.fps_out} fps out, {status.counts.failed_closed} failed closed"
        self.notifier.send(*([line, "WATCHDOG=1"] if self.alive() else [line]))

    def alive(self) -> bool:
        """Frames are being processed, or the source is down and being reopened."""
        now = time.monotonic()
        if now - self.beats.process > ALIVE_SECONDS:
            return False
        if now - self.beats.frame_processed <= ALIVE_SECONDS:
            return True
        waiting = (SourceState.DOWN, SourceState.STARTING)
        return self.capture.state().state in waiting and now - self.capture.last_beat <= ALIVE_SECONDS

    def status(self) -> DaemonStatus:
        """What the status topic says: rates, drops, latencies, CPU use since the last call, the source, uptime."""
        uptime = max(time.monotonic() - self.started, 1e-9)
        times, counts = self.pipeline.times, self.pipeline.counts
        p50, p99 = _latencies(times, self.latency)
        return DaemonStatus(
            uptime_s=round(uptime, 1),
            fps_in=round(self.frames.put_count / uptime, 2),
            fps_out=round(self.published / uptime, 2),
            dropped=Drops(self.frames.dropped, self.masked.dropped, self.publisher.dropped),
            latency_ms_p50=p50,
            latency_ms_p99=p99,
            cpu_cores=self.cpu.cores(),
            source=self.capture.state(),
            counts=Counts(counts.frames, counts.faces, counts.failed_closed, counts.no_face),
        )


def _latencies(times: StageTimes, capture_to_publish: deque[float]) -> tuple[Latencies, Latencies]:
    """p50 and p99 of each stage's last LATENCY_WINDOW times, in milliseconds (None for none)."""
    series = (times.inference.wall, times.fit.wall, times.render.wall, capture_to_publish)
    per_series = [_p50_p99_ms(seconds) for seconds in series]
    return Latencies(*(p50 for p50, _ in per_series)), Latencies(*(p99 for _, p99 in per_series))


def _p50_p99_ms(seconds: deque[float]) -> tuple[float | None, float | None]:
    if not seconds:
        return None, None
    p50, p99 = np.percentile(list(seconds)[-LATENCY_WINDOW:], (50, 99))
    return round(1e3 * float(p50), 2), round(1e3 * float(p99), 2)


def run_until_stopped(config: Config) -> None:
    """Start the daemon and keep it up until SIGINT or SIGTERM, then stop cleanly (exit 0).

    A camera or stream that is down is retried until it comes back; a video
    file that does not exist at start-up is a mistyped path, not an outage.
    """
    spec = parse_source(config.source.uri)
    if spec.missing_file:
        raise InputError(f"{spec.target}: no such file; give an existing video, a camera or a stream as --source")
    daemon = Daemon(config, ModelSet.load(config))
    log.info("%s", daemon.describe())
    for entry in weakened(config):
        log.warning("privacy weakened by the config (acknowledged): %s", entry)
    try:
        daemon.start()
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        daemon.stop()
        status = daemon.status()
        log.info("stopped: %d frames processed, %s, %d published, %d failed closed",
                 status.counts.frames, status.dropped.line(), daemon.published, status.counts.failed_closed)
