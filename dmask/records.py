"""The small typed records that travel between stages.

Coordinates: image pixels with x to the right, y down, and pixel centres at
integer coordinates (OpenCV's convention). Head-frame quantities are in
"canonical units": the avatar's canonical face, where the distance between the
two outer eye corners is 1.0, x points to the subject's left (image right for a
frontal face), y down, z away from the camera.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from dmask.measure.clinical import BlinkEvent
from dmask.measure.occlusion import SEEN, EyeEvidence


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
    evidence: whether the crop shows an eye there at all (dmask.measure.occlusion);
        an occluded eye's lids and iris are the models' guesses.
    """

    lids: np.ndarray
    iris: np.ndarray
    evidence: EyeEvidence = SEEN

    @property
    def occluded(self) -> bool:
        return self.evidence.occluded


@dataclass(frozen=True)
class FaceObservation:
    """What inference found of one face in one frame.

    landmarks: (468, 3) float32, x and y in image pixels, z relative depth in
        the same pixel scale (smaller = nearer the camera), landmark order of
        MediaPipe's face mesh.
    right_eye, left_eye: the subject's right and left eye.
    confidence: face-presence probability from the landmark model, 0..1.
    track_id: stable across frames while the face is tracked.
    fissure_drop_px: how much lower the oral fissure sits near the right
        mouth corner than near the left, image pixels along the face's
        vertical (> 0: right lower), from the frame's full-resolution pixels
        (dmask.measure.refine); NaN where it was not found.
    """

    landmarks: np.ndarray
    right_eye: EyeObservation
    left_eye: EyeObservation
    confidence: float
    track_id: int
    fissure_drop_px: float = math.nan


@dataclass(frozen=True)
class EyeParams:
    """Clinical signals of one eye, absolute and normalised per side.

    gaze_yaw, gaze_pitch: eyeball rotation in the head frame, radians;
        yaw > 0 turns the eye towards the subject's left, pitch > 0 down.
    upper_aperture, lower_aperture: distance of the upper / lower lid margin
        from the line between the eye corners, as a fraction of that eye's
        corner-to-corner width (0 = lid on the line).
    mrd1_mm, mrd2_mm: margin-reflex distances, mm: the upper / lower lid
        margin's height above / below the iris centre (dmask.measure.clinical).
    occluded: the eye was hidden (dmask.measure.occlusion); every value above is then
        NaN: nothing is guessed from the other eye or from the past.
    openness: the lid opening over its resting opening (1 open as at rest,
        0 shut; NaN where hidden or unknown): the one measure blinks, their
        completeness are judged by (dmask.measure.clinical).
    shut: the lid reads shut (dmask.measure.fit: below BLINK_COMPLETE_FRACTION of its
        rest; in a photo, below PHOTO_SHUT_FRACTION of the population's): it
        shows too little iris to place it, so its gaze and MRDs are NaN.
    gaze_at_limit: the gaze read beyond dmask.measure.clinical.GAZE_READ_LIMIT_DEG
        (the iris at the edge of what the chain reads): gaze_yaw and
        gaze_pitch hold the limit on the side it read, to be drawn so, but
        measure nothing and are published empty, as are the MRDs.
    mrd1_normal, mrd2_normal: the resting level was within normal limits by
        the clinical criteria (config `clinical`, dmask.measure.clinical.resting_deviation),
        so the population's was drawn in its place: that MRD is then NaN, for
        the person's own level is withheld and the population's is no
        measurement of them.
    """

    gaze_yaw: float
    gaze_pitch: float
    upper_aperture: float
    lower_aperture: float
    mrd1_mm: float
    mrd2_mm: float
    occluded: bool = False
    openness: float = math.nan
    shut: bool = False
    gaze_at_limit: bool = False
    mrd1_normal: bool = False
    mrd2_normal: bool = False

    @staticmethod
    def hidden() -> "EyeParams":
        """An occluded eye: no value."""
        nan = float("nan")
        return EyeParams(nan, nan, nan, nan, nan, nan, occluded=True)

    @property
    def aperture(self) -> float:
        """Whole lid opening as a fraction of eye width."""
        return self.upper_aperture + self.lower_aperture

    @property
    def fissure_mm(self) -> float:
        """Palpebral fissure height, mm: MRD1 + MRD2."""
        return self.mrd1_mm + self.mrd2_mm


@dataclass(frozen=True)
class MaskParams:
    """The only input of the avatar, and the clinical signal stream.

    Holds no per-person shape or texture: pose, per-eye signals, and the
    expression as per-side FACS action-unit intensities (dmask.measure.action_units),
    whose resting levels are the population's unless clinical (dmask.measure.fit).

    rotation: (3, 3) float32 head rotation, head frame -> camera frame.
    translation: (3,) float32 camera-frame position of the canonical origin,
        x and y in image pixels, z in pixels of depth.
    scale: pixels per canonical unit.
    action_units: (C,) float32 intensities 0..1 in the order of
        dmask.measure.action_units.CHANNELS (each unit's right side, then its left):
        what is drawn, the population's resting level plus this face's
        movement; jaw_drop to dmask.measure.fit.MouthOpening.JAW_REACH, as wide as the mouth opened,
        and a drooping side's lip_corner_depress to dmask.measure.fit.MouthDroop.DEPRESS_REACH.
    action_unit_movement: (C,) float32 the same channels' movement from this
        face's own resting intensity, -1..1: what the face does, and what is
        published. None in a photo, which has no rest of its own to move from.
    brow_height_mm, mouth_corner_height_mm: (2,) float32 (right, left) how far
        the action units raise each brow / mouth corner above the
        population's resting face, mm (dmask.measure.action_units.Heights).
    right_blink, left_blink: the blink of that eye that ended at this frame,
        if one did (dmask.measure.clinical.BlinkTracker; never for a photo).
    fixation_distance_mm: how far the eyes are from the camera, from the
        iris's size in pixels and the focal length (config
        clinical.camera_fov_deg); NaN where unknown, and in a photo (whose
        distance is the protocol's, not a measurement).
    fixation_demand_deg: the convergence that fixating the camera demands,
        the angle the eyes' centres subtend at it (dmask.measure.clinical); in a photo,
        at the protocol's distance (config clinical.photo_fixation_mm); NaN
        where unknown. The deviation is the vergence beyond it.
    """

    track_id: int
    rotation: np.ndarray
    translation: np.ndarray
    scale: float
    right_eye: EyeParams
    left_eye: EyeParams
    action_units: np.ndarray
    brow_height_mm: np.ndarray
    mouth_corner_height_mm: np.ndarray
    confidence: float
    right_blink: BlinkEvent | None = None
    left_blink: BlinkEvent | None = None
    fixation_distance_mm: float = math.nan
    fixation_demand_deg: float = math.nan
    action_unit_movement: np.ndarray | None = None


@dataclass(frozen=True)
class MaskedFrame:
    """Rendered pixels, made from MaskParams only, plus bookkeeping.

    image: (H, W, 3) uint8 BGR at the input's resolution.
    faces: the parameters measured in this frame, each drawn as it was
        measured; empty unless the status is OK. The neutral avatar held
        after a lost track (status NO_FACE) is drawn but not published:
        it was not measured (invariant 4).
    """

    image: np.ndarray
    seq: int
    timestamp: float
    status: FrameStatus
    faces: tuple[MaskParams, ...] = field(default_factory=tuple)
