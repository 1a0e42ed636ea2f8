"""The offline and live chain for one stream, and the fail-closed policy.

Frame -> FaceTracker -> Fitter -> AvatarRig -> renderer -> MaskedFrame.
The output image is always a fresh render from MaskParams; the camera frame
is only ever read by the tracker. Whatever goes wrong inside a frame (no
face, a lost track, a stage raising) becomes a status on the MaskedFrame and
an image with no camera pixels: for `fail_closed.hold_seconds` after the last
good fit the neutral avatar is held at the last pose, then a blank frame.

`process` is `draw(measure(frame))`. The halves may run on two threads (one
each, in frame order: `dmask mask` draws behind measuring), since what
crosses between them is a `Measured` record with no camera pixels.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from dmask.config import Config, RenderBackend
from dmask.measure.fit import RestingPolicy
from dmask.measure.meter import FaceMeter
from dmask.models import ModelSet
from dmask.records import Frame, FrameStatus, MaskedFrame, MaskParams
from dmask.draw import make_renderer
from dmask.draw.mesh import RenderMesh

log = logging.getLogger(__name__)


# Stage timings kept per stage: about 5.5 minutes at 30 fps, what `dmask bench`
# and the status's p50 read. Each is a float object (about 32 bytes with its
# slot), so 100,000 per stage grew a daemon's memory by 10 MB over its first
# hour (tools/soak.py), which looked like a leak.
TIMES_KEPT = 10_000


def _recent() -> deque[float]:
    return deque(maxlen=TIMES_KEPT)


def instant() -> tuple[float, float]:
    """(wall, process CPU) seconds now, for StageClock."""
    return time.perf_counter(), time.process_time()


@dataclass
class StageClock:
    """One stage's most recent spans (bounded, for long runs): wall seconds, and CPU seconds over the same span.

    The CPU is the whole process's (time.process_time: every thread, the
    networks' and the encoder's included), so it is the stage's own only
    where stages run one at a time, as `dmask bench` runs them; on two cores
    it is the CPU, not the wall time, that caps the frame rate.
    """

    wall: deque[float] = field(default_factory=_recent)
    cpu: deque[float] = field(default_factory=_recent)
    spans: int = 0  # since the last clear, including those the deques no longer hold

    def record(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """One span between two instants()."""
        self.wall.append(end[0] - start[0])
        self.cpu.append(end[1] - start[1])
        self.spans += 1

    @contextmanager
    def span(self) -> Iterator[None]:
        """Time the block; a block that raises is not counted."""
        start = instant()
        yield
        self.record(start, instant())

    def clear(self) -> None:
        self.wall.clear()
        self.cpu.clear()
        self.spans = 0


@dataclass
class StageTimes:
    """Per stage, the most recent frames' spans."""

    inference: StageClock = field(default_factory=StageClock)
    fit: StageClock = field(default_factory=StageClock)
    render: StageClock = field(default_factory=StageClock)


@dataclass
class PipelineCounts:
    frames: int = 0
    faces: int = 0
    failed_closed: int = 0
    no_face: int = 0
    faces_dropped: int = 0


@dataclass(frozen=True)
class Measured:
    """One frame after tracking, the fit and the fail-closed policy, before drawing.

    size: (height, width) pixels; status: OK, NO_FACE or FAILED_CLOSED so far;
    faces: what to draw (fitted, or held neutral; empty: the background);
    fitted: how many faces were fitted.
    """

    seq: int
    timestamp: float
    size: tuple[int, int]
    status: FrameStatus
    faces: tuple[MaskParams, ...]
    fitted: int


