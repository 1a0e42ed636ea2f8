"""Whom a recording is filed under, and the PS3.15 de-identification attributes every instance carries.

The patient ID, name and study UID come from the caller (config `dicom`, or
the CLI): a pseudonym or a worklist entry. Nothing here is ever derived from
the video or its signals. UIDs the caller leaves out are generated from
random UUIDs (under `dicom.uid_root` where one is set), so they carry no
trace of the person, the box or the time either.

Dates: PS3.15 Annex E's Basic Profile removes them; the default keeps only the
year of the recording (as 1 January), a configured shift moves the date, and
the time of day is never written (midnight where a time is required) unless
`dicom.keep_recording_time` is acknowledged as weakening privacy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, generate_uid

from dmask import __version__
from dmask.config.services import DatePolicy, DicomConfig
from dmask.errors import ConfigError

# DCM codes of CID 7050 (De-identification Method) that apply to every export:
# the Basic Profile, Clean Pixel Data (no burned-in text: every pixel is
# rendered) and Clean Recognizable Visual Features (the face is an avatar).
_ALWAYS = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113101", "Clean Pixel Data Option"),
    ("113102", "Clean Recognizable Visual Features Option"),
)
_MODIFIED_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")
_FULL_DATES = ("113106", "Retain Longitudinal Temporal Information Full Dates Option")
_METHOD = (f"digital-mask {__version__}", "face re-rendered as a synthetic avatar",
           "PS3.15 Annex E Basic Profile")
MANUFACTURER = "digital-mask"
# Content Time is required (1C) in video and document instances: where the
# time is not kept it is PS3.15's dummy value, midnight.
_DUMMY_TIME = "000000"
# when the file was made, not the recording: type 3, left out
_CREATION_STAMPS = ("InstanceCreationDate", "InstanceCreationTime", "ContributionDateTime")


@dataclass(frozen=True)
class StudyIdentity:
    """The caller's identifiers and the date policy, for one export or one recording run."""

    patient_id: str
    study_uid: str
    dicom: DicomConfig

    @classmethod
    def from_config(cls, dicom: DicomConfig, patient_id: str | None = None,
                    study_uid: str | None = None) -> StudyIdentity:
        """The config's identifiers, overridden by the CLI's; a missing patient ID is a one-line error."""
        patient = patient_id if patient_id is not None else dicom.patient_id
        if not patient.strip():
            raise ConfigError("no patient ID: give the patient's pseudonym or worklist ID with --patient-id "
                              "or dicom.patient_id in the config")
        study = study_uid or dicom.study_instance_uid or generate_uid(prefix=_prefix(dicom.uid_root))
        return cls(patient, study, dicom)

    def new_uid(self) -> str:
        """A fresh series or instance UID: random, under the configured root."""
        return generate_uid(prefix=_prefix(self.dicom.uid_root))

    def dates(self, recorded: dt.datetime) -> tuple[str, str]:
        """(DA, TM) to write for a recording made at `recorded`; TM is '' unless the time is kept."""
        if self.dicom.keep_recording_time:
            return recorded.strftime("%Y%m%d"), recorded.strftime("%H%M%S")
        if self.dicom.dates is DatePolicy.SHIFT:
            return (recorded + dt.timedelta(days=self.dicom.date_shift_days)).strftime("%Y%m%d"), ""
        return f"{recorded.year:04d}0101", ""

    def apply(self, ds: Dataset, recorded: dt.datetime) -> None:
        """Patient, study and de-identification attributes, and the study and content dates."""
        date, time = self.dates(recorded)
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientID = self.patient_id
        ds.PatientName = self.dicom.patient_name
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.StudyInstanceUID = self.study_uid
        ds.StudyID = ""
        ds.AccessionNumber = self.dicom.accession_number
        ds.ReferringPhysicianName = ""
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
        ds.StudyTime = ds.SeriesTime = time
        ds.ContentTime = time or _DUMMY_TIME
        ds.Manufacturer = MANUFACTURER
        ds.SoftwareVersions = __version__
        ds.BurnedInAnnotation = "NO"
        ds.RecognizableVisualFeatures = "NO"
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = list(_METHOD)
        ds.DeidentificationMethodCodeSequence = [_code(value, meaning) for value, meaning in self._codes()]
        ds.LongitudinalTemporalInformationModified = self._temporal()

    def settle_dates(self, ds: Dataset, recorded: dt.datetime) -> None:
        """Every date and time anywhere in ds (sequences too) as the policy allows, whoever wrote it
        (highdicom stamps the SR's creation and contribution times): creation stamps go, others take
        the policy's date and time; empty ones (a birth date) stay empty."""
        date, time = self.dates(recorded)
        values = {"DA": date, "TM": time or _DUMMY_TIME, "DT": date + (time or _DUMMY_TIME)}
        for element in list(ds):
            if element.keyword in _CREATION_STAMPS:
                del ds[element.tag]
            elif element.VR in values and element.value not in ("", None):
                element.value = values[element.VR]
            elif element.VR == "SQ":
                for item in element.value:
                    self.settle_dates(item, recorded)

    def _codes(self) -> tuple[tuple[str, str], ...]:
        return (*_ALWAYS, _FULL_DATES if self.dicom.keep_recording_time else _MODIFIED_DATES)

    def _temporal(self) -> str:
        return "UNMODIFIED" if self.dicom.keep_recording_time else "MODIFIED"


def _prefix(root: str) -> str | None:
    """pydicom's prefix for a UID root: None gives 2.25 and a UUID."""
    return f"{root}." if root else None


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


@dataclass(frozen=True)
class Series:
    """One series of the export: its UID (generated), number in the study, modality and a plain description."""

    uid: str
    number: int
    modality: str
    description: str


def new_instance(sop_class: UID, transfer_syntax: UID, identity: StudyIdentity, series: Series, number: int,
                 recorded: dt.datetime) -> Dataset:
    """A dataset with its file meta, SOP, patient, study, series and de-identification attributes set."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = identity.new_uid()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.SOPClassUID = sop_class
    identity.apply(ds, recorded)
    ds.Modality = series.modality
    ds.SeriesInstanceUID = series.uid
    ds.SeriesNumber = series.number
    ds.SeriesDescription = series.description
    ds.InstanceNumber = number
    return ds
