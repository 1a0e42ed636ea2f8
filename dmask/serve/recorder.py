"""Recording what a `dmask run` daemon publishes: `dmask record` and `dmask status`.

The recorder is a subscriber: it only ever sees masked frames and their
signals (docs/WIRE.md), and writes them to MP4 files with a JSON-lines signal
sidecar beside each. Every file is written atomically (dmask.capture.media): stopping
cleanly commits them under their final names; an exception removes them. A
recorder killed outright leaves its partial files, fragmented MP4 synced every
second; the next recorder into the same output finishes them (dmask.serve.recovery).

File names, for output `out.mp4`:

- without segment_minutes the first file is `out.mp4` itself; should the frame
  size change mid-recording, the following files are `out-0002.mp4`,
  `out-0003.mp4`, ...
- a name already taken (an earlier recording, a recovered one) is skipped for
  the next number: nothing recorded is ever overwritten.
- with segment_minutes every file is numbered: `out-0001.mp4`, `out-0002.mp4`,
  ... (a new file every segment_minutes of capture time, and at a size change)
- each video's signals go to `<video stem>.signals.jsonl` beside it
  (`out.signals.jsonl`, `out-0001.signals.jsonl`, ...), one signals message
  body per line as received.

Each frame is shown at its capture time (`capture_ts`, the source's clock), so
a 25 fps source records as 25 fps whatever `fps` says (only the keyframe and
sync interval, in frames), and a frame the daemon dropped leaves a gap in
time, not a shorter video. Missing frames are counted from `seq`: a jump of n
counts n - 1 gaps. Frames
with seq < 0 are the daemon's `source_down` fillers: counted by status, never
as gaps. A seq that goes backwards means the daemon restarted: it is logged
and recording goes on (ZeroMQ reconnects by itself).
"""

from __future__ import annotations

import errno
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dmask.config import VideoCodec
from dmask.errors import DmaskError, OutputError, StageError
from dmask.capture.media import VIDEO_SUFFIXES, AtomicFile, BackgroundSync, ensure_writable_dir, signals_path
from dmask.provenance import ProvenanceKey
from dmask.records import FrameStatus
from dmask.serve.recovery import recover_partials
from dmask.serve.status import DaemonStatus
from dmask.serve.transport import WIRE_VERSION, Message, Subscriber, Topic, decode_frame, subscribe
from dmask.video_out import AtomicVideoWriter
from dmask.wording import count

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # how often run() looks at its stop event, at most


@dataclass(frozen=True)
class RecordSummary:
    """What one recording wrote and saw.

    frames: frames written (all segments). segments: the video files written,
    in order (each with its signals sidecar). gaps: missing frames counted from
    seq jumps. statuses: frames written per wire status. restarts: how often
    seq went backwards (daemon restarted). seconds: how long run() ran.
    last_status: the last status message received, or None. codec: the
    videos' codec.
    """

    frames: int
    segments: tuple[Path, ...]
    gaps: int
    statuses: dict[str, int]
    seconds: float
    restarts: int = 0
    last_status: DaemonStatus | None = None
    codec: VideoCodec = VideoCodec.H264

    def line(self) -> str:
        """The one line `dmask record` prints."""
        files = count(len(self.segments), f"{self.codec.label} file") if self.segments else "0 files"
        missing = f"{count(self.gaps, 'frame')} missing (dropped before they reached the recorder)" if self.gaps else "no frames missing"
        text = (
            f"recorded {count(self.frames, 'frame')} in {files}; {missing}; "
            f"statuses: {describe_statuses(self.statuses)}"
        )
        if self.restarts:
            text += f"; {self.restarts} daemon restarts"
        if self.last_status is not None:
            text += f"; last status: {self.last_status.line()}"
        return text


