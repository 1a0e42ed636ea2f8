"""`dmask demo`: mask a short clip made from scikit-image's astronaut photo.

It needs no camera, no network and no test data: the clip is the bundled
photo moved by a gentle synthetic head motion, built frame by frame in memory
and never written anywhere; only the masked video and its signals are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from edge.config import Config
from edge.errors import DmaskError
from edge.media import make_output_dir
from edge.offline import MaskSummary, OfflineMasker
from edge.records import Frame
from edge.signals import SignalCsvWriter

DEMO_FPS = 30.0
VIDEO_NAME = "astronaut_masked.mp4"
SIGNALS_NAME = "astronaut_signals.csv"
# Where the astronaut's neck is in the 512x512 photo: the head turns about it.
NECK = (225.0, 175.0)


def astronaut_photo() -> np.ndarray:
    """The bundled 512x512 photo as BGR."""
    try:
        from skimage import data
    except ImportError as error:
        raise DmaskError("the demo needs scikit-image: pip install -e '.[demo]'") from error
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


def run_demo(directory: Path, frame_count: int, config: Config) -> MaskSummary:
    """Write VIDEO_NAME and SIGNALS_NAME into directory."""
    clip = AstronautClip(frame_count)
    make_output_dir(directory)
    with SignalCsvWriter(directory / SIGNALS_NAME) as signals:
        masker = OfflineMasker(config, signals, progress=True)
        masker.mask_video(clip, directory / VIDEO_NAME, label="astronaut")
    return masker.summary()
