"""The signal schema: every number published about a face, written once.

The `--signals` CSV, the wire's `signals` topic (docs/WIRE.md), the
recorder's `.signals.jsonl` sidecar, `dmask report` and the fidelity
evaluation all take their fields, names and units from FACE_FIELDS here.
Version SCHEMA_VERSION; a changed meaning, unit or name increments it.

Conventions. Right and left are the subject's. Head pose: the rotation R
(head frame -> camera frame; camera x right, y down, z forward) is
decomposed as R = Ry(-yaw) Rx(pitch) Rz(roll), each a right-handed rotation
about the named camera axis: yaw > 0 turns the face towards the subject's
left (image right), pitch > 0 tilts it down, roll > 0 tilts it clockwise on
screen. Gaze angles are eyeball rotations in the head frame with the same
senses, so head and eye movements in one direction carry one sign.

Roles. CLINICAL fields are the signs. FRAMING fields (the face's position
and size in the image) say only how the camera framed the face; they are
kept because the avatar is drawn with them. RENDERING fields are the
avatar's lid parameters, in eye widths, kept for drawing and for the
evaluation; clinicians read the mm fields.
"""

from __future__ import annotations

import csv
import enum
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dmask.measure.action_units import ACTION_UNITS, CHANNEL_NAMES, CHANNELS, PAIRS, Side
from dmask.measure.clinical import (
    ASYMMETRY_MIN_INTENSITY,
    BLINK_COMPLETE_FRACTION,
    GAZE_READ_LIMIT_DEG,
    GAZE_ZERO_FIXATION_MM,
    GAZE_ZERO_VERGENCE_DEG,
    NEAREST_FIXATION_MM,
    PHOTO_SHUT_FRACTION,
    PRISM_SCALE_LIMIT_DEG,
    asymmetry_index,
    prism_dioptres,
)
from dmask.capture.media import AtomicFile
from dmask.records import EyeParams, MaskedFrame, MaskParams

SCHEMA_VERSION = 9
SCHEMA = f"dmask.signals/{SCHEMA_VERSION}"
SIDES = tuple(Side)  # the subject's, in the order of every per-side pair of fields


class Role(str, enum.Enum):
    CLINICAL = "clinical"
    FRAMING = "framing"
    RENDERING = "rendering"


@dataclass(frozen=True)
class Field:
    name: str
    unit: str
    meaning: str
    value: Callable[[MaskParams], float]
    role: Role = Role.CLINICAL


