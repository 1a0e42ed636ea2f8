"""Observations to mask parameters: pose, per-eye signals, action units.

The identity policy lives here. What reaches the avatar:
- pose (rotation, translation, scale) from a weighted similarity Procrustes
  fit of the canonical face to the landmarks' rigid points;
- per eye, gaze as an eyeball rotation and the lids as apertures over that
  eye's own width, with their margin-reflex distances in mm (dmask.measure.clinical);
- the expression as per-side FACS action-unit intensities (dmask.measure.action_units),
  fitted to the landmarks each frame; no displacement of the person's own
  vertices reaches the renderer or the wire.
Resting levels (a slow per-track baseline; for a photo, all of it) are the
population's: the action units' and each lid's resting level are replaced
unless a clinical criterion of config `clinical` is met (a ptosis, a lid
retraction, a side-to-side difference beyond the normal asymmetry;
dmask.measure.clinical.resting_deviation). The mouth's side-to-side difference is
read from the lip line at full resolution (FaceObservation.fissure_drop_px,
dmask.measure.refine), not from the mesh, which symmetrises it; a droop beyond the
criterion is drawn so the drawn lip line drops as much (MouthDroop). Movement from the resting level passes
unchanged: a blink, a smile, a saccade. A lid's resting level is changed by a
scale, so a closed lid stays closed and a half-blink stays half.
No smoothing is applied anywhere, so blinks and fast eye movements survive.
An eye the tracker found hidden (dmask.measure.occlusion) has no values that frame:
not the other eye's, not its last ones; its resting level waits for it. An
eye that reads shut (opened less than dmask.measure.clinical.BLINK_COMPLETE_FRACTION of
its resting opening) has lids but no gaze and no MRDs: the iris a landmark
model places under a shut lid is a guess, and read as gaze it made spikes of
60 prism dioptres and nystagmus out of blinks (issue 25). A photo has no rest
of its own: there the eye must read shut against the population's opening,
below PHOTO_SHUT_FRACTION, so a drooping lid keeps its MRD1.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from dmask.measure.action_units import ACTION_UNITS, CHANNELS, PAIRS, ActionUnitSolver, Heights, Region, lip_gap
from dmask.measure.avatar import EYEBALL_RADIUS_FRACTION, Avatar
from dmask.measure.clinical import (
    BLINK_COMPLETE_FRACTION,
    GAZE_READ_LIMIT_DEG,
    IRIS_DIAMETER_MM,
    NEAREST_FIXATION_MM,
    NORMAL_MRD_MM,
    PHOTO_SHUT_FRACTION,
    BlinkTracker,
    convergence_deg,
    margin_reflex_mm,
    resting_deviation,
)
from dmask.config import ClinicalConfig, FitConfig
from dmask.measure.geometry import EyeLine, iris_diameter, uncrossed
from dmask.measure.mesh_index import LEFT_LIDS, RIGHT_LIDS
from dmask.records import EyeObservation, EyeParams, FaceObservation, MaskParams


class RestingPolicy(enum.Enum):
    """What becomes of a person's resting levels.

    POPULATION: the product's policy (module docstring). OWN: they pass as
    measured; only for measuring instruments (the fidelity evaluation's
    reference, tests), never reachable from the config.
    """

    POPULATION = "population"
    OWN = "own"


# Bounds of the scale that brings a resting lid opening to the population's:
# a baseline caught mid-blink (a track's first frame) must not blow it up.
RESTING_APERTURE_GAIN = (0.5, 2.0)


@dataclass(frozen=True)
class Similarity:
    """x_camera = scale * rotation @ x_canonical + translation."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        return (points - self.translation) @ self.rotation / self.scale


