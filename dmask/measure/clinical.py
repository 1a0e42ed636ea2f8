"""Clinical units and the clinical criteria that let a resting level through.

Millimetres come from the visible iris: the horizontal visible iris diameter
of adults is about 11.7 mm (SD about 0.5 mm, so a single person's scale is
uncertain by about 4 %). The iris model marks four points on the iris edge;
their two diameters, over the eye's corner-to-corner width, give that eye's
width in mm. The published numbers are drawn from the de-identified
parameters, so they use the population's ratio (Avatar.iris_diameter); the
person's own ratio only decides whether a resting level is clinical.

MRD1 and MRD2 (margin-reflex distances) are measured from the iris centre to
the upper and lower lid margin. The iris model's lid contour runs along the
lash line a little inside the true margin: on the avatar's 48 build
identities the raw median MRD1 is about 2.7 mm where adult norms are 4-5 mm.
So each is offset by a calibration (Avatar.mrd_offset_mm) that puts the
population's median at the normative value below: a person's deviation, a
side-to-side difference and every movement are measured, the absolute level
is calibrated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Blinks, on the lid opening over its resting (open) level: one starts below
# BLINK_CLOSED_FRACTION and ends above BLINK_REOPEN_FRACTION (hysteresis, so a
# fluttering lid is one blink); it is complete (the lid covered the cornea) if
# the opening fell below BLINK_COMPLETE_FRACTION. The stream's events
# (BlinkTracker), the `closed` signal and the evaluation's blinks
# (dmask.evaluation.traces) use these. BLINK_COMPLETE_FRACTION is set by what
# an observer sees: landmark models read a shut lid as partly open (they take
# the lash fringe for the opening) and a 25-30 fps camera may miss the
# instant of closure, so lids seen shut, frame by frame, in the blinks of
# ../shared/data/videos read 0.0-0.48 of their open level with the product's
# reader and 0.08-0.47 with dlib's, and lids seen still open at their
# narrowest 0.51-0.55 with dlib's (`dmask eval blinks`, docs/blinks.tsv).
# The earlier 0.2 called 9 of 9 plainly complete blinks of a talking head partial.
BLINK_CLOSED_FRACTION = 0.55
BLINK_REOPEN_FRACTION = 0.75
BLINK_COMPLETE_FRACTION = 0.5
# A photo has no resting opening of its own, only the population's, and a
# drooping lid narrows it as a blink would: a lid at MRD1 1 mm reads about
# 0.5 of the population's opening. So a photo's eye reads shut (and has no
# gaze) only below this, which keeps MRD1 down to about -1.5 mm.
PHOTO_SHUT_FRACTION = 0.3

IRIS_DIAMETER_MM = 11.7
IRIS_DIAMETER_SD_MM = 0.5
# Normative adult values the population median is calibrated to (MRD1 4-5 mm, MRD2 about 5-5.5 mm).
NORMAL_MRD_MM = np.array([4.5, 5.25])


@dataclass(frozen=True)
class NormalRange:
    """An adult reference range for a figure of the clinical summary, and where it comes from."""

    low: float
    high: float
    unit: str
    reference: str

    def flag(self, value: float) -> str:
        """'low', 'high', or '' (within the range, or no value)."""
        return "low" if value < self.low else "high" if value > self.high else ""


# The reference ranges the clinical summary sets its figures beside (dmask report, the PDF).
NORMAL_RANGES = {
    "mrd1": NormalRange(3.5, 5.5, "mm", "MRD1 about 3.5-5.5 mm in adults (Putterman AM, Ophthalmic Plast Reconstr "
                        "Surg 2012;28:308-11: MRD1 about 4-5 mm)"),
    "mrd2": NormalRange(4.5, 6.0, "mm", "MRD2 about 5-5.5 mm in adults (ibid.)"),
    "fissure": NormalRange(8.0, 12.0, "mm", "palpebral fissure height 8-12 mm in adults"),
    "blinks_per_minute": NormalRange(8.0, 21.0, "/min", "blink rate 8-21 a minute at rest in primary gaze, higher in "
                                     "conversation (Doughty MJ, Optom Vis Sci 2001;78:712-25)"),
}


@dataclass(frozen=True)
class Uncertainty:
    """How far one reading of a measure strays on a face without the sign: 1 SD per photo and per second of video."""

    label: str
    unit: str
    per_photo: float
    per_second: float

    def words(self) -> str:
        return f"{self.label} {self.per_photo:.3g} {self.unit} a photo, {self.per_second:.3g} {self.unit} a second of video"


# Measured by `dmask eval repeatability` (dmask.evaluation.repeatability: between photos of one person, and between
# one-second means of one video, resting levels as read) on ../shared/data's identities (15 people with 2 to 8
# photos) and five talking-head videos (tests/test_repeatability.py re-measures them): docs/fidelity.md, "Repeatability".
# The person's own changes are in them too, so they are upper bounds on the chain's noise.
UNCERTAINTY = {
    "horizontal_deviation": Uncertainty("horizontal deviation", "PD", 9.36, 6.03),
    "vertical_deviation": Uncertainty("vertical deviation", "PD", 4.34, 2.56),
    "mrd1": Uncertainty("MRD1", "mm", 0.60, 0.37),
    "mrd2": Uncertainty("MRD2", "mm", 0.74, 0.35),
    "mouth_corner_difference": Uncertainty("mouth-corner height difference", "mm", 1.14, 0.38),
    "brow_difference": Uncertainty("brow height difference", "mm", 0.70, 0.50),
}


# How far a gaze is read. Known truth: the avatar drawn looking 40 degrees aside read back at 37-48, and at
# 50 degrees at 52-70. On real faces looking far to the side (lp_driving_d14, lp_driving_d6) the iris model's
# offset ran past the eyeball's reach, and the arcsine clipped it at 82 degrees: deviations of thousands of prism
# dioptres followed. A gaze read beyond GAZE_READ_LIMIT_DEG is no measurement of its angle, only of its side
# (EyeParams.gaze_at_limit): it is published empty and flagged, and drawn at the limit, so the mask still looks
# that far aside. The eye's own range is about 55 degrees either way (Guitton D, Volle M, J Neurophysiol
# 1987;58:427-59).
GAZE_READ_LIMIT_DEG = 50.0


# Vergence. Eyes fixating a target converge by the angle their two centres
# subtend at it; when the target is the camera, that is their separation in
# the image over the focal length (pixels), whatever the head's turn. The gaze
# zero (Avatar.iris_rest) is where people's irises sit in press photos, which
# fixate a camera some metres off: taken as GAZE_ZERO_FIXATION_MM, whose
# demand for a 63 mm interpupillary distance is GAZE_ZERO_VERGENCE_DEG
# (1.4 degrees, 2.5 prism dioptres; 1.8 to 6 PD for 1 to 3.5 m).
# A fixation distance nearer than NEAREST_FIXATION_MM is not believed: with
# the configured field of view the frame must be a crop (a face filling a
# 512-pixel crop reads about 200 mm at 65 degrees) or the setting wrong; the
# distance is then unknown and the deviation is taken beyond the gaze zero's.
GAZE_ZERO_FIXATION_MM = 2500.0
NEAREST_FIXATION_MM = 300.0
POPULATION_IPD_MM = 63.0
GAZE_ZERO_VERGENCE_DEG = math.degrees(2.0 * math.atan(0.5 * POPULATION_IPD_MM / GAZE_ZERO_FIXATION_MM))


def focal_length_px(width_px: float, field_of_view_deg: float) -> float:
    """A pinhole camera's focal length in pixels from its frame's width and horizontal field of view."""
    return 0.5 * width_px / math.tan(math.radians(0.5 * field_of_view_deg))


def convergence_deg(separation_px: float, focal_px: float) -> float:
    """The angle two points separation_px apart in the image subtend at the camera, degrees."""
    return math.degrees(2.0 * math.atan(0.5 * separation_px / focal_px))


# Prism dioptres are published below this angle only (173 PD). A degree is 1.7 PD near 0, 7 PD at 60 degrees
# and 58 PD at 80, so beyond it the few degrees a reading is uncertain by become hundreds of PD (the eyes of
# lp_driving_d6 crossed to 80-90 degrees as read gave 1,000 to 27,000 PD); the angle is still published in degrees.
PRISM_SCALE_LIMIT_DEG = 60.0


def prism_dioptres(degrees: float) -> float:
    """A deviation in prism dioptres, 100 tan(angle); NaN from PRISM_SCALE_LIMIT_DEG on."""
    return 100.0 * math.tan(math.radians(degrees)) if abs(degrees) < PRISM_SCALE_LIMIT_DEG else math.nan


def degrees_of_prism(prism: float) -> float:
    return math.degrees(math.atan(prism / 100.0))


def resting_deviation(
    values: np.ndarray, normal: np.ndarray | float, asymmetry: float, low: float = -np.inf, high: float = np.inf
) -> np.ndarray:
    """How far each side's resting level (right, left) may stand from the population's, mm.

    A side at or below low (a ptosis) or above high (a retraction) keeps its own level.
    Otherwise both sides sit at the population's level, unless they differ by
    more than `asymmetry` (beyond the normal side-to-side difference): then the
    side nearer the population's level sits there and the other keeps the
    difference. Within the normal range nothing of the person passes.
    """
    values = np.asarray(values, np.float64)
    deviation = values - normal
    abnormal = (values <= low) | (values > high)
    if abnormal.any():
        return np.where(abnormal, deviation, 0.0)
    difference = values[0] - values[1]
    if abs(difference) <= asymmetry:
        return np.zeros(2)
    out = np.zeros(2)
    farther = int(np.argmax(np.abs(deviation)))
    out[farther] = difference if farther == 0 else -difference
    return out


# Below this movement on both sides a unit is not moving, and the ratio of two
# near-zeros is noise: 0.000 against 0.015 read as -1, a complete one-sided
# weakness (issue 25). About the fit's quantisation of a still face.
ASYMMETRY_MIN_INTENSITY = 0.1


def asymmetry_index(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """(right - left) / (right + left) of two sides' movement above their rest: -1 left only, +1 right only;
    NaN (empty) where neither side moves ASYMMETRY_MIN_INTENSITY above it, since there is no movement to
    compare. A side relaxing below its rest counts as not moving."""
    right, left = np.maximum(np.asarray(right, np.float64), 0.0), np.maximum(np.asarray(left, np.float64), 0.0)
    moving = np.maximum(right, left) >= ASYMMETRY_MIN_INTENSITY
    return np.divide(right - left, right + left, out=np.full_like(right + left, np.nan), where=moving)


def margin_reflex_mm(
    upper: float, lower: float, iris_dy: float, eye_width_mm: float, offset_mm: np.ndarray
) -> tuple[float, float]:
    """(MRD1, MRD2) in mm from lid apertures and the iris centre's height, all over eye width.

    upper / lower: lid margins above / below the corner line; iris_dy: the
    iris centre below the corner line's midpoint (negative above).
    """
    return (
        float((upper + iris_dy) * eye_width_mm + offset_mm[0]),
        float((lower - iris_dy) * eye_width_mm + offset_mm[1]),
    )


@dataclass(frozen=True)
class BlinkEvent:
    """A blink that has just ended: onset (capture time, s), duration (s), complete or partial."""

    onset: float
    duration: float
    complete: bool


class BlinkTracker:
    """One eye's blinks as they end, from its lid opening over the resting opening, frame by frame."""

    def __init__(self) -> None:
        self.onset: float | None = None
        self.deepest = 1.0

    def interrupt(self) -> None:
        """The eye is hidden: a blink under way is dropped, neither ended nor carried over the cover."""
        self.onset = None

    def update(self, openness: float, timestamp: float) -> BlinkEvent | None:
        """The blink that ends at this frame, if one does."""
        if self.onset is None:
            if openness < BLINK_CLOSED_FRACTION:
                self.onset, self.deepest = timestamp, openness
            return None
        self.deepest = min(self.deepest, openness)
        if openness <= BLINK_REOPEN_FRACTION:
            return None
        event = BlinkEvent(self.onset, timestamp - self.onset, self.deepest < BLINK_COMPLETE_FRACTION)
        self.onset = None
        return event
