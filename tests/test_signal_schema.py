"""The one signal schema: the docs carry it as written, and every writer uses it."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from dmask.measure.action_units import CHANNEL_NAMES
from dmask.measure.clinical import (
    GAZE_READ_LIMIT_DEG,
    GAZE_ZERO_VERGENCE_DEG,
    asymmetry_index,
    degrees_of_prism,
    prism_dioptres,
    resting_deviation,
)
from dmask.signals import FACE_FIELDS, FIELD_NAMES, SCHEMA, face_record, schema_table
from support import eye_params, mask_params

WIRE = Path(__file__).resolve().parents[1] / "docs" / "WIRE.md"


def test_the_wire_page_carries_the_schema_table_as_generated():
    text = WIRE.read_text()
    start = text.index("-->\n", text.index("<!-- schema table")) + 4
    assert text[start : text.index("<!-- end of schema table -->")] == schema_table()
    assert SCHEMA in text


def test_field_names_are_unique_and_every_field_has_a_unit():
    assert len(set(FIELD_NAMES)) == len(FIELD_NAMES)
    assert all(field.unit and field.meaning for field in FACE_FIELDS)
    assert {f"au_{name}" for name in CHANNEL_NAMES} <= set(FIELD_NAMES)


def test_a_record_holds_every_field_in_order_and_nothing_else():
    units = np.zeros(len(CHANNEL_NAMES), np.float32)
    units[CHANNEL_NAMES.index("right_lip_corner_pull")] = 0.6
    units[CHANNEL_NAMES.index("left_lip_corner_pull")] = 0.2
    face = mask_params(right_eye=eye_params(4.0, 1.0), left_eye=eye_params(-4.0, -1.0), action_unit_movement=units)
    record = face_record(face)
    assert list(record) == list(FIELD_NAMES)
    assert record["horizontal_deviation_deg"] == pytest.approx(8.0)
    assert record["horizontal_deviation_pd"] == pytest.approx(100 * math.tan(math.radians(8.0)))
    assert record["horizontal_vergence_deg"] == pytest.approx(8.0 + GAZE_ZERO_VERGENCE_DEG)
    assert record["fixation_distance_mm"] == pytest.approx(600.0)
    assert record["vertical_deviation_deg"] == pytest.approx(2.0)
    assert record["asym_lip_corner_pull"] == pytest.approx(0.5)
    assert record["right_fissure_mm"] == pytest.approx(4.5 + 5.25)


def test_a_value_that_is_not_finite_is_none():
    face = mask_params(confidence=float("nan"))
    assert face_record(face)["confidence"] is None


def test_prism_dioptres_round_trip():
    assert prism_dioptres(45.0) == pytest.approx(100.0)
    assert prism_dioptres(degrees_of_prism(15.0)) == pytest.approx(15.0)


def test_prism_dioptres_end_where_a_degree_is_seven_of_them():
    assert prism_dioptres(-59.0) == pytest.approx(-166.4, abs=0.1)
    assert all(math.isnan(prism_dioptres(d)) for d in (60.0, -89.9, 90.0, 97.0))


def test_a_gaze_at_the_limit_of_what_is_read_is_flagged_and_published_empty():
    beyond = dataclasses.replace(eye_params(GAZE_READ_LIMIT_DEG, 3.0), gaze_at_limit=True)
    record = face_record(mask_params(right_eye=beyond, left_eye=eye_params(-4.0, 1.0)))
    assert record["right_gaze_at_limit"] == 1.0 and record["left_gaze_at_limit"] == 0.0
    assert record["right_gaze_yaw_deg"] is None and record["right_gaze_pitch_deg"] is None
    assert record["left_gaze_yaw_deg"] == pytest.approx(-4.0)
    for name in ("horizontal_vergence_deg", "horizontal_deviation_pd", "vertical_deviation_deg"):
        assert record[name] is None


@pytest.mark.parametrize("values, expected", [
    ((4.4, 4.6), (0.0, 0.0)),     # normal and nearly symmetric: the population's
    ((3.0, 4.9), (0.0, 0.0)),     # 1.9 mm apart: within the normal asymmetry
    ((1.0, 4.5), (-3.5, 0.0)),    # a ptosis keeps its level, the other eye is the population's
    ((2.2, 4.8), (-2.6, 0.0)),    # no ptosis, but 2.6 mm apart: the lower lid carries the difference
    ((7.0, 4.5), (2.5, 0.0)),     # a retraction keeps its level
    ((1.5, 1.5), (-3.0, -3.0)),   # bilateral ptosis
])
def test_resting_lids_pass_only_beyond_the_clinical_criteria(values, expected):
    out = resting_deviation(np.array(values), 4.5, asymmetry=2.0, low=2.0, high=6.0)
    np.testing.assert_allclose(out, expected)


def test_asymmetry_index_is_empty_where_neither_side_moves():
    """0.000 against 0.015 is no movement, not a complete one-sided weakness (issue 25)."""
    right, left = np.array([1.0, 0.0, 0.3, 0.0, 0.09]), np.array([0.0, 0.0, 0.1, 0.015, 0.01])
    np.testing.assert_allclose(asymmetry_index(right, left), [1.0, np.nan, 0.5, np.nan, np.nan])
