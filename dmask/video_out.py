"""Writing masked videos a hospital can play: H.264 in MP4, through PyAV.

PyAV's wheels bundle FFmpeg with libx264 on x86-64 and aarch64, so no system
encoder is needed (README "Output files" has the licences). Videos are
yuv420p, the only chroma layout every browser and PACS viewer decodes, and
MP4/MOV files get `+faststart` (the index first) so they play while they
download. MPEG-4 Part 2 (`mp4v`) stays as a stated fallback: chosen in
config, or used for a frame size H.264 in yuv420p cannot take (odd width or
height), with one warning.

Privacy policy (README "Output files"): a written file holds one video stream
of rendered frames and nothing else. No audio track (a voice is a biometric
identifier), and none of the input's container or stream metadata (creation
time, device make, model and serial, GPS position, the camera's encoder
strings) is ever copied: each output is a new container, not a remux.
"""

from __future__ import annotations

import contextlib
import logging
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from dmask.config import VideoCodec
from dmask.errors import OutputError, StageError
from dmask.capture.media import AtomicOutput
from dmask.provenance import SEALED_SUFFIXES, ProvenanceKey, seal_file

log = logging.getLogger(__name__)

_ENCODERS = {VideoCodec.H264: "libx264", VideoCodec.MP4V: "mpeg4"}
# x264: visually lossless for flat rendered surfaces, on one thread, which
# leaves the other core to the masking thread (dmask mask) or the daemon
# (dmask record on the same box). lp_source_s32's 180 masked 720p frames, CPU
# a frame / Mbit/s / PSNR of Y (docs/speed.md): superfast 4.4 ms / 0.78 / 59.0
# dB; with tune zerolatency (no B-frames, no look-ahead, so no frames held
# back either) 3.0 ms / 0.86 / 58.9 dB; ultrafast 1.6 ms but 2.2 Mbit/s;
# veryfast 4.3 ms, 0.21 Mbit/s, 54.9 dB.
_X264_OPTIONS = {"crf": "18", "preset": "superfast", "tune": "zerolatency", "threads": "1"}
_MPEG4_BIT_RATE = 8_000_000
_FASTSTART_SUFFIXES = (".mp4", ".mov")
_FRAGMENTED = {"movflags": "+frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
_PIXEL_FORMAT = "yuv420p"
# Frame times in an MP4 or MOV, in this unit: it divides 24, 25, 30, 50 and 60
# frames/s exactly, and MPEG-4 Part 2 takes no finer one (at most 1/65535 s).
# Other containers (AVI) count whole frames of 1 / fps.
TIME_BASE = Fraction(1, 60000)
# Every video dmask writes says so in its container, for people and players;
# what `dmask export dicom` trusts is the seal (dmask.provenance), which a copied tag lacks.
MASKED_KEY = "comment"
MASKED_TAG = "digital-mask: rendered avatar frames only"


def mark_masked(container: av.container.OutputContainer) -> None:
    """Tag an output container, before its header is written, as holding only rendered frames."""
    container.metadata[MASKED_KEY] = MASKED_TAG


def is_masked(container: av.container.InputContainer) -> bool:
    """Whether a video was written by dmask (see mark_masked)."""
    return container.metadata.get(MASKED_KEY) == MASKED_TAG


def codec_for_size(codec: VideoCodec, width: int, height: int) -> VideoCodec:
    """codec, or MP4V where H.264 in yuv420p cannot take the size (odd sides)."""
    if codec is VideoCodec.H264 and (width % 2 or height % 2):
        log.warning("a %dx%d video cannot be H.264 in yuv420p (odd width or height); writing mp4v", width, height)
        return VideoCodec.MP4V
    return codec


class AtomicVideoWriter(AtomicOutput):
    """A video file written frame by frame, atomically, each frame at its time.

    codec is what was asked for; self.codec is what is written (see
    codec_for_size). A frame written with its timestamp (seconds on any
    clock: the first frame's is the file's 0) is shown at that time, so a
    frame lost before it leaves a gap in time, not a shorter video; without
    one, or at a time not after the last (a source clock that restarted), it
    comes one nominal frame (1 / fps) after the last.
    """

    def __init__(self, final_path: str | Path, fps: float, width: int, height: int, codec: VideoCodec,
                 fragmented: bool = False, seal: ProvenanceKey | None = None) -> None:
        """fragmented: MP4 in fragments of one second (a keyframe each), each
        written out as it completes, so a file cut short by a crash plays up to
        its last fragment (the recorder); else one index, put first (faststart).
        seal: the appliance's key, to seal the complete MP4 or MOV file with
        (dmask.provenance); None for a file nobody exports (a benchmark's)."""
        super().__init__(final_path)
        self.seal = seal if self.final_path.suffix.lower() in SEALED_SUFFIXES else None
        self.size = (width, height)
        self.codec = codec_for_size(codec, width, height)
        mp4 = self.final_path.suffix.lower() in _FASTSTART_SUFFIXES
        options = (_FRAGMENTED if fragmented else {"movflags": "+faststart"}) if mp4 else {}
        self._container: av.container.OutputContainer | None = None
        try:
            self._container = av.open(str(self.temp_path), "w", container_options=options)
            mark_masked(self._container)
            self._stream = self._add_stream(fps)
            self._time_base = TIME_BASE if mp4 else 1 / Fraction(fps).limit_denominator(1001)
            self._stream.codec_context.time_base = self._time_base
            self._frame_ticks = max(1, round(1 / (fps * self._time_base)))
            self._origin: float | None = None
            self._last_pts: int | None = None
            if fragmented:
                self._stream.codec_context.gop_size = max(1, round(fps))
            # open the file and write the header now, not at the first packet
            # (x264 holds frames back), so a path that cannot be written fails here
            self._container.start_encoding()
        except (av.FFmpegError, ValueError) as error:
            self.abort()
            raise OutputError(
                f"{self.final_path}: cannot write {self.codec.value} video into a {self.final_path.suffix} file "
                f"({error}); try a .mp4 output"
            ) from error
        except BaseException:  # Ctrl-C once the temp file exists: it must not be left behind
            self.abort()
            raise

    def _add_stream(self, fps: float) -> av.VideoStream:
        stream = self._container.add_stream(_ENCODERS[self.codec], rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = self.size
        stream.pix_fmt = _PIXEL_FORMAT
        if self.codec is VideoCodec.H264:
            stream.options = dict(_X264_OPTIONS)
        else:
            stream.bit_rate = _MPEG4_BIT_RATE
        return stream

    def write(self, image: np.ndarray, timestamp: float | None = None) -> None:
        """Append one (height, width, 3) uint8 BGR frame, at timestamp (seconds) where given."""
        if image.shape != (self.size[1], self.size[0], 3):
            raise StageError(
                f"{self.final_path}: a frame of shape {image.shape} does not fit the "
                f"{self.size[0]}x{self.size[1]} video; this is a bug, please report it"
            )
        frame = _yuv420p(image)
        frame.pts, frame.time_base = self._pts(timestamp), self._time_base
        self._container.mux(self._stream.encode(frame))

    def _pts(self, timestamp: float | None) -> int:
        """The frame's presentation time in the stream's units (the class docstring's rule)."""
        pts = 0 if self._last_pts is None else self._last_pts + self._frame_ticks
        if timestamp is not None:
            if self._origin is None:
                self._origin = timestamp
            at = round((timestamp - self._origin) / self._time_base)
            if self._last_pts is None or at > self._last_pts:
                pts = at
        self._last_pts = pts
        return pts

    def _close(self) -> None:
        """Flush the encoder's delayed frames, then write the index."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.mux(self._stream.encode(None))
        finally:
            container.close()
        if self.seal is not None:
            seal_file(self.temp_path, self.seal)

    def _release(self) -> None:
        """Close the container without flushing the encoder (which may be what failed)."""
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(av.FFmpegError):
                container.close()


def _yuv420p(image: np.ndarray) -> av.VideoFrame:
    """The encoder's input frame. OpenCV converts BGR to BT.601 4:2:0 (the range
    and matrix FFmpeg's converter uses) in 1 ms where FFmpeg's takes 5 at 720p;
    it needs even sides, and FFmpeg converts the odd ones (mp4v only)."""
    height, width = image.shape[:2]
    if width % 2 or height % 2:
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
    return av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format=_PIXEL_FORMAT)