def fit_similarity(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> Similarity:
    """Weighted Umeyama: the similarity taking source (N, 3) closest to target."""
    w = weights / weights.sum()
    mu_s, mu_t = w @ source, w @ target
    xs, xt = source - mu_s, target - mu_t
    covariance = (xt * w[:, None]).T @ xs
    u, sv, vt = np.linalg.svd(covariance)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = (u * d) @ vt
    scale = float((sv * d).sum() / (w @ (xs**2).sum(1)))
    return Similarity(scale, rotation, mu_t - scale * rotation @ mu_s)


@dataclass(frozen=True)
class EyeMeasure:
    """One eye in the head frame, over its own corner-to-corner width.

    upper, lower: lid apertures; iris_dx, iris_dy: iris centre from the
    corners' midpoint; iris_diameter: visible iris diameter (the mm scale).
    """

    upper: float
    lower: float
    iris_dx: float
    iris_dy: float
    iris_diameter: float

    @property
    def width_mm(self) -> float:
        return IRIS_DIAMETER_MM / max(self.iris_diameter, 1e-6)


def measure_eye(eye: EyeObservation, lid_depth: np.ndarray, pose: Similarity) -> EyeMeasure:
    """Lid and iris geometry in the head frame, normalised by the eye's width.

    The 2D contour is lifted to 3D with the mesh's depth at the same lid
    points, then un-posed, so head rotation does not read as gaze or droop.
    """
    lids = pose.to_canonical(np.column_stack([eye.lids, lid_depth]))[:, :2]
    iris = pose.to_canonical(np.column_stack([eye.iris, np.full(len(eye.iris), lid_depth.mean())]))[:, :2]
    line = EyeLine.of(lids)
    upper, lower = line.apertures(lids)
    dx, dy = (iris[0] - line.middle) / line.width
    diameter = iris_diameter(iris) / line.width
    return EyeMeasure(upper, lower, float(dx), float(dy), float(diameter))


def fixation(face: FaceObservation, hidden: np.ndarray, focal_px: float, photo_mm: float = math.nan) -> dict[str, float]:
    """MaskParams' fixation fields: the distance from the seen irises' size, the demand from the eyes' separation.

    None (NaN) without a focal length, a seen eye, or a believable distance (dmask.measure.clinical.NEAREST_FIXATION_MM).
    A photo (photo_mm, config clinical.photo_fixation_mm) is a crop of a camera nobody described, so its
    distance is not read from its frame: it is the protocol's, not a measurement, and only the demand of the
    eyes' separation (scaled by the iris) at that distance is given.
    """
    eyes = [e for e, covered in zip((face.right_eye, face.left_eye), hidden) if not covered]
    if not eyes or not (math.isfinite(focal_px) or math.isfinite(photo_mm)):
        return {}
    diameter = max(float(np.mean([iris_diameter(e.iris) for e in eyes])), 1e-6)
    centres = [EyeLine.of(e.lids).middle for e in (face.right_eye, face.left_eye)]
    separation = float(np.linalg.norm(centres[0] - centres[1]))
    if math.isfinite(photo_mm):
        return {"fixation_demand_deg": convergence_deg(separation * IRIS_DIAMETER_MM / diameter, photo_mm)}
    distance = focal_px * IRIS_DIAMETER_MM / diameter
    if distance < NEAREST_FIXATION_MM:
        return {}
    return {"fixation_distance_mm": distance, "fixation_demand_deg": convergence_deg(separation, focal_px)}


# How far the iris model's iris moves between its own eye corners when the eye turns, over how far it
# moves between the eye's real corners: its corners follow the iris part of the way. Known truth: the
# avatar drawn with gazes of -20 to +20 degrees on six press photos' poses read back at 0.64 (right eye)
# and 0.69 (left) of their yaw; on the clinical strabismus photos the iris model's offsets were 0.5 to
# 0.8 of those of a pupil centroid between dlib's corners (docs/signs.md, "Gaze at its true size").
IRIS_MODEL_YAW_GAIN = 0.67


def gaze_angles(measure: EyeMeasure, rest: np.ndarray) -> tuple[float, float]:
    """Iris offset from its rest position to eyeball rotation (yaw, pitch), radians.

    The eyeball is a sphere of EYEBALL_RADIUS_FRACTION eye widths; rest is
    the (dx, dy) of the iris when looking straight ahead. The horizontal
    offset is taken at its true size (IRIS_MODEL_YAW_GAIN), so a turned eye
    is published, and drawn, as far turned as it is.
    """
    sin_pitch = np.clip((measure.iris_dy - rest[1]) / EYEBALL_RADIUS_FRACTION, -0.99, 0.99)
    pitch = float(np.arcsin(sin_pitch))
    reach = EYEBALL_RADIUS_FRACTION * IRIS_MODEL_YAW_GAIN * np.cos(pitch)
    sin_yaw = np.clip((measure.iris_dx - rest[0]) / reach, -0.99, 0.99)
    return float(np.arcsin(sin_yaw)), pitch


_LIDS = 5  # per eye: upper, lower, MRD1, MRD2, iris dy
# Published brow and mouth-corner heights are rounded to 0.01 mm, far below what a landmark
# resolves: a face drawn at the population's level then reads exactly 0, not float noise of
# 1e-7 mm that ranked such faces at random against each other (dmask eval clinical).
HEIGHT_DECIMALS = 2


@dataclass(frozen=True)
class Resting:
    """A track's resting state (Fitter's slow baseline); a photo's is the photo.

    units: (C,) the fitted intensities; lids: (2, _LIDS) per eye;
    drop_mm: the lip line's droop, > 0 right lower; gap: the lips' gap,
    canonical units (it follows a closing mouth fast, MouthOpening).
    """

    units: np.ndarray
    lids: np.ndarray
    drop_mm: float
    gap: float

    def flat(self) -> np.ndarray:
        return np.concatenate([self.units, self.lids.ravel(), [self.drop_mm, self.gap]])

    @staticmethod
    def gap_index(channels: int) -> int:
        return channels + 2 * _LIDS + 1

    @staticmethod
    def of(flat: np.ndarray, channels: int) -> "Resting":
        gap = Resting.gap_index(channels)
        return Resting(flat[:channels], flat[channels:gap - 1].reshape(2, _LIDS), float(flat[gap - 1]), float(flat[gap]))


class MouthDroop:
    """A drooping mouth corner drawn with the action units, at the size the lip line showed it.

    A measured lip-line drop of d mm (dmask.measure.refine) is drawn as a corner
    whose anchor sits d mm lower than the other (dmask.measure.action_units.Heights),
    up to about 11 mm (`drawn`). The avatar's own droop reads back through
    dmask.measure.refine.fissure_drop at its drawn height (within 15 %,
    tests/test_refine.py), so the mask shows the drop that was measured.
    The units within FACS-E reach about 7.3 mm, and 7 of the 40 palsies of
    ../shared/data/clinical/palsy droop further (to 10.1 mm): every one was
    drawn, and published, as 7.3 mm. So the lower side's depressor goes on
    to DEPRESS_REACH times its FACS-E intensity, as the jaw does for a wide
    mouth (MouthOpening.JAW_REACH): the droop of a paralysed side is a sag,
    not a muscle's pull, and its field is the shape of one.
    """

    DEPRESS_REACH = 2.0

    def __init__(self, heights: Heights) -> None:
        rows = [u.name for u in ACTION_UNITS]
        self.depress, self.pull = PAIRS[rows.index("lip_corner_depress")], PAIRS[rows.index("lip_corner_pull")]
        # how far each channel at intensity 1 lowers the right corner below the left (the published heights' corner)
        self.lowers_right = {c: float(-np.subtract(*heights.of(np.eye(len(CHANNELS))[c])[heights.corner]))
                             for c in (*self.depress, *self.pull)}

    def level(self, units: np.ndarray) -> np.ndarray:
        """units with the mouth corners' depress and pull each the mean of its two sides."""
        out = units.copy()
        for pair in (self.depress, self.pull):
            out[list(pair)] = units[list(pair)].mean()
        return out

    def drawn(self, units: np.ndarray, drop_mm: float) -> np.ndarray:
        """units with the lower corner (drop_mm > 0: the right) drawn drop_mm below the other, as far as they reach.

        In turn: the lower side's lip_corner_depress up to FACS-E, the other
        side's lip_corner_pull up, the lower side's pull down (7.3 mm in
        all), then the depressor on to DEPRESS_REACH (11.3 mm).
        """
        out = units.copy()
        lower, upper = (0, 1) if drop_mm > 0 else (1, 0)
        to_go = abs(drop_mm)
        steps = ((self.depress[lower], 1.0), (self.pull[upper], 1.0), (self.pull[lower], 0.0),
                 (self.depress[lower], self.DEPRESS_REACH))
        for channel, bound in steps:  # each towards its bound lowers the lower corner against the other
            mm = abs(self.lowers_right[channel])
            step = float(np.clip(bound - out[channel], -to_go / mm, to_go / mm))
            out[channel] += step
            to_go -= abs(step) * mm
        return out


class MouthOpening:
    """The jaw drawn so the lips part from closed as far as the mouth opened from its rest.

    The opening is measured directly, the inner lips' middles apart on the
    canonical face (dmask.measure.action_units.lip_gap), against the track's resting
    gap: the least the mouth has been open lately (Fitter's baseline, which
    follows a closing mouth at once, within REST_FALL_SECONDS, and rises
    over baseline_seconds). A mouth that rests closed is drawn closed and opens as
    far as it does; one that hangs open at rest, and a photo's, is drawn
    closed at rest, the population's (a photo's opening linked a person's
    masks: FaceNet's Mask2Mask rank-1 rose from 0.40 to 0.46). Drawn as the
    fitted units' movement from a 20 s baseline, a talking mouth opened a
    tenth as far as it did (lp_driving_d14: the fit put the opening into
    lip_press, which its bounds saturate), and a clip that starts open kept
    that as its closed mouth. The drawn face's lips meet at the population's
    rest (Avatar.drawn), so its opening is the lip_gap of the units'
    displacement from that rest; jaw_drop, both sides alike, makes up the
    rest of the opening, up to JAW_REACH times its FACS-E intensity: a mouth
    opens three times as far as the 12 mm jaw_drop parts the lips at 1.
    """

    JAW_REACH = 3.0
    REST_FALL_SECONDS = 0.05

    def __init__(self, avatar: Avatar) -> None:
        self.jaw = list(PAIRS[[u.name for u in ACTION_UNITS].index("jaw_drop")])
        self.per_channel = np.array([lip_gap(field) for field in avatar.action_unit_basis.astype(np.float64)])
        self.rest = avatar.action_unit_rest.astype(np.float64)

    def drawn(self, units: np.ndarray, opening: float) -> np.ndarray:
        """units with the jaw set so the drawn lips part by opening (canonical units), as far as the jaw reaches."""
        out = units.copy()
        out[self.jaw] = 0.0
        shortfall = opening - self.per_channel @ (out - self.rest)
        out[self.jaw] = np.clip(shortfall / self.per_channel[self.jaw].sum(), 0.0, self.JAW_REACH)
        return out


class Fitter:
    """Fits every face of a stream; keeps each track's resting baseline."""

    def __init__(
        self, avatar: Avatar, config: FitConfig, clinical: ClinicalConfig, still: bool,
        resting: RestingPolicy = RestingPolicy.POPULATION,
    ) -> None:
        self.avatar = avatar
        self.config = config
        self.clinical = clinical
        self.still = still
        self.resting = resting
        self.solver = ActionUnitSolver(avatar.action_unit_basis)
        self.heights = Heights(avatar.vertices, avatar.action_unit_basis, avatar.mm_per_unit)
        self.resting_heights = self.heights.of(avatar.action_unit_rest)
        self.resting_field = np.tensordot(avatar.action_unit_rest.astype(np.float64), avatar.action_unit_basis, axes=1)
        self.rigid_weights = np.ones(len(avatar.rigid))
        margin = clinical.photo_margin if still else 1.0
        self.asymmetry_mm = {Region.BROW: margin * clinical.brow_asymmetry_mm,
                             Region.MIDFACE: margin * clinical.midface_asymmetry_mm,
                             Region.MOUTH: margin * clinical.mouth_asymmetry_mm}
        self.droop = MouthDroop(self.heights)
        self.opening = MouthOpening(avatar)
        # how fast each baseline entry follows a value below it: the lips' gap at once, the rest as it rises
        self.fall_seconds = np.full(Resting.gap_index(len(CHANNELS)) + 1, config.baseline_seconds)
        self.fall_seconds[Resting.gap_index(len(CHANNELS))] = MouthOpening.REST_FALL_SECONDS
        self.baselines: dict[int, tuple[np.ndarray, float]] = {}
        self.blinks: dict[int, tuple[BlinkTracker, BlinkTracker]] = {}
        self.shut_below = PHOTO_SHUT_FRACTION if still else BLINK_COMPLETE_FRACTION  # openness

    def fit(self, face: FaceObservation, timestamp: float, focal_px: float = math.nan) -> MaskParams:
        """The face's parameters; focal_px (the camera's focal length, pixels) places a video's fixation."""
        avatar = self.avatar
        hidden = np.array([face.right_eye.occluded, face.left_eye.occluded])
        pose = fit_similarity(avatar.vertices[avatar.rigid], face.landmarks[avatar.rigid], self.rigid_weights)
        shape = pose.to_canonical(face.landmarks.astype(np.float64))
        z = face.landmarks[:, 2].astype(np.float64)
        eyes = measure_eye(face.right_eye, z[RIGHT_LIDS], pose), measure_eye(face.left_eye, z[LEFT_LIDS], pose)
        units = self.solver.solve(shape - avatar.vertices)
        lids = np.array([(e.upper, e.lower, *self._mrd(e.upper, e.lower, e.iris_dy, e.width_mm), e.iris_dy) for e in eyes])
        lids[hidden] = np.nan
        drop_mm = face.fissure_drop_px * avatar.mm_per_unit / pose.scale
        now = Resting(units, lids, drop_mm, lip_gap(shape))
        rest = Resting.of(self._update_baseline(face.track_id, now.flat(), timestamp), len(units))
        movement = units - rest.units
        # an eye not yet seen in this track (NaN) counts as level with the other: no asymmetry can be judged
        resting_lids = np.where(np.isnan(rest.lids), rest.lids[::-1], rest.lids)
        openness = self._openness(eyes, resting_lids)
        right, left = self._eyes(eyes, resting_lids, hidden, openness)
        published = self._quantised(self._units(now, rest, movement))
        heights = np.round(self.heights.of(published) - self.resting_heights, HEIGHT_DECIMALS)
        blinks = self._blinks(face.track_id, openness, timestamp, hidden)
        return MaskParams(
            track_id=face.track_id,
            rotation=pose.rotation.astype(np.float32),
            translation=pose.translation.astype(np.float32),
            scale=pose.scale,
            right_eye=right,
            left_eye=left,
            action_units=published.astype(np.float32),
            brow_height_mm=heights[self.heights.brows].mean(0).astype(np.float32),
            mouth_corner_height_mm=heights[self.heights.corner].astype(np.float32),
            confidence=face.confidence,
            right_blink=blinks[0],
            left_blink=blinks[1],
            **fixation(face, hidden, focal_px, self.clinical.photo_fixation_mm if self.still else math.nan),
            action_unit_movement=None if self.still else self._quantised(movement).astype(np.float32),
        )

    def forget(self, track_id: int) -> None:
        """Drop a lost track's baseline, so a new person starts fresh."""
        self.baselines.pop(track_id, None)
        self.blinks.pop(track_id, None)

    def _openness(self, eyes: tuple[EyeMeasure, EyeMeasure], resting: np.ndarray) -> np.ndarray:
        """(2,) each eye's lid opening over its resting opening (EyeParams.openness).

        A photo has no rest of its own: its eyes are judged against the
        population's opening.
        """
        if self.still:
            rest = np.full(2, float(self.avatar.eye_aperture_mean.sum()))
        else:
            rest = resting[:, 0] + resting[:, 1]
        return np.array([e.upper + e.lower for e in eyes]) / np.maximum(rest, 1e-6)

    def _blinks(self, track_id: int, openness: np.ndarray, timestamp: float, hidden: np.ndarray):
        """Each eye's blink that ends at this frame, from its openness (none in a photo).

        A hidden eye interrupts its blink tracker: a cover is not a blink.
        """
        if self.still:
            return None, None
        trackers = self.blinks.setdefault(track_id, (BlinkTracker(), BlinkTracker()))
        events = []
        for tracker, opened, covered in zip(trackers, openness, hidden):
            if covered:
                tracker.interrupt()
            events.append(None if covered else tracker.update(float(opened), timestamp))
        return tuple(events)

    def _mrd(self, upper: float, lower: float, iris_dy: float, width_mm: float) -> tuple[float, float]:
        return margin_reflex_mm(upper, lower, iris_dy, width_mm, self.avatar.mrd_offset_mm)

    def _quantised(self, units: np.ndarray) -> np.ndarray:
        step = self.config.action_unit_step
        return np.round(units / step) * step if step > 0 else units

    def _units(self, now: Resting, rest: Resting, movement: np.ndarray) -> np.ndarray:
        """Movement from the resting level, on top of the population's level or a clinical one.

        A brow or mid-face region whose resting heights differ side to side
        by more than its clinical threshold keeps that difference: the side
        nearer the population's face sits at it, the other carries the
        difference (the units refitted to that face, within their bounds).
        A resting lip-line droop beyond the mouth's threshold is drawn at its
        size (MouthDroop). Everything symmetric, and every difference within
        the normal range, is the population's; the mouth opens from closed
        as far as it opened from its rest (MouthOpening). RestingPolicy.OWN
        keeps everything, the mouth's side-to-side difference as the lip line
        shows it this frame.
        """
        if self.resting is RestingPolicy.OWN:
            units = now.units
            return self.droop.drawn(self.droop.level(units), now.drop_mm) if np.isfinite(now.drop_mm) else units
        heights = self.heights.of(rest.units) - self.resting_heights
        signs = [r for r in (Region.BROW, Region.MIDFACE) if self.heights.asymmetry(heights, r) > self.asymmetry_mm[r]]
        target = self.avatar.action_unit_rest.astype(np.float64)
        if signs:
            target = self.solver.solve(self.resting_field + sum(self.heights.one_sided(rest.units, heights, r) for r in signs))
        if abs(rest.drop_mm) > self.asymmetry_mm[Region.MOUTH]:  # NaN (never seen) is no sign
            target = self.droop.drawn(target, rest.drop_mm)
        return self.opening.drawn(np.clip(target + movement, 0.0, np.maximum(target, 1.0)), now.gap - rest.gap)

    def _eyes(self, eyes: tuple[EyeMeasure, EyeMeasure], resting: np.ndarray, hidden: np.ndarray,
              openness: np.ndarray) -> tuple[EyeParams, EyeParams]:
        """Per-eye lids scaled so their resting MRDs are the population's or a clinical one; a hidden eye has none.

        resting: (2, 5) per eye (upper, lower, MRD1 mm, MRD2 mm, iris dy), the
        person's own scale (an eye not yet seen takes the other's, in fit).
        The target apertures put the resting margins at the
        target MRDs from the resting iris centre, on the population's scale.
        """
        gain = np.ones((2, 2))
        normal = np.zeros((2, 2), bool)  # (eye, MRD1 / MRD2) replaced by the population's
        if self.resting is RestingPolicy.POPULATION:
            c = self.clinical
            mrd1 = resting_deviation(resting[:, 2], NORMAL_MRD_MM[0], c.lid_asymmetry_mm, c.ptosis_mrd1_mm, c.retraction_mrd1_mm)
            mrd2 = resting_deviation(resting[:, 3], NORMAL_MRD_MM[1], c.lid_asymmetry_mm, high=c.scleral_show_mrd2_mm)
            normal = np.column_stack([mrd1, mrd2]) == 0.0
            mrd = NORMAL_MRD_MM + np.column_stack([mrd1, mrd2]) - self.avatar.mrd_offset_mm
            iris_dy = resting[:, 4:5] * [1.0, -1.0]
            target = mrd / self.avatar.eye_width_mm - iris_dy
            gain = np.clip(target / np.maximum(resting[:, :2], 1e-6), *RESTING_APERTURE_GAIN)
        return tuple(EyeParams.hidden() if covered else self._eye(eye, rest, g, opened, level)
                     for eye, rest, g, opened, level, covered in zip(eyes, self.avatar.iris_rest, gain, openness, normal, hidden))

    def _eye(self, measure: EyeMeasure, rest: np.ndarray, gain: np.ndarray, openness: float, normal: np.ndarray) -> EyeParams:
        """One eye's published parameters; its MRDs on the population's scale, none while shut, with the gaze read
        past dmask.measure.clinical.GAZE_READ_LIMIT_DEG (drawn at it, flagged), or where the resting level was within
        normal limits (normal: MRD1, MRD2)."""
        shut = bool(openness < self.shut_below)
        gaze = np.array((math.nan, math.nan) if shut else gaze_angles(measure, rest))
        limit = math.radians(GAZE_READ_LIMIT_DEG)
        at_limit = bool(np.any(np.abs(gaze) > limit))
        yaw, pitch = (float(v) for v in np.clip(gaze, -limit, limit))
        upper, lower = uncrossed(measure.upper * gain[0], measure.lower * gain[1])
        iris_dy = rest[1] + EYEBALL_RADIUS_FRACTION * np.sin(pitch)
        mrd = np.where(normal | at_limit, math.nan, self._mrd(upper, lower, iris_dy, self.avatar.eye_width_mm))
        return EyeParams(yaw, pitch, upper, lower, *map(float, mrd), openness=float(openness), shut=shut,
                         gaze_at_limit=at_limit, mrd1_normal=bool(normal[0]), mrd2_normal=bool(normal[1]))

    def _update_baseline(self, track_id: int, current: np.ndarray, timestamp: float) -> np.ndarray:
        """The track's resting state; a photo's is itself.

        A NaN in current (a hidden eye) leaves that entry where it was; an
        entry not yet seen (NaN) starts at its first value. The lips' gap
        follows a closing mouth within MouthOpening.REST_FALL_SECONDS.
        """
        if self.still:
            return current
        previous = self.baselines.get(track_id)
        if previous is None:
            baseline = current
        else:
            old, last_time = previous
            seconds = np.where(current < old, self.fall_seconds, self.config.baseline_seconds)
            alpha = 1.0 - np.exp(-max(timestamp - last_time, 0.0) / seconds)
            current = np.where(np.isnan(current), old, current)
            baseline = np.where(np.isnan(old), current, old + alpha * (current - old))
        self.baselines[track_id] = (baseline, timestamp)
        return baseline
