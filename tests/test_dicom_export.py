"""`dmask export dicom -o DIR`: the instances themselves, read back with pydicom and checked by dcmtk and dicom3tools."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest
from pydicom import dcmread
from pydicom.encaps import generate_fragments
from pydicom.uid import MPEG4HP41, MPEG4HP422D, EncapsulatedPDFStorage, VideoPhotographicImageStorage

from dmask.errors import InputError
from dmask.export.document import read_pdf
from dmask.export.video import H264Stream, decode_frames, transfer_syntax
from dmask.provenance import ProvenanceKey, seal_file
from dmask.video_out import mark_masked
from support import assert_error, decoded_frames, dmask, missing

STUDY = "1.2.826.0.1.3680043.10.999.1"


@pytest.fixture(scope="module")
def exported(masked_visit, tmp_path_factory):
    """The visit exported to files: {modality: dataset}, and the directory."""
    video, signals = masked_visit
    out = tmp_path_factory.mktemp("dicom")
    result = dmask(out, "export", "dicom", video, "--signals", signals, "-o", out, "--patient-id", "PSEUDO-0042",
                   "--study-uid", STUDY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"study {STUDY}, patient PSEUDO-0042: 3 instances from 1 recording",
                                          f"wrote 3 DICOM files to {out}"]
    files = {dcmread(path, stop_before_pixels=True).Modality: path for path in out.glob("*.dcm")}
    assert sorted(files) == ["DOC", "SR", "XC"]
    datasets = {name: dcmread(path) for name, path in files.items()}
    # named by their UIDs: the input's name may be a patient's (issue 26: Doe_John_MRN123456.dcm)
    assert all(path.name == f"{datasets[name].SOPInstanceUID}.dcm" for name, path in files.items())
    return datasets, files


def test_the_video_is_the_mp4s_h264_in_one_fragment_frame_for_frame(exported, masked_visit):
    datasets, _ = exported
    ds = datasets["XC"]
    assert ds.SOPClassUID == VideoPhotographicImageStorage
    assert ds.file_meta.TransferSyntaxUID == MPEG4HP41
    offsets, *fragments = generate_fragments(ds.PixelData)
    assert offsets == b""  # the Basic Offset Table is empty, as PS3.5 8.2.8 asks
    assert len(fragments) == 1 and fragments[0].startswith(b"\x00\x00\x00\x01")  # one Annex B fragment
    mp4 = decoded_frames(masked_visit[0])
    frames = decode_frames(ds)
    assert (ds.NumberOfFrames, ds.Rows, ds.Columns) == (len(mp4), *mp4[0].shape[:2])
    assert len(frames) == len(mp4)
    for number, (ours, theirs) in enumerate(zip(frames, mp4)):
        assert (ours == theirs).all(), f"frame {number} differs from the MP4's"
    assert float(ds.FrameTime) == pytest.approx(1000 / 30, abs=1e-3)


def test_every_instance_says_it_is_de_identified_with_the_callers_identifiers(exported):
    datasets, _ = exported
    for ds in datasets.values():
        assert ds.PatientID == "PSEUDO-0042" and ds.StudyInstanceUID == STUDY
        assert ds.RecognizableVisualFeatures == "NO" and ds.BurnedInAnnotation == "NO"
        assert ds.PatientIdentityRemoved == "YES"
        codes = {(item.CodingSchemeDesignator, item.CodeValue) for item in ds.DeidentificationMethodCodeSequence}
        assert {("DCM", "113100"), ("DCM", "113102")} <= codes
        assert ds.DeidentificationMethod
        stamps = dates_and_times(ds)
        year = f"{dt.date.today().year}0101"
        assert {value for vr, value in stamps if vr == "DA"} == {year, ""}  # "": the birth date
        assert {value for vr, value in stamps if vr == "TM"} <= {"", "000000"}
        assert {value for vr, value in stamps if vr == "DT"} <= {f"{year}000000"}
        assert ds.PatientBirthDate == "" and ds.PatientSex == ""
        assert "visit" not in str(ds).lower()  # the input's file name is nowhere in it
    assert len({ds.SeriesInstanceUID for ds in datasets.values()}) == 3
    assert len({ds.SOPInstanceUID for ds in datasets.values()}) == 3


def dates_and_times(ds) -> list[tuple[str, str]]:
    """(VR, value) of every DA, TM and DT element anywhere in ds, sequences included."""
    found = []
    for element in ds:
        if element.VR in ("DA", "TM", "DT"):
            found.append((element.VR, element.value))
        elif element.VR == "SQ":
            found += [stamp for item in element.value for stamp in dates_and_times(item)]
    return found


def test_the_summary_pdf_and_the_sr_carry_the_signals(exported, masked_visit):
    datasets, _ = exported
    pdf = datasets["DOC"]
    assert pdf.SOPClassUID == EncapsulatedPDFStorage and pdf.MIMETypeOfEncapsulatedDocument == "application/pdf"
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(read_pdf(pdf)))
    assert "/CreationDate" not in reader.metadata and "/ModDate" not in reader.metadata
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Clinical summary of a masked recording" in text
    assert "the face was tracked in 16 of 16 frames" in text
    assert "MRD1 (mm)" in text and "blinks (count, per minute)" in text
    sr = datasets["SR"]
    groups = sr.ContentSequence[-1].ContentSequence  # Imaging Measurements: one group per finding site
    items = [item for group in groups for item in group.ContentSequence]
    names = {item.ConceptNameCodeSequence[0].CodeValue for item in items if item.ValueType == "NUM"}
    assert {"BLINK-RATE", "DEV-H"} <= names
    # a lid level within normal limits is withheld (the population's is no measurement of the patient) and said so
    said = {(item.ConceptNameCodeSequence[0].CodeValue, item.ConceptCodeSequence[0].CodeMeaning)
            for item in items if item.ValueType == "CODE"}
    for lid in ("MRD1", "MRD2", "PFH"):
        assert (lid in names) != ((lid, "Within normal limits") in said), lid
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == datasets["XC"].SOPInstanceUID


def test_dcmtk_and_dicom3tools_read_every_file(exported):
    _, files = exported
    if not (shutil.which("dcmdump") and shutil.which("dciodvfy")):
        missing("dcmtk's dcmdump and dicom3tools' dciodvfy are not installed (.ci/run installs them: tools/install_test_services.sh)")
    dump = subprocess.run(["dcmdump", files["XC"]], capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    assert "=MPEG4HighProfile/Level4.1" in dump.stdout and "=VideoPhotographicImageStorage" in dump.stdout
    for path in files.values():
        verdict = subprocess.run(["dciodvfy", path], capture_output=True, text=True)
        errors = [line for line in verdict.stderr.splitlines() if line.startswith("Error")]
        assert errors == [], f"{path.name}: {errors}"


def retagged(source: Path, target: Path) -> Path:
    """source's video packets copied unchanged into target, tagged as dmask tags its videos (issue 26's forgery)."""
    with av.open(str(source)) as reading, av.open(str(target), "w") as writing:
        mark_masked(writing)
        stream = writing.add_stream_from_template(reading.streams.video[0])
        for packet in reading.demux(reading.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                writing.mux(packet)
    return target


def resealed(source: Path, target: Path) -> Path:
    """source with its seal replaced by another appliance's."""
    target.write_bytes(source.read_bytes()[:-65])
    seal_file(target, ProvenanceKey.generate())
    return target


