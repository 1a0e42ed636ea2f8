"""The fit's geometry on constructed inputs with known answers."""

import numpy as np
import pytest

from dmask.measure.avatar import EYEBALL_RADIUS_FRACTION
from dmask.measure.fit import IRIS_MODEL_YAW_GAIN, EyeMeasure, Similarity, fit_similarity, gaze_angles, measure_eye
from dmask.measure.geometry import EyeLine
from dmask.records import EyeObservation, EyeParams
from dmask.draw.scene import DRAWN_EYEBALL_FRACTION, EyeRig
from support import eye_params, rotation


def test_similarity_recovers_a_known_pose():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(60, 3))
    r = rotation(17.0, -11.0, 6.0, np.float64)
    target = 250.0 * source @ r.T + [320.0, 240.0, 17.0]
    pose = fit_similarity(source, target, np.ones(60))
    assert pose.scale == pytest.approx(250.0)
    np.testing.assert_allclose(pose.rotation, r, atol=1e-9)
    np.testing.assert_allclose(pose.to_canonical(target), source, atol=1e-9)


def test_similarity_weights_ignore_outliers_with_zero_weight():
    rng = np.random.default_rng(1)
    source = rng.normal(size=(40, 3))
    target = 100.0 * source + 5.0
    target[:5] += 80.0
    weights = np.ones(40)
    weights[:5] = 0.0
    pose = fit_similarity(source, target, weights)
    assert pose.scale == pytest.approx(100.0)
    np.testing.assert_allclose(pose.rotation, np.eye(3), atol=1e-9)


IRIS_RADIUS = 0.21  # eye widths
# A lid arc whose three middle points are on average 1.0 from the corner line.
ARC_T = np.linspace(0, np.pi, 9)[1:-1]
ARC = np.sin(ARC_T) / np.sin(ARC_T[2:5]).mean()


def synthetic_eye(upper: float, lower: float, dx: float, dy: float, width: float = 40.0) -> EyeObservation:
    """A frontal eye centred at (100, 50): corners, lid arcs, iris centre."""
    x = 100 - width / 2 * np.cos(ARC_T)
    lower_lid = np.column_stack([x, 50 + lower * width * ARC])
    upper_lid = np.column_stack([x, 50 - upper * width * ARC])
    lids = np.vstack([[80, 50], lower_lid, [120, 50], upper_lid])
    centre = [100 + dx * width, 50 + dy * width]
    iris = centre + np.array([[0, 0], [1, 0], [0, -1], [-1, 0], [0, 1]]) * IRIS_RADIUS * width
    return EyeObservation(lids.astype(np.float32), iris.astype(np.float32))


def test_measure_eye_reads_apertures_and_iris_offset():
    eye = synthetic_eye(upper=0.2, lower=0.1, dx=0.05, dy=-0.02)
    identity = Similarity(1.0, np.eye(3), np.zeros(3))
    m = measure_eye(eye, np.zeros(16), identity)
    assert m.upper == pytest.approx(0.2)
    assert m.lower == pytest.approx(0.1)
    assert m.iris_dx == pytest.approx(0.05, abs=1e-6)
    assert m.iris_dy == pytest.approx(-0.02, abs=1e-6)
    assert m.iris_diameter == pytest.approx(2 * IRIS_RADIUS, abs=1e-6)
    assert m.width_mm == pytest.approx(11.7 / (2 * IRIS_RADIUS), rel=1e-5)


def test_measure_eye_is_independent_of_head_roll_and_scale():
    eye = synthetic_eye(upper=0.25, lower=0.08, dx=-0.04, dy=0.03)
    r = rotation(0, 0, 23.0, np.float64)
    pose = Similarity(3.0, r, np.array([500.0, 300.0, 0.0]))
    moved = lambda p: (3.0 * np.column_stack([p, np.zeros(len(p))]) @ r.T + pose.translation)[:, :2]  # noqa: E731
    rolled = EyeObservation(moved(eye.lids), moved(eye.iris))
    a = measure_eye(eye, np.zeros(16), Similarity(1.0, np.eye(3), np.zeros(3)))
    b = measure_eye(rolled, np.zeros(16), pose)
    np.testing.assert_allclose([b.upper, b.lower, b.iris_dx, b.iris_dy], [a.upper, a.lower, a.iris_dx, a.iris_dy], atol=1e-9)


@pytest.mark.parametrize("dx,dy", [(0.0, 0.0), (0.15, 0.0), (-0.1, 0.08), (0.2, -0.12)])
def test_gaze_round_trip_through_the_drawn_eyeball(dx, dy):
    """The renderer's iris centre lands where the eye is: the measured offset from rest, horizontally at its true size."""
    rest = np.array([-0.03, -0.02])
    yaw, pitch = gaze_angles(EyeMeasure(0.2, 0.1, dx, dy, 2 * IRIS_RADIUS), rest)
    params = EyeParams(yaw, pitch, 0.2, 0.1, 4.5, 5.25)
    rig = EyeRig(
        lids=np.arange(16), ring=np.arange(14), line=EyeLine(np.zeros(3), 1.0, np.array([0.0, 1.0, 0.0])),
        rest_upper=0.2, rest_lower=0.1, centre=np.array([*rest, DRAWN_EYEBALL_FRACTION]), radius=DRAWN_EYEBALL_FRACTION,
    )
    axis = rig.gaze_axis(params)
    iris_centre = rig.centre + rig.radius * axis
    np.testing.assert_allclose(iris_centre[:2], rest + ([dx, dy] - rest) / [IRIS_MODEL_YAW_GAIN, 1.0], atol=1e-9)
    assert EYEBALL_RADIUS_FRACTION < DRAWN_EYEBALL_FRACTION


def test_lids_scale_to_the_measured_aperture():
    x = -0.5 * np.cos(ARC_T)
    vertices = np.zeros((30, 3))
    vertices[0], vertices[8] = [-0.5, 0, 0], [0.5, 0, 0]
    vertices[1:8, 0], vertices[1:8, 1] = x, 0.1 * ARC
    vertices[9:16, 0], vertices[9:16, 1] = x, -0.25 * ARC
    vertices[16:23, 1], vertices[23:30, 1] = 0.3 * ARC, -0.5 * ARC
    rig = EyeRig.build(vertices, vertices, np.arange(16), np.arange(16, 30), np.zeros(2))
    assert rig.rest_upper == pytest.approx(0.25)
    assert rig.rest_lower == pytest.approx(0.1)

    closed = vertices.copy()
    rig.set_lids(closed, eye_params(upper=0.0, lower=0.0))
    np.testing.assert_allclose(closed[1:16, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(closed[23:30, 1], -0.5 * ARC + 0.5 * 0.25 * ARC)

    droop = vertices.copy()
    rig.set_lids(droop, eye_params(upper=0.1, lower=0.1))
    assert -droop[11:14, 1].mean() == pytest.approx(0.1)
    np.testing.assert_allclose(droop[1:8], vertices[1:8])
