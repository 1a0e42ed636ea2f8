"""The small typed records that travel between stages.

Coordinates: image pixels with x to the right, y down, and pixel centres at
integer coordinates (OpenCV's convention). Head-frame quantities are in
"canonical units": the avatar's canonical face, where the distance between the
two outer eye corners is 1.0, x points to the subject's left (image right for a
frontal face), y down, z away from the camera.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


class FrameStatus(str, enum.Enum):
    """Why a masked frame looks the way it does; also the wire status."""

    OK = "ok"
    NO_FACE = "no_face"
    FAILED_CLOSED = "failed_closed"
    SOURCE_DOWN = "source_down"


@dataclass(frozen=True)
class Frame:
    """Camera pixels. Never travels past the renderer.

    image: (H, W, 3) uint8 BGR.
    seq: frame number from the source, starting at 0.
    timestamp: capture time in seconds (source clock; media time for files).
    """

    image: np.ndarray
    seq: int
    timestamp: float
    source_id: str = ""


@dataclass(frozen=True)
class EyeObservation:
    """One eye as the iris model saw it, mapped back to image pixels.

    lids: (16, 2) float32 lid contour: 0 outer corner, 1-7 lower lid,
        8 inner corner, 9-15 upper lid (outer to inner).
    iris: (5, 2) float32, centre first, then four points on the iris edge.
    """

    lids: np.ndarray
    iris: np.ndarray


@dataclass(frozen=True)
class FaceObservation:
    """What inference found of one face in one frame.

    landmarks: (468, 3) float32, x and y in image pixels, z relative depth in
        the same pixel scale (smaller = nearer the camera), landmark order of
        MediaPipe's face mesh.
    right_eye, left_eye: the subject's right and left eye.
    confidence: face-presence probability from the landmark model, 0..1.
    track_id: stable across frames while the face is tracked.
    """

    landmarks: np.ndarray
    right_eye: EyeObservation
    left_eye: EyeObservation
    confidence: float
    track_id: int


@dataclass(frozen=True)
class EyeParams:
    """Clinical signals of one eye, absolute and normalised per side.

    gaze_yaw, gaze_pitch: eyeball rotation in the head frame, radians;
        yaw > 0 turns the eye towards the subject's left, pitch > 0 down.
    upper_aperture, lower_aperture: distance of the upper / lower lid margin
        from the line between the eye corners, as a fraction of that eye's
        corner-to-corner width (0 = lid on the line).
    """

    gaze_yaw: float
    gaze_pitch: float
    upper_aperture: float
    lower_aperture: float

    @property
    def aperture(self) -> float:
        """Whole lid opening as a fraction of eye width."""
        return self.upper_aperture + self.lower_aperture


@dataclass(frozen=True)
class MaskParams:
    """The only input of the avatar, and the clinical signal stream.

    Holds no per-person shape or texture: pose, per-eye signals, and the
    expression as displacements of the canonical face's expression vertices.

    rotation: (3, 3) float32 head rotation, head frame -> camera frame.
    translation: (3,) float32 camera-frame position of the canonical origin,
        x and y in image pixels, z in pixels of depth.
    scale: pixels per canonical unit.
    expression: (K, 3) float32 displacement of the avatar's expression
        vertices (see Avatar.expression_vertices), canonical units.
    mouth_open, brow_raise_right, brow_raise_left, mouth_corner_right,
        mouth_corner_left: summary scalars of the expression for the signal
        stream (canonical units; corner > 0 = raised).
    """

    track_id: int
    rotation: np.ndarray
    translation: np.ndarray
    scale: float
    right_eye: EyeParams
    left_eye: EyeParams
    expression: np.ndarray
    mouth_open: float
    brow_raise_right: float
    brow_raise_left: float
    mouth_corner_right: float
    mouth_corner_left: float
    confidence: float


@dataclass(frozen=True)
class MaskedFrame:
    """Rendered pixels, made from MaskParams only, plus bookkeeping.

    image: (H, W, 3) uint8 BGR at the input's resolution.
    faces: the parameters each rendered face was drawn from.
    """

    image: np.ndarray
    seq: int
    timestamp: float
    status: FrameStatus
    faces: tuple[MaskParams, ...] = field(default_factory=tuple)