def euler_degrees(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees with R = Ry(-yaw) Rx(pitch) Rz(roll)."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = math.asin(max(-1.0, min(1.0, -r[1, 2])))
    yaw = -math.atan2(r[0, 2], r[2, 2])
    roll = math.atan2(r[1, 0], r[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def measured_gaze(eye: EyeParams) -> tuple[float, float]:
    """(yaw, pitch) in degrees as measured: NaN where the eye reads shut or hidden, or read beyond the limit of
    what is read (EyeParams.gaze_at_limit: drawn at the limit, no measurement of the angle)."""
    if eye.gaze_at_limit:
        return math.nan, math.nan
    return math.degrees(eye.gaze_yaw), math.degrees(eye.gaze_pitch)


def horizontal_vergence_deg(face: MaskParams) -> float:
    """How far the eyes converge: right minus left gaze yaw, plus the gaze zero's own convergence (dmask.measure.clinical)."""
    return measured_gaze(face.right_eye)[0] - measured_gaze(face.left_eye)[0] + GAZE_ZERO_VERGENCE_DEG


def horizontal_deviation_deg(face: MaskParams) -> float:
    """The vergence beyond what fixating the camera (a photo: the protocol's target) demands; the gaze zero's where unknown."""
    demand = face.fixation_demand_deg if math.isfinite(face.fixation_demand_deg) else GAZE_ZERO_VERGENCE_DEG
    return horizontal_vergence_deg(face) - demand


def vertical_deviation_deg(face: MaskParams) -> float:
    """Right minus left gaze pitch: > 0 the right eye is lower than the left."""
    return measured_gaze(face.right_eye)[1] - measured_gaze(face.left_eye)[1]


def _blink(face: MaskParams, side: Side, attribute: str) -> float:
    """An attribute of the blink that ended at this frame in that eye; NaN (an empty field) if none did."""
    event = face.right_blink if side == Side.RIGHT else face.left_blink
    return math.nan if event is None else float(getattr(event, attribute))


def _normal(eye: EyeParams, attribute: str) -> float:
    """0/1: that resting level was within normal limits; empty for a hidden eye."""
    return math.nan if eye.occluded else float(getattr(eye, attribute))


PRISM_MEANING = f"the same in prism dioptres, 100 tan(angle); empty from {PRISM_SCALE_LIMIT_DEG:g} deg on"


def _eye_fields(side: Side) -> tuple[Field, ...]:
    def eye(face: MaskParams) -> EyeParams:
        return face.right_eye if side == Side.RIGHT else face.left_eye

    when_closed = "empty while the eye reads closed (the iris under a shut lid is a guess)"
    return (
        Field(f"{side}_gaze_yaw_deg", "deg", f"eyeball yaw in the head frame; > 0 towards the subject's left; {when_closed}"
              f" or beyond what is read ({side}_gaze_at_limit)", lambda f: measured_gaze(eye(f))[0]),
        Field(f"{side}_gaze_pitch_deg", "deg", "eyeball pitch in the head frame; > 0 down; empty when the yaw is",
              lambda f: measured_gaze(eye(f))[1]),
        Field(f"{side}_gaze_at_limit", "0/1", f"1 when the gaze read beyond {GAZE_READ_LIMIT_DEG:g} deg either way, "
              "past what the chain reads at its size: the eye looks far to that side, by an angle not measured. Gaze, "
              "MRDs and the deviations are then empty, and the eye is drawn at the limit",
              lambda f: math.nan if eye(f).occluded else float(eye(f).gaze_at_limit)),
        Field(f"{side}_mrd1_mm", "mm", f"margin-reflex distance 1: upper lid margin above the iris centre; {when_closed} "
              f"or where its resting level is within normal limits ({side}_mrd1_normal)", lambda f: eye(f).mrd1_mm),
        Field(f"{side}_mrd2_mm", "mm", f"margin-reflex distance 2: lower lid margin below the iris centre; {when_closed} "
              f"or where its resting level is within normal limits ({side}_mrd2_normal)", lambda f: eye(f).mrd2_mm),
        Field(f"{side}_fissure_mm", "mm", "palpebral fissure height, MRD1 + MRD2; empty where either is",
              lambda f: eye(f).fissure_mm),
        Field(f"{side}_mrd1_normal", "0/1", "1 when this eye's resting MRD1 is within normal limits: above "
              "clinical.ptosis_mrd1_mm, at most clinical.retraction_mrd1_mm and within clinical.lid_asymmetry_mm of the "
              "other eye's (a photo's by clinical.photo_margin more). The person's level is then withheld (identity) "
              "and the population's drawn, so the mm field is empty", lambda f: _normal(eye(f), "mrd1_normal")),
        Field(f"{side}_mrd2_normal", "0/1", "the same for MRD2: at most clinical.scleral_show_mrd2_mm and within "
              "clinical.lid_asymmetry_mm of the other eye's", lambda f: _normal(eye(f), "mrd2_normal")),
        Field(f"{side}_occluded", "0/1", "1 when the eye is hidden (a cover, a hand, a glare); its other fields are then empty",
              lambda f: float(eye(f).occluded)),
        Field(f"{side}_openness", "fraction", "lid opening over its resting opening (the population's in a photo): "
              "1 as at rest, 0 shut", lambda f: eye(f).openness),
        Field(f"{side}_closed", "0/1", f"1 when the lid reads shut: opened less than {BLINK_COMPLETE_FRACTION:.0%} of "
              f"its rest, the depth at which both readers read a shut lid (in a photo, {PHOTO_SHUT_FRACTION:.0%} of the "
              "population's: a drooping lid narrows it too)",
              lambda f: math.nan if eye(f).occluded else float(eye(f).shut)),
        Field(f"{side}_blink_onset_s", "s", "a blink that ended at this frame: its onset (capture clock); else empty",
              lambda f: _blink(f, side, "onset")),
        Field(f"{side}_blink_duration_ms", "ms", "that blink's duration",
              lambda f: 1000.0 * _blink(f, side, "duration")),
        Field(f"{side}_blink_complete", "0/1",
              f"1 if that blink closed the lid below {BLINK_COMPLETE_FRACTION:.0%} of its resting opening",
              lambda f: _blink(f, side, "complete")),
        Field(f"{side}_upper_aperture", "eye width", "upper lid margin above the corner line (drawing)",
              lambda f: eye(f).upper_aperture, Role.RENDERING),
        Field(f"{side}_lower_aperture", "eye width", "lower lid margin below the corner line (drawing)",
              lambda f: eye(f).lower_aperture, Role.RENDERING),
        Field(f"{side}_aperture", "eye width", "upper + lower aperture (drawing, evaluation)",
              lambda f: eye(f).aperture, Role.RENDERING),
    )


def _movement(face: MaskParams, channel: int) -> float:
    """One channel's movement from the face's own rest; NaN (empty) in a photo, which has none."""
    return math.nan if face.action_unit_movement is None else float(face.action_unit_movement[channel])


def _unit_fields() -> tuple[Field, ...]:
    movements = tuple(
        Field(f"au_{name}", "-1..1", f"FACS action-unit intensity ({unit.name}, AU{unit.facs}, {side.value} side) "
              "above (> 0) or below this face's own resting intensity: the side's movement, never the drawn "
              "population's level; empty in a photo (no rest of its own)",
              lambda f, k=k: _movement(f, k))
        for k, (name, (unit, side)) in enumerate(zip(CHANNEL_NAMES, CHANNELS))
    )
    asymmetries = tuple(
        Field(f"asym_{unit.name}", "-1..1",
              f"(right - left) / (right + left) of AU{unit.facs}'s movement above rest; empty where neither side "
              f"moves {ASYMMETRY_MIN_INTENSITY} above it",
              lambda f, r=r, l=l: float(asymmetry_index(_movement(f, r), _movement(f, l))))
        for unit, (r, l) in zip(ACTION_UNITS, PAIRS)
    )
    return movements + asymmetries


FACE_FIELDS: tuple[Field, ...] = (
    Field("track_id", "id", "stable while the face stays tracked", lambda f: f.track_id),
    Field("confidence", "0..1", "face-presence probability from the landmark model", lambda f: f.confidence),
    Field("head_yaw_deg", "deg", "head yaw; > 0 towards the subject's left", lambda f: euler_degrees(f.rotation)[0]),
    Field("head_pitch_deg", "deg", "head pitch; > 0 down", lambda f: euler_degrees(f.rotation)[1]),
    Field("head_roll_deg", "deg", "head roll; > 0 clockwise on screen", lambda f: euler_degrees(f.rotation)[2]),
    Field("head_x_px", "px", "image x of the canonical face origin", lambda f: f.translation[0], Role.FRAMING),
    Field("head_y_px", "px", "image y of the canonical face origin", lambda f: f.translation[1], Role.FRAMING),
    Field("head_scale_px", "px per canonical unit", "size of the face in the image (outer eye corners 1.0 apart)",
          lambda f: f.scale, Role.FRAMING),
    *_eye_fields(Side.RIGHT),
    *_eye_fields(Side.LEFT),
    Field("horizontal_vergence_deg", "deg", "how far the eyes converge: right minus left gaze yaw, plus the "
          f"gaze zero's own {GAZE_ZERO_VERGENCE_DEG:.2f} deg (people in photos fixating a camera "
          f"{GAZE_ZERO_FIXATION_MM / 1000:g} m off)", horizontal_vergence_deg),
    Field("horizontal_vergence_pd", "prism dioptres", PRISM_MEANING,
          lambda f: prism_dioptres(horizontal_vergence_deg(f))),
    Field("fixation_distance_mm", "mm", "the eyes' distance from the camera, from the iris's size and the focal "
          "length (clinical.camera_fov_deg), the fixation taken to be the camera; empty where nearer than "
          f"{NEAREST_FIXATION_MM:g} mm (a crop), and in a photo (its distance is the protocol's, "
          "clinical.photo_fixation_mm)", lambda f: f.fixation_distance_mm, Role.FRAMING),
    Field("horizontal_deviation_deg", "deg", "the vergence beyond what fixating the camera demands (the angle the "
          "eyes subtend at it; in a photo, at clinical.photo_fixation_mm; where neither is known, beyond the gaze "
          "zero's); > 0 convergent (eso), < 0 divergent (exo)", horizontal_deviation_deg),
    Field("horizontal_deviation_pd", "prism dioptres", PRISM_MEANING,
          lambda f: prism_dioptres(horizontal_deviation_deg(f))),
    Field("vertical_deviation_deg", "deg", "right minus left gaze pitch; > 0 the right eye is lower",
          vertical_deviation_deg),
    Field("vertical_deviation_pd", "prism dioptres", PRISM_MEANING,
          lambda f: prism_dioptres(vertical_deviation_deg(f))),
    Field("right_brow_height_mm", "mm", "right brow raised above the population's resting face (action units), to 0.01 mm",
          lambda f: f.brow_height_mm[0]),
    Field("left_brow_height_mm", "mm", "left brow, the same", lambda f: f.brow_height_mm[1]),
    Field("right_mouth_corner_height_mm", "mm", "right mouth corner raised above the population's resting face, to 0.01 mm",
          lambda f: f.mouth_corner_height_mm[0]),
    Field("left_mouth_corner_height_mm", "mm", "left mouth corner, the same", lambda f: f.mouth_corner_height_mm[1]),
    *_unit_fields(),
)
FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in FACE_FIELDS)
FRAME_COLUMNS = ("file", "seq", "timestamp", "status")
SIGNAL_COLUMNS = FRAME_COLUMNS + ("face",) + FIELD_NAMES


def face_record(face: MaskParams) -> dict[str, float | int | None]:
    """One face's fields, in schema order; a value that is not finite is None."""
    record: dict[str, float | int | None] = {}
    for field in FACE_FIELDS:
        value = field.value(face)
        if field.name == "track_id":
            record[field.name] = int(value)
            continue
        number = float(value)
        record[field.name] = number if math.isfinite(number) else None
    return record


def face_values(face: MaskParams) -> dict[str, float]:
    """One face's fields as floats, NaN where the record is empty: what the evaluations compute with."""
    return {name: math.nan if value is None else float(value) for name, value in face_record(face).items()}


def _csv_text(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.6f}"


class SignalCsvWriter(AtomicFile):
    """Writes SIGNAL_COLUMNS rows to a CSV that appears only when complete.

    A frame with no face still gets a row (its status, face fields empty), so
    the file accounts for every frame.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self.file)
        self._csv.writerow(SIGNAL_COLUMNS)

    def write(self, masked: MaskedFrame, file: str = "") -> None:
        """The rows of one masked frame; file names its source."""
        frame_values = (file, masked.seq, f"{masked.timestamp:.6f}", masked.status.value)
        if not masked.faces:
            self._csv.writerow(frame_values + ("",) * (1 + len(FIELD_NAMES)))
        for index, face in enumerate(masked.faces):
            self._csv.writerow(frame_values + (index,) + tuple(_csv_text(v) for v in face_record(face).values()))


def schema_table() -> str:
    """The Markdown table of FACE_FIELDS that docs/WIRE.md carries (a test keeps the two equal)."""
    rows = ["| field | unit | role | meaning |", "|---|---|---|---|"]
    rows += [f"| `{f.name}` | {f.unit} | {f.role.value} | {f.meaning} |" for f in FACE_FIELDS]
    return "\n".join(rows) + "\n"