def one_byte_changed(source: Path, target: Path) -> Path:
    """source with one byte of its frames changed (the 100th from the end before the seal)."""
    data = bytearray(source.read_bytes())
    data[-165] ^= 0x01
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("forge, problem", [
    (lambda raw, visit, path: raw, "it carries no dmask seal"),
    (lambda raw, visit, path: retagged(raw, path), "it carries no dmask seal"),
    (lambda raw, visit, path: retagged(visit, path), "it carries no dmask seal"),
    (lambda raw, visit, path: resealed(visit, path), "it was sealed by another appliance (key "),
    (lambda raw, visit, path: one_byte_changed(visit, path), "its content changed after dmask sealed it"),
], ids=["camera file", "camera file with dmask's tag", "masked video remuxed", "another appliance's seal",
        "one byte changed"])
def test_only_a_video_this_appliance_sealed_is_exported(shared_data, masked_visit, tmp_path, forge, problem):
    """A tag proves nothing (issue 26, defect 9): a camera file remuxed with dmask's tag was exported as free of
    recognisable features. Export asks for the seal, which covers every byte of the file, under this box's key."""
    video = forge(shared_data / "videos" / "lp_driving_d1.mp4", masked_visit[0], tmp_path / "forged.mp4")
    result = dmask(tmp_path, "export", "dicom", video, "--signals", masked_visit[1], "-o", tmp_path / "out",
                   "--patient-id", "P")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"dmask: error: {video}: not a video this appliance masked as it stands ({problem}")
    assert result.stderr.endswith("); export only the MP4s that dmask mask, batch or record wrote here, unchanged, "
                                  "never a camera's file\n")
    assert not (tmp_path / "out").exists()


