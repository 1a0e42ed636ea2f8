"""Observations to mask parameters: pose, per-eye signals, expression.

The identity policy lives here. What reaches the avatar:
- pose (rotation, translation, scale) from a weighted similarity Procrustes
  fit of the canonical face to the landmarks' rigid points;
- per eye, absolute measures normalised by that eye's own width (lid
  apertures, iris offset as an eyeball rotation), so a droop or a squint that
  never changes still shows. Only the two eyes' *common* resting aperture (a
  slow per-person baseline, like the expression's) is pulled towards the
  population mean inside a soft dead zone, since resting eye opening is
  anatomy; the difference between the eyes, every lid movement away from the
  baseline (blinks, half-blinks, squinting: in proportion, since the
  resting level is scaled) and a resting ptosis beyond the normal range pass;
- expression as displacements of the lower-face and brow vertices. Movement
  away from a slow per-person baseline passes in full, vertex by vertex. The
  baseline itself (the person's resting face; for a photo, all of it) passes
  only beyond the normal range of faces: split into its part in the avatar's
  expression space (the ways one person's face moves between photos, so a
  resting smile reads as a smile) and the rest, each coordinate of each part
  goes through a soft dead zone of `deadzone_sigmas` times the spread of
  people's resting faces along it. A one-sided droop far beyond that spread
  passes; ordinary facial proportions do not.
No smoothing is applied anywhere, so blinks and fast eye movements survive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.avatar import EYEBALL_RADIUS_FRACTION, Avatar
from edge.config import FitConfig
from edge.geometry import EyeLine
from edge.mesh_index import (
    LEFT_BROW,
    LEFT_LIDS,
    LEFT_MOUTH_CORNER,
    LOWER_LIP_MID,
    RIGHT_BROW,
    RIGHT_LIDS,
    RIGHT_MOUTH_CORNER,
    UPPER_LIP_MID,
)
from edge.records import EyeObservation, EyeParams, FaceObservation, MaskParams


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


def soft_deadzone(x: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """x * min(1, (|x| / threshold)^2): small offsets vanish, large ones pass.

    Continuous, and the identity beyond the threshold, so clinical deviations
    keep their size while the normal spread of faces is flattened.
    """
    t = np.maximum(threshold, 1e-9)
    return x * np.minimum(1.0, (np.abs(x) / t) ** 2)


@dataclass(frozen=True)
class EyeMeasure:
    """One eye in canonical units: apertures and iris offset over eye width."""

    upper: float
    lower: float
    iris_dx: float
    iris_dy: float


def measure_eye(eye: EyeObservation, lid_depth: np.ndarray, pose: Similarity) -> EyeMeasure:
    """Lid and iris geometry in the head frame, normalised by the eye's width.

    The 2D contour is lifted to 3D with the mesh's depth at the same lid
    points, then un-posed, so head rotation does not read as gaze or droop.
    """
    lids = pose.to_canonical(np.column_stack([eye.lids, lid_depth]))[:, :2]
    iris = pose.to_canonical(np.append(eye.iris[0], lid_depth.mean())[None])[0, :2]
    line = EyeLine.of(lids)
    upper, lower = line.apertures(lids)
    dx, dy = (iris - line.middle) / line.width
    return EyeMeasure(upper, lower, float(dx), float(dy))


def eye_params(measure: EyeMeasure, rest: np.ndarray, upper: float, lower: float) -> EyeParams:
    """Iris offset from its rest position to eyeball rotation.

    The eyeball is a sphere of EYEBALL_RADIUS_FRACTION eye widths; rest is
    the (dx, dy) of the iris when looking straight ahead.
    """
    sin_pitch = np.clip((measure.iris_dy - rest[1]) / EYEBALL_RADIUS_FRACTION, -0.99, 0.99)
    pitch = float(np.arcsin(sin_pitch))
    sin_yaw = np.clip((measure.iris_dx - rest[0]) / (EYEBALL_RADIUS_FRACTION * np.cos(pitch)), -0.99, 0.99)
    return EyeParams(float(np.arcsin(sin_yaw)), pitch, upper, lower)


class Fitter:
    """Fits every face of a stream; keeps each track's resting baseline."""

    def __init__(self, avatar: Avatar, config: FitConfig, still: bool) -> None:
        self.avatar = avatar
        self.config = config
        self.still = still
        self.rigid_weights = np.ones(len(avatar.rigid))
        self.space_threshold = config.deadzone_sigmas * avatar.expression_identity_sd
        self.residual_threshold = config.deadzone_sigmas * avatar.expression_residual_sd
        self.baselines: dict[int, tuple[np.ndarray, float]] = {}

    def fit(self, face: FaceObservation, timestamp: float) -> MaskParams:
        avatar = self.avatar
        pose = fit_similarity(avatar.vertices[avatar.rigid], face.landmarks[avatar.rigid], self.rigid_weights)
        shape = pose.to_canonical(face.landmarks.astype(np.float64))
        z = face.landmarks[:, 2].astype(np.float64)
        eyes = measure_eye(face.right_eye, z[RIGHT_LIDS], pose), measure_eye(face.left_eye, z[LEFT_LIDS], pose)
        current = shape[avatar.expression_vertices] - avatar.vertices[avatar.expression_vertices]
        common = np.array([0.5 * (eyes[0].upper + eyes[1].upper), 0.5 * (eyes[0].lower + eyes[1].lower)])
        baseline = self._update_baseline(face.track_id, np.append(current.ravel(), common), timestamp)
        right, left = self._eyes(eyes, baseline[-2:])
        expression = self._expression(current, baseline[:-2].reshape(current.shape))
        deformed = avatar.expressed(expression)
        rest = avatar.vertices
        return MaskParams(
            track_id=face.track_id,
            rotation=pose.rotation.astype(np.float32),
            translation=pose.translation.astype(np.float32),
            scale=pose.scale,
            right_eye=right,
            left_eye=left,
            expression=expression.astype(np.float32),
            mouth_open=float(np.linalg.norm(deformed[LOWER_LIP_MID] - deformed[UPPER_LIP_MID])),
            brow_raise_right=float((rest[RIGHT_BROW, 1] - deformed[RIGHT_BROW, 1]).mean()),
            brow_raise_left=float((rest[LEFT_BROW, 1] - deformed[LEFT_BROW, 1]).mean()),
            mouth_corner_right=float(rest[RIGHT_MOUTH_CORNER, 1] - deformed[RIGHT_MOUTH_CORNER, 1]),
            mouth_corner_left=float(rest[LEFT_MOUTH_CORNER, 1] - deformed[LEFT_MOUTH_CORNER, 1]),
            confidence=face.confidence,
        )

    def forget(self, track_id: int) -> None:
        """Drop a lost track's baseline, so a new person starts fresh."""
        self.baselines.pop(track_id, None)

    def _eyes(self, eyes: tuple[EyeMeasure, EyeMeasure], resting: np.ndarray) -> tuple[EyeParams, EyeParams]:
        """Per-eye apertures, scaled so their common resting (upper, lower) level is dead-zoned.

        A scale, not a shift: a closed lid stays closed and a half-blink stays
        half, whatever the person's resting opening.
        """
        mean = self.avatar.eye_aperture_mean
        target = mean + soft_deadzone(resting - mean, self.avatar.eye_aperture_sd * self.config.deadzone_sigmas)
        gain = np.clip(target / np.maximum(resting, 1e-6), *RESTING_APERTURE_GAIN)
        return tuple(
            eye_params(eye, rest, eye.upper * gain[0], eye.lower * gain[1])
            for eye, rest in zip(eyes, self.avatar.iris_rest)
        )

    def _expression(self, current: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        """Displacement: movement from the baseline in full, plus the resting offset beyond the dead zones."""
        avatar = self.avatar
        coefficients = avatar.expression_coefficients(baseline)
        residual = baseline - avatar.expression_displacement(coefficients)
        resting = avatar.expression_displacement(soft_deadzone(coefficients, self.space_threshold))
        return (current - baseline) + resting + soft_deadzone(residual, self.residual_threshold)

    def _update_baseline(self, track_id: int, current: np.ndarray, timestamp: float) -> np.ndarray:
        """The track's resting state (flat: expression displacements, then common apertures); a photo's is itself."""
        if self.still:
            return current
        previous = self.baselines.get(track_id)
        if previous is None:
            baseline = current
        else:
            old, last_time = previous
            alpha = 1.0 - np.exp(-max(timestamp - last_time, 0.0) / self.config.baseline_seconds)
            baseline = old + alpha * (current - old)
        self.baselines[track_id] = (baseline, timestamp)
        return baseline
