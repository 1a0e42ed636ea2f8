"""The key measurements of a recording as a DICOM structured report (TID 1500, through highdicom).

A Comprehensive 3D SR whose Measurement Report holds one measurement group
per finding site (right eye, left eye, both eyes, right and left side of the
face), each referencing the video instance it was measured on. The numbers
are the clinical summary's (dmask.clinical.summary), so the PDF and the SR
agree. Our measurements have no standard codes (there is none for MRD1 or a
blink rate), so they are coded in the private scheme 99DMASK (PS3.16 8.2:
private schemes start with 99) with plain meanings; sites and lateralities
are SNOMED CT and units UCUM, so a viewer lists them by eye and side.
"""

from __future__ import annotations

import datetime as dt
import math
import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from dmask.clinical.summary import ClinicalSummary, EyeSummary
from dmask.export.identity import MANUFACTURER, Series, StudyIdentity
from dmask.measure.action_units import Side

SCHEME = "99DMASK"
_UNITS = {
    "mm": ("mm", "millimeter"),
    "/min": ("/min", "per minute"),
    "Hz": ("Hz", "hertz"),
    "deg": ("deg", "degree"),
    "PD": ("[p'diop]", "prism diopter"),
}
_EYE, _FACE = ("81745001", "Eye"), ("89545001", "Face structure")
_SIDES = {Side.RIGHT: ("24028007", "Right"), Side.LEFT: ("7771000", "Left")}
_PROCEDURE = hd.sr.CodedConcept("MASKED-VIDEO", SCHEME, "Masked video examination of the eyes and face")


def _code(value: str, meaning: str, scheme: str = SCHEME) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, scheme, meaning)


def _site(location: tuple[str, str], side: str | None) -> hd.sr.FindingSite:
    laterality = _code(*_SIDES[side], scheme="SCT") if side else None
    return hd.sr.FindingSite(_code(*location, scheme="SCT"), laterality=laterality)


def _measurements(items: list[tuple[str, str, float, str]]) -> list[hd.sr.Measurement]:
    """(code, meaning, value, unit) as measurements; a value that could not be measured (NaN) is left out."""
    return [hd.sr.Measurement(name=_code(code, meaning), value=float(value),
                              unit=_code(*_UNITS[unit], scheme="UCUM"))
            for code, meaning, value, unit in items if value is not None and math.isfinite(value)]


_LIDS = (("mrd1", "MRD1", "Margin reflex distance 1"), ("mrd2", "MRD2", "Margin reflex distance 2"),
         ("fissure", "PFH", "Palpebral fissure height"))
_WITHIN_NORMAL = ("WNL", "Within normal limits")


def _within_normal(eye: EyeSummary) -> list[hd.sr.QualitativeEvaluation]:
    """A lid level withheld as within normal limits (dmask.clinical.summary) is said so, not measured."""
    return [hd.sr.QualitativeEvaluation(_code(code, meaning), _code(*_WITHIN_NORMAL))
            for name, code, meaning in _LIDS if eye.lids_within_normal.of(name)]


def _eye(eye: EyeSummary) -> list[tuple[str, str, float, str]]:
    low, high = eye.gaze_yaw_range_deg
    return [
        ("BLINK-RATE", "Blink rate", eye.blinks.per_minute, "/min"),
        *((code, meaning, eye.lids_mm.of(name), "mm") for name, code, meaning in _LIDS),
        ("GAZE-H-RANGE", "Horizontal gaze range, 5th to 95th percentile", high - low, "deg"),
        ("OSC-H-FREQ", "Horizontal oscillation frequency", eye.oscillation_yaw.frequency_hz, "Hz"),
        ("OSC-H-AMP", "Horizontal oscillation amplitude, peak to peak", eye.oscillation_yaw.amplitude_deg, "deg"),
        ("OSC-V-FREQ", "Vertical oscillation frequency", eye.oscillation_pitch.frequency_hz, "Hz"),
        ("OSC-V-AMP", "Vertical oscillation amplitude, peak to peak", eye.oscillation_pitch.amplitude_deg, "deg"),
    ]


_Group = tuple[str, hd.sr.FindingSite, list[tuple[str, str, float, str]], list[hd.sr.QualitativeEvaluation]]


def _groups(s: ClinicalSummary) -> list[_Group]:
    """(name, site, measurements, qualitative evaluations) per finding site."""
    deviation, face = s.deviation, s.face
    groups = [(f"{side} eye", _site(_EYE, side), _eye(s.eyes.of(side)), _within_normal(s.eyes.of(side))) for side in _SIDES]
    groups.append(("both eyes", _site(_EYE, None), [
        ("DEV-H", "Horizontal deviation, right minus left, median", deviation.horizontal.median_pd, "PD"),
        ("DEV-V", "Vertical deviation, right minus left, median", deviation.vertical.median_pd, "PD"),
    ], []))
    groups += [(f"{side} face", _site(_FACE, side), [
        ("BROW-H", "Brow height above rest, median", face.brow_height_mm.of(side), "mm"),
        ("MOUTH-CORNER-H", "Mouth-corner height above rest, median", face.mouth_corner_height_mm.of(side), "mm"),
    ], []) for side in _SIDES]
    return groups


def measurement_report(summary: ClinicalSummary, video: Dataset, identity: StudyIdentity, series: Series,
                       number: int, recorded: dt.datetime) -> Dataset:
    """The TID 1500 report of a clinical summary, referencing the video instance it was measured on."""
    source = hd.sr.SourceImageForMeasurementGroup.from_source_image(video)
    groups = [
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=identity.new_uid(), identifier=name),
            finding_sites=[site], measurements=measured or None, qualitative_evaluations=evaluations or None,
            source_images=[source])
        for name, site, items, evaluations in _groups(summary) if (measured := _measurements(items)) or evaluations
    ]
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=identity.new_uid(), name=MANUFACTURER))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=_PROCEDURE, imaging_measurements=groups)
    ds = hd.sr.Comprehensive3DSR(
        evidence=[video], content=report, series_instance_uid=series.uid, series_number=series.number,
        sop_instance_uid=identity.new_uid(), instance_number=number, manufacturer=MANUFACTURER, is_complete=True)
    identity.apply(ds, recorded)
    ds.SeriesDescription = series.description
    return ds