class MaskPipeline:
    """Masks the frames of one stream in order (or one photo, with still=True).

    `measure` and `draw` each keep their own state (the tracker and fit; the
    renderer), so each half belongs to one thread at a time.
    """

    def __init__(
        self, config: Config, models: ModelSet, still: bool = False, resting: RestingPolicy = RestingPolicy.POPULATION
    ) -> None:
        """models: loaded once by the caller (ModelSet.load) and shared between streams.

        resting: RestingPolicy.OWN only for measuring instruments (dmask.measure.fit).
        """
        self.config = config
        self.models = models
        self.meter = FaceMeter(config, models, still, resting)
        self.renderer = make_renderer(config.render)
        self.times = StageTimes()
        self.counts = PipelineCounts()
        self._last_good: tuple[float, tuple[MaskParams, ...]] | None = None
        self.last_size: tuple[int, int] | None = None

    def process(self, frame: Frame) -> MaskedFrame:
        return self.draw(self.measure(frame))

    def measure(self, frame: Frame) -> Measured:
        """Track and fit; what to draw. Any stage raising fails the frame closed."""
        self.counts.frames += 1
        size = self.last_size = frame.image.shape[:2]
        try:
            faces = self._fit(frame)
            status, drawn = self._policy(faces, frame.timestamp)
        except Exception as error:  # noqa: BLE001 - fail closed on any stage failure, by design
            _log_failure(frame.seq, error)
            return Measured(frame.seq, frame.timestamp, size, FrameStatus.FAILED_CLOSED, (), 0)
        return Measured(frame.seq, frame.timestamp, size, status, drawn, len(faces))

    def draw(self, measured: Measured) -> MaskedFrame:
        """The avatars drawn from the parameters alone, or the background when the frame failed closed."""
        height, width = measured.size
        status = measured.status
        if status is not FrameStatus.FAILED_CLOSED:
            try:
                image = self._render(measured.faces, height, width)
            except Exception as error:  # noqa: BLE001 - fail closed on any stage failure, by design
                _log_failure(measured.seq, error)
                self._leave_the_gpu()
                status = FrameStatus.FAILED_CLOSED
        if status is FrameStatus.FAILED_CLOSED:
            self.counts.failed_closed += 1
            return MaskedFrame(self.blank(height, width), measured.seq, measured.timestamp, status)
        self.counts.faces += measured.fitted
        self.counts.no_face += status is FrameStatus.NO_FACE
        # A held neutral avatar is drawn, not measured: it is published as no face.
        published = measured.faces if status is FrameStatus.OK else ()
        return MaskedFrame(image, measured.seq, measured.timestamp, status, published)

    def blank(self, height: int, width: int) -> np.ndarray:
        """The background alone; made without the renderer, which may be what failed."""
        return np.full((height, width, 3), self.config.render.background, np.uint8)

    def _leave_the_gpu(self) -> None:
        """After a failure, a GPU renderer is replaced by the CPU one for good."""
        if self.renderer.name is not RenderBackend.CPU:
            log.warning("leaving the %s renderer after a failure; rendering on the CPU", self.renderer.name.value)
            self.renderer = make_renderer(replace(self.config.render, backend=RenderBackend.CPU))

    def _fit(self, frame: Frame) -> tuple[MaskParams, ...]:
        with self.times.inference.span():
            result = self.meter.observe(frame.image)
            self.counts.faces_dropped += result.dropped
        with self.times.fit.span():
            return self.meter.fit(result.faces, frame.timestamp, frame.image.shape[1])

    def _policy(self, faces: tuple[MaskParams, ...], timestamp: float) -> tuple[FrameStatus, tuple[MaskParams, ...]]:
        """What to draw: the fitted faces, a held neutral avatar, or nothing."""
        if faces:
            self._last_good = (timestamp, faces)
            return FrameStatus.OK, faces
        if self._last_good and timestamp - self._last_good[0] <= self.config.fail_closed.hold_seconds:
            return FrameStatus.NO_FACE, tuple(self._neutral(p) for p in self._last_good[1])
        return FrameStatus.NO_FACE, ()

    def _neutral(self, params: MaskParams) -> MaskParams:
        """The avatar at rest (the population's resting face, eyes open, gaze ahead, no blink ending) at this pose."""
        return self.models.avatar.at_rest(params)

    def _render(self, faces: tuple[MaskParams, ...], height: int, width: int) -> np.ndarray:
        with self.times.render.span():
            mesh = RenderMesh.concatenate([self.models.rig.mesh(p) for p in faces])
            return self.renderer.render(mesh, height, width)


def _log_failure(seq: int, error: Exception) -> None:
    log.warning("frame %d failed closed: %s: %s", seq, type(error).__name__, error)