def _disk_full(error: BaseException) -> bool:
    """The error, or what caused it, is a full disk or quota."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__
    return False


def describe_statuses(statuses: dict[str, int]) -> str:
    """`ok=.., no_face=.., failed_closed=.., source_down=..`, then any unknown ones."""
    names = [s.value for s in FrameStatus] + sorted(set(statuses) - {s.value for s in FrameStatus})
    return ", ".join(f"{name}={statuses.get(name, 0)}" for name in names)


class _Segment:
    """One video file and its signals sidecar, both atomic; fragmented and synced
    to disk every second of frames (by a helper thread, so that a slow disk does
    not hold up receiving), so a killed recorder loses about 2 s (dmask.serve.recovery)."""

    def __init__(self, path: Path, fps: float, width: int, height: int, codec: VideoCodec, syncer: BackgroundSync,
                 seal: ProvenanceKey | None) -> None:
        self.path = path
        self.syncer = syncer
        self.size = (width, height)
        self.frames = 0
        self.started: float | None = None  # the first frame's capture time
        self.sync_every = max(1, round(fps))
        self.video = AtomicVideoWriter(path, fps, width, height, codec, fragmented=True, seal=seal)
        try:
            self.signals = AtomicFile(signals_path(path), "w", encoding="utf-8")
        except BaseException:
            self.video.abort()
            raise

    def write_signals(self, body: dict) -> None:
        self.signals.file.write(json.dumps(body, separators=(",", ":")) + "\n")

    def write_frame(self, image, capture_ts: float) -> None:
        self.video.write(image, capture_ts)
        self.started = capture_ts if self.started is None else self.started
        self.frames += 1
        if self.frames % self.sync_every == 0:  # to the kernel here, to the disk on the helper
            self.video.flush()
            self.signals.flush()
            self.syncer.request((self.video.temp_path, self.signals.temp_path))

    def commit(self) -> None:
        """Both files under their final names; on a failure (a full disk) both are kept for dmask.serve.recovery."""
        try:
            self.video.commit(keep_on_failure=True)
        except BaseException:
            self.signals.keep()
            raise
        self.signals.commit(keep_on_failure=True)

    def abort(self) -> None:
        self.video.abort()
        self.signals.abort()

    def keep(self) -> None:
        """Leave both files as far as they got, under their partial names, for dmask.serve.recovery."""
        self.video.keep()
        self.signals.keep()


class Recorder:
    """Subscribes to a daemon and records its frames and signals until stopped."""

    def __init__(
        self,
        endpoint: str,
        output: Path,
        fps: float = 30.0,
        segment_minutes: float | None = None,
        client_secret_key: Path | None = None,
        server_public_key: Path | None = None,
        codec: VideoCodec = VideoCodec.H264,
        on_segment: Callable[[Path], None] | None = None,
        seal: ProvenanceKey | None = None,
    ) -> None:
        """on_segment: called with each video as soon as it is committed (dmask record --pacs); must not block.
        seal: the appliance's key, that seals each finished video (dmask.provenance); None: unsealed."""
        output = Path(output)
        if output.suffix.lower() not in VIDEO_SUFFIXES:
            raise OutputError(f"{output}: not a video name; give one ending in {' '.join(VIDEO_SUFFIXES)}")
        if output.is_dir():
            raise OutputError(f"{output}: is a directory; give a video file name")
        ensure_writable_dir(output.parent)
        if not fps > 0:
            raise DmaskError(f"fps must be positive, not {fps}")
        if segment_minutes is not None and not segment_minutes > 0:
            raise DmaskError(f"segment minutes must be positive, not {segment_minutes}")
        self.endpoint = endpoint
        self.output = output
        self.fps = float(fps)
        self.segment_seconds = None if segment_minutes is None else segment_minutes * 60.0
        self.codec = codec
        self._on_segment = on_segment
        self.seal = seal
        self._keys = (client_secret_key, server_public_key)
        self.received = threading.Event()  # set at the first message of any topic
        self._reset()

    def _reset(self) -> None:
        self._segment: _Segment | None = None
        self._written: list[Path] = []
        self._pending_signals: list[dict] = []
        self._frames = 0
        self._gaps = 0
        self._restarts = 0
        self._statuses: Counter[str] = Counter()
        self._last_seq: int | None = None
        self._codec_written = self.codec
        self._last_status: DaemonStatus | None = None
        self._warned_version = False

    @property
    def frames(self) -> int:
        """Frames written so far in the current (or last) run."""
        return self._frames

    @property
    def last_status(self) -> DaemonStatus | None:
        """The last status message received in the current (or last) run."""
        return self._last_status

    def run_until_stopped(self, duration: float | None) -> RecordSummary:
        """Record for duration seconds (None: for ever), or until Ctrl-C or SIGTERM, then commit.

        `run` goes on in a thread of its own, so the KeyboardInterrupt that
        Ctrl-C or SIGTERM raises lands here, in the caller's (main) thread,
        and only ends the wait: the recorder then stops at its next poll and
        commits its files. Its error, if it had one, is raised here.
        """
        stop, done = threading.Event(), threading.Event()
        outcome: list = []

        def work() -> None:
            try:
                outcome.append(self.run(stop))
            except BaseException as error:  # handed to the caller's thread below
                outcome.append(error)
            finally:
                done.set()

        thread = threading.Thread(target=work, name="dmask-record")
        thread.start()
        try:
            done.wait(duration)
        except KeyboardInterrupt:
            pass
        stop.set()
        while not done.wait(0.5):  # a second Ctrl-C during the commit must not leave the thread behind
            pass
        thread.join()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def run(self, stop: threading.Event) -> RecordSummary:
        """Record until stop is set (looked at every POLL_SECONDS), then commit.

        Any exception (KeyboardInterrupt included) aborts the open files, so
        nothing half-written is left under a final name.
        """
        self._reset()
        for line in recover_partials(self.output, self.seal):
            log.warning("%s", line)
        started = time.monotonic()
        client_key, server_key = self._keys
        self._syncer = BackgroundSync()
        try:
            with subscribe(self.endpoint, tuple(Topic), client_key, server_key) as sub:
                while not stop.is_set():
                    message = sub.receive(POLL_SECONDS)
                    if message is not None:
                        self.received.set()
                        self._handle(message)
            self._close_segment()
        except (OSError, OutputError) as error:
            if not _disk_full(error):
                self._abort_segment()
                raise
            raise self._kept(error) from error
        except BaseException:
            self._abort_segment()
            raise
        finally:
            self._syncer.close()
        return RecordSummary(
            frames=self._frames,
            segments=tuple(self._written),
            gaps=self._gaps,
            statuses=dict(self._statuses),
            seconds=time.monotonic() - started,
            restarts=self._restarts,
            last_status=self._last_status,
            codec=self._codec_written,
        )

    def _handle(self, message: Message) -> None:
        header = message.header
        if header.get("v") != WIRE_VERSION:
            if not self._warned_version:
                log.warning("ignoring %s messages of wire version %r (this recorder reads %d)",
                            message.topic.value, header.get("v"), WIRE_VERSION)
                self._warned_version = True
            return
        if message.topic == Topic.FRAME:
            self._frame(message)
        elif message.topic == Topic.SIGNALS:
            if self._segment is None:
                self._pending_signals.append(header)
            else:
                self._segment.write_signals(header)
        elif message.topic == Topic.STATUS:
            self._last_status = DaemonStatus.from_wire(header)

    def _frame(self, message: Message) -> None:
        header = message.header
        try:
            image = decode_frame(message)
        except (StageError, ValueError, KeyError) as error:
            log.warning("skipping an undecodable frame: %s", error)
            return
        self._count_seq(int(header.get("seq", -1)))
        capture_ts = float(header.get("capture_ts", time.time()))
        height, width = image.shape[:2]
        segment = self._segment
        if segment is not None and (
            segment.size != (width, height)
            or (self.segment_seconds is not None and capture_ts - segment.started >= self.segment_seconds)
        ):
            self._close_segment()
        if self._segment is None:
            self._open_segment(width, height)
        self._segment.write_frame(image, capture_ts)
        self._frames += 1
        self._statuses[str(header.get("status", "unknown"))] += 1

    def _count_seq(self, seq: int) -> None:
        if seq < 0:  # a source_down filler: not part of the numbering
            return
        last = self._last_seq
        if last is not None:
            if seq > last + 1:
                self._gaps += seq - last - 1
            elif seq <= last:
                self._restarts += 1
                log.warning("frame seq went back from %d to %d: the daemon restarted; recording on",
                            last, seq)
        self._last_seq = seq

    def _next_path(self) -> Path:
        """The next file's name; never one already there (an earlier or recovered recording keeps its file)."""
        number = len(self._written) + 1
        while True:
            path = (self.output if self.segment_seconds is None and number == 1
                    else self.output.with_name(f"{self.output.stem}-{number:04d}{self.output.suffix}"))
            if not path.exists() and not signals_path(path).exists():
                return path
            number += 1

    def _open_segment(self, width: int, height: int) -> None:
        segment = _Segment(self._next_path(), self.fps, width, height, self.codec, self._syncer, self.seal)
        self._codec_written = segment.video.codec
        for body in self._pending_signals:
            segment.write_signals(body)
        self._pending_signals.clear()
        self._segment = segment

    def _abort_segment(self) -> None:
        if self._segment is not None:
            self._segment.abort()
            self._segment = None

    def _kept(self, error: BaseException) -> OutputError:
        """A full disk: the open file is left for the next recorder's recovery; the one line that says so."""
        segment, self._segment = self._segment, None
        name = self.output
        if segment is not None:
            segment.keep()
            name = segment.path
        return OutputError(
            f"{name}: the disk is full ({getattr(error, 'strerror', None) or error}) after {count(self._frames, 'frame')}; "
            f"what was written is kept, and the next `dmask record -o {self.output}` recovers it: free space, then run it again"
        )

    def _close_segment(self) -> None:
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.commit()
            self._written.append(segment.path)
            if self._on_segment is not None:
                self._on_segment(segment.path)


def iter_status_lines(
    endpoint: str,
    count: int = 5,
    timeout: float = 5.0,
    client_secret_key: Path | None = None,
    server_public_key: Path | None = None,
) -> Iterator[str]:
    """Readable lines of the next `count` status messages, as they arrive.

    DmaskError naming the endpoint if the first one does not arrive within
    timeout seconds; should a later one not arrive in time, the lines so far
    are all there is.
    """
    with subscribe(endpoint, (Topic.STATUS,), client_secret_key, server_public_key) as sub:
        for index in range(count):
            message = _next_status(sub, timeout)
            if message is None:
                if index == 0:
                    raise DmaskError(
                        f"{endpoint}: no status message within {timeout:g} s; "
                        "is `dmask run` publishing there (and are the keys right)?"
                    )
                return
            yield DaemonStatus.from_wire(message.header).line()


def _next_status(sub: Subscriber, timeout: float) -> Message | None:
    deadline = time.monotonic() + timeout
    while True:
        message = sub.receive(max(0.0, deadline - time.monotonic()))
        if message is None:
            return None
        if message.topic == Topic.STATUS:
            return message
