"""`dmask demo`: the daemon end to end on a clip made from scikit-image's astronaut photo.

It needs no camera, no network and no test data: the clip is the bundled
photo moved by a gentle synthetic head motion, built frame by frame in memory
and played into the daemon like a camera; never written anywhere. The daemon
publishes on a private ipc socket, a recorder subscribed to it writes the
masked video and its signals, and the summary says what was played and
recorded.

Unlike a camera, the clip waits for the daemon: it offers a frame only once
the one before has been published, so the demo records every frame however
busy the machine is (a camera's frames are dropped instead, and counted).
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from dmask.config import Config
from dmask.errors import DmaskError, install_hint
from dmask.capture.media import make_output_dir, signals_path
from dmask.models import ModelSet
from dmask.provenance import provenance_key
from dmask.records import Frame
from dmask.serve.recorder import Recorder, RecordSummary
from dmask.serve.service import Daemon
from dmask.capture.slot import NewestSlot
from dmask.capture.sources import SourceState, SourceStatus
from dmask.serve.status import DaemonStatus

DEMO_FPS = 30.0
VIDEO_NAME = "astronaut_masked.mp4"
# Where the astronaut's neck is in the 512x512 photo: the head turns about it.
NECK = (225.0, 175.0)


def astronaut_photo() -> np.ndarray:
    """The bundled 512x512 photo as BGR."""
    try:
        from skimage import data
    except ImportError as error:
        raise DmaskError(f"the demo needs scikit-image: {install_hint('demo')}") from error
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def head_motion(t: float) -> np.ndarray:
    """2x3 affine at time t (s): rotation within +-6 degrees about the neck,
    translation within +-12 px, zoom 0.95..1.05, all smooth and out of step."""
    angle = 6.0 * math.sin(2 * math.pi * t / 3.0)
    zoom = 1.0 + 0.05 * math.sin(2 * math.pi * t / 2.9 + 1.0)
    matrix = cv2.getRotationMatrix2D(NECK, angle, zoom)
    matrix[0, 2] += 12.0 * math.sin(2 * math.pi * t / 2.3 + 0.5)
    matrix[1, 2] += 12.0 * math.sin(2 * math.pi * t / 3.7 + 2.0)
    return matrix


@dataclass
class AstronautClip:
    """A FrameSource of frame_count frames of the moving astronaut."""

    frame_count: int
    fps: float = DEMO_FPS

    def __post_init__(self) -> None:
        self.photo = astronaut_photo()
        self.height, self.width = self.photo.shape[:2]

    def __iter__(self) -> Iterator[Frame]:
        for seq in range(self.frame_count):
            timestamp = seq / self.fps
            image = cv2.warpAffine(
                self.photo,
                head_motion(timestamp),
                (self.width, self.height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            yield Frame(image=image, seq=seq, timestamp=timestamp, source_id="astronaut")


class ClipStage:
    """Plays a clip into the daemon's frame slot at (at most) its own frame rate."""

    def __init__(
        self, clip: AstronautClip, slot: NewestSlot[Frame], go: threading.Event, published: Callable[[], int]
    ) -> None:
        """Playing starts once go is set (the demo waits for its recorder to be
        listening); frame n is offered once published() has reached n."""
        self.clip, self.slot, self.go, self.published = clip, slot, go, published
        self.description = f"the astronaut clip ({clip.frame_count} frames at {clip.fps:g} fps)"
        self.last_beat = time.monotonic()
        self._state = SourceStatus()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def state(self) -> SourceStatus:
        return self._state

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def _play(self) -> None:
        while not self.go.wait(0.1):
            self.last_beat = time.monotonic()
            if self._stop.is_set():
                return
        due = time.monotonic()
        for frame in self.clip:
            due = max(due + 1.0 / self.clip.fps, time.monotonic())
            while self.published() < frame.seq or time.monotonic() < due:
                self.last_beat = time.monotonic()
                if self._stop.wait(0.005):
                    return
            self.slot.put(dataclasses.replace(frame, timestamp=time.time()))
            self._state = SourceStatus(SourceState.UP, frame.seq + 1)
        self._state = dataclasses.replace(self._state, state=SourceState.ENDED, last_error="end of file")


@dataclass(frozen=True)
class DemoResult:
    played: int
    daemon: DaemonStatus
    recording: RecordSummary
    video: Path
    signals: Path

    def lines(self) -> list[str]:
        """What `dmask demo` prints: what was played, the daemon's own last
        status, what was recorded, where it went."""
        recording = dataclasses.replace(self.recording, last_status=None)
        return [
            f"the astronaut clip played to its end: {self.played} frames into the daemon",
            f"daemon: {self.daemon.line()}",
            recording.line(),
            f"wrote {self.video} ({recording.codec.label}) and {self.signals}",
        ]


def run_demo(directory: Path, frame_count: int, config: Config) -> DemoResult:
    """Run daemon and recorder on the clip; write VIDEO_NAME and its signals into directory."""
    clip = AstronautClip(frame_count)
    make_output_dir(directory)
    models = ModelSet.load(config)
    with tempfile.TemporaryDirectory(prefix="dmask-demo-") as scratch:
        endpoint = f"ipc://{Path(scratch) / 'publish'}"
        publish = dataclasses.replace(config.publish, endpoints=(endpoint,), status_interval_seconds=0.5)
        recorder = Recorder(endpoint, directory / VIDEO_NAME, fps=clip.fps, codec=config.output.video_codec,
                            seal=provenance_key(config))
        stop = threading.Event()
        recording: list[RecordSummary] = []
        listener = threading.Thread(target=lambda: recording.append(recorder.run(stop)), name="recorder")
        daemon = Daemon(
            dataclasses.replace(config, publish=publish),
            models,
            capture=lambda slot: ClipStage(clip, slot, recorder.received, lambda: daemon.published),
        )
        listener.start()
        daemon.start()
        try:
            _wait_until_recorded(daemon, recorder, frame_count)
            status = daemon.status()
        finally:
            daemon.stop()
            stop.set()
            listener.join()
    video = directory / VIDEO_NAME
    return DemoResult(frame_count, status, recording[0], video, signals_path(video))


def _wait_until_recorded(daemon: Daemon, recorder: Recorder, frame_count: int, patience: float = 120.0) -> None:
    """Until every frame of the clip is published and written by the recorder.

    patience bounds a daemon that stopped working; a slow machine only takes longer.
    """
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if daemon.capture.finished and daemon.published >= frame_count and recorder.frames >= frame_count:
            return
        time.sleep(0.05)
    raise DmaskError("the demo daemon stopped publishing; run `dmask check` to see what is missing")