def test_a_folder_an_earlier_export_filled_is_refused_and_replaced_with_overwrite(exported, masked_visit):
    """One overwrite rule (issue 29): a second export into the folder added a second study beside the first."""
    video, signals = masked_visit
    out = next(iter(exported[1].values())).parent
    before = sorted(out.glob("*.dcm"))
    again = ("export", "dicom", video, "--signals", signals, "-o", out, "--patient-id", "PSEUDO-0042")
    assert_error(dmask(out, *again), f"{before[0]} (and 2 more): already holds DICOM files of an earlier export; "
                                     "pass --overwrite to replace it, or choose another name")
    assert sorted(out.glob("*.dcm")) == before
    result = dmask(out, *again, "--overwrite")
    assert result.returncode == 0, result.stderr
    after = sorted(out.glob("*.dcm"))
    assert len(after) == 3 and not set(after) & set(before)


def test_no_patient_id_and_a_bad_study_uid_are_one_line_each(masked_visit, tmp_path):
    video, signals = masked_visit
    result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "-o", tmp_path)
    assert_error(result, "no patient ID: give the patient's pseudonym or worklist ID with --patient-id "
                         "or dicom.patient_id in the config")
    result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "-o", tmp_path, "--patient-id", "P",
                   "--study-uid", "1.02.3")
    assert_error(result, "--study-uid: '1.02.3' is not a UID (numbers separated by dots, no leading zeros, "
                         "like 1.2.826.0.1.3680043.10.1)")
    (tmp_path / "bad.yaml").write_text(json.dumps({"pacs": {"called_ae": "A NAME LONGER THAN 16"}}))
    result = dmask(tmp_path, "export", "dicom", video, "-o", tmp_path, "--config", "bad.yaml")
    assert_error(result, "bad.yaml:1 pacs.called_ae: an AE title is 1 to 16 printable ASCII characters "
                         "without a backslash; got 'A NAME LONGER THAN 16'")


def test_dates_follow_the_policy(masked_visit, tmp_path):
    video, signals = masked_visit
    (tmp_path / "shift.yaml").write_text("dicom:\n  patient_id: P\n  dates: shift\n  date_shift_days: -400\n")
    result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "-o", tmp_path, "--config", "shift.yaml")
    assert result.returncode == 0, result.stderr
    (ds,) = [d for d in (dcmread(p, stop_before_pixels=True) for p in tmp_path.glob("*.dcm")) if d.Modality == "XC"]
    shifted = (dt.datetime.fromtimestamp(video.stat().st_mtime) - dt.timedelta(days=400)).strftime("%Y%m%d")
    assert ds.StudyDate == shifted and ds.StudyTime == ""
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    (tmp_path / "full.yaml").write_text("dicom:\n  patient_id: P\n  keep_recording_time: true\n")
    result = dmask(tmp_path, "export", "dicom", video, "-o", tmp_path, "--config", "full.yaml")
    assert_error(result, "full.yaml:3 dicom.keep_recording_time: True (default False) lets more of a person's own "
                         "face through; to accept that, list dicom.keep_recording_time under "
                         "acknowledge_weaker_privacy")


@pytest.mark.parametrize(("size", "level", "syntax"), [((1280, 720), 31, MPEG4HP41), ((1920, 1080), 40, MPEG4HP41),
                                                      ((1920, 1080), 42, MPEG4HP422D), ((1080, 1920), 41, MPEG4HP41)])
def test_transfer_syntax_follows_the_streams_level(size, level, syntax):
    stream = H264Stream(b"", *size, Fraction(30), 1, 100, level)
    assert transfer_syntax(stream, Path("v.mp4")) == syntax


def test_beyond_1080p_is_refused_with_what_to_do():
    with pytest.raises(InputError, match=r"v.mp4: H.264 level 5.1 at 3840x2160 is beyond .* record or mask at 1080p"):
        transfer_syntax(H264Stream(b"", 3840, 2160, Fraction(30), 1, 100, 51), Path("v.mp4"))
