"""Delivery to a real PACS: Debian's Orthanc on loopback, started by these tests (tests/orthanc.py).

What is sent is read back from Orthanc (REST, C-FIND) and compared with the
MP4 frame by frame; Orthanc is killed in the middle of a C-STORE and the
spool keeps the instance until a restarted Orthanc holds it, once.
"""

from __future__ import annotations

import io
import signal
import subprocess
import time

import pytest
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pypdf import PdfReader

from dmask.config import load_config
from dmask.export.dimse import associate
from dmask.export.document import read_pdf
from dmask.export.identity import StudyIdentity
from dmask.export.package import StudyExport
from dmask.export.spool import Spool
from dmask.export.video import decode_frames
from dmask.provenance import provenance_key
from orthanc import AET, Orthanc
from support import decoded_frames, dmask, dmask_command, dmask_env
from test_recorder import publish_until, start_publisher

pytestmark = pytest.mark.slow  # an Orthanc server: `pytest -m "not slow"` leaves it out


@pytest.fixture
def orthanc(tmp_path):
    pacs = Orthanc(tmp_path / "orthanc")
    pacs.start()
    yield pacs
    pacs.kill()


def read(data: bytes):
    return dcmread(DicomBytesIO(data))


def test_an_export_reaches_orthanc_and_comes_back_frame_for_frame(orthanc, masked_visit, tmp_path):
    video, signals = masked_visit
    config = orthanc.dmask_config(tmp_path / "dmask.yaml", tmp_path / "spool")
    result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "--pacs", "--config", config,
                   "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"PACS {AET} at 127.0.0.1:{orthanc.dicom_port}: sent 3 instances"
    stored = {item["MainDicomTags"]["SOPInstanceUID"]: item["ID"] for item in orthanc.instances()}
    assert len(stored) == 3
    datasets = [read(orthanc.file(orthanc_id)) for orthanc_id in stored.values()]
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert sorted(ds.Modality for ds in datasets) == ["DOC", "SR", "XC"]
    video_ds = next(ds for ds in datasets if ds.Modality == "XC")
    assert video_ds.RecognizableVisualFeatures == "NO" and video_ds.PatientIdentityRemoved == "YES"
    mp4 = decoded_frames(video)
    frames = decode_frames(video_ds)
    assert len(frames) == len(mp4) == video_ds.NumberOfFrames
    assert all((a == b).all() for a, b in zip(frames, mp4))
    summary = next(ds for ds in datasets if ds.Modality == "DOC")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(read_pdf(summary))).pages)
    assert "the face was tracked in 16 of 16 frames" in text and "MRD1 (mm)" in text
    report = next(ds for ds in datasets if ds.Modality == "SR")
    evidence = report.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == video_ds.SOPInstanceUID
    assert list((tmp_path / "spool").glob("*.dcm")) == []
    # and our own C-FIND finds each one: a second export of the same instances would not send them again
    with associate(load_config(config).pacs, [], None) as link:
        assert all(link.holds(ds) for ds in datasets)


def test_stow_rs_delivers_and_never_sends_twice(orthanc, masked_visit, tmp_path):
    video, signals = masked_visit
    config = orthanc.dmask_config(tmp_path / "dmask.yaml", tmp_path / "spool", protocol="stow")
    result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "--pacs", "--config", config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"PACS at {orthanc.url}/dicom-web: sent 3 instances"
    assert len(orthanc.instances()) == 3
    spool = Spool(tmp_path / "spool")
    for item in orthanc.instances():  # as if the spool had kept them after a crash
        spool.add(read(orthanc.file(item["ID"])))
    delivery = spool.deliver(load_config(config).pacs)
    assert (delivery.sent, delivery.held, delivery.waiting, delivery.error) == (0, 3, 0, None)


@pytest.mark.parametrize(("change", "message"), [
    ({"port": "free"}, "no DICOM association (nothing answers there, or it is not a DICOM port); "
                       "check pacs.host and pacs.port, and that the PACS is up"),
    ({"called_ae": "NOT_THE_PACS"}, "association rejected (Called AE title not recognised); "
                                    "pacs.called_ae is 'NOT_THE_PACS'; use the PACS's own AE title"),
    ({"calling_ae": "STRANGER"}, "association rejected (Calling AE title not recognised); "
                                 "pacs.calling_ae is 'STRANGER'; ask the PACS administrator to register it"),
])
def test_wrong_ae_titles_or_port_are_one_line_and_lose_nothing(orthanc, masked_visit, tmp_path, change, message):
    from support import free_port

    change = {key: free_port() if value == "free" else value for key, value in change.items()}
    video, signals = masked_visit
    config = orthanc.dmask_config(tmp_path / "dmask.yaml", tmp_path / "spool", **change)
    result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "--pacs", "--config", config)
    pacs = load_config(config).pacs
    where = f"PACS {pacs.called_ae} at 127.0.0.1:{pacs.port}"
    assert result.returncode == 2
    assert result.stderr == (f"dmask: error: {where}: {message} (3 instances kept in {tmp_path / 'spool'} "
                             "for the next dmask export dicom --pacs or dmask record --pacs)\n")
    assert len(list((tmp_path / "spool").glob("*.dcm"))) == 3 and orthanc.instances() == []
    status = dmask(tmp_path, "status", "tcp://127.0.0.1:1", "--count", "1", "--timeout", "0.2", "--config", config)
    assert status.stdout.startswith(f"PACS spool {tmp_path / 'spool'}: 3 instances waiting (")
    assert f"failed: {where}: {message}" in status.stdout
    # put right, the next run delivers the backlog
    fixed = orthanc.dmask_config(tmp_path / "fixed.yaml", tmp_path / "spool")
    result = dmask(tmp_path, "export", "dicom", "--pacs", "--config", fixed)
    assert result.returncode == 0, result.stderr
    assert len(orthanc.instances()) == 3


def test_dicom_tls_delivers_and_plain_tcp_to_a_tls_port_is_one_line(masked_visit, tmp_path):
    video, signals = masked_visit
    pacs = Orthanc(tmp_path / "orthanc", tls=True)
    pacs.start()
    try:
        config = pacs.dmask_config(tmp_path / "tls.yaml", tmp_path / "spool")
        result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "--pacs", "--config", config)
        assert result.returncode == 0, result.stderr
        assert len(pacs.instances()) == 3
        plain = pacs.dmask_config(tmp_path / "plain.yaml", tmp_path / "spool", tls_ca_file="")
        result = dmask(tmp_path, "export", "dicom", video, "--signals", signals, "--pacs", "--config", plain)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
        assert "no DICOM association" in result.stderr and "3 instances kept" in result.stderr
    finally:
        pacs.kill()


def test_orthanc_killed_mid_send_keeps_the_instance_and_it_is_delivered_once(orthanc, masked_visit, tmp_path):
    video, signals = masked_visit
    config = load_config(orthanc.dmask_config(tmp_path / "dmask.yaml", tmp_path / "spool")).pacs
    spool = Spool(config.spool_dir)
    defaults = load_config(None)
    export = StudyExport(StudyIdentity.from_config(defaults.dicom, "PSEUDO-0042"), provenance_key(defaults, create=False))
    instance = export.instances(video, signals)[0]
    path = spool.add(instance)
    sent: list[int] = []

    def kill_after_first_pdu(size: int) -> None:
        sent.append(size)
        if len(sent) == 1:
            orthanc.kill()

    delivery = spool.deliver(config, progress=kill_after_first_pdu)
    assert delivery.sent == 0 and delivery.waiting == 1
    assert "connection" in delivery.error or "association" in delivery.error, delivery.error
    assert path.is_file() and len(sent) >= 1
    assert sum(sent) < path.stat().st_size  # it died part way
    orthanc.start()
    assert orthanc.instances() == []
    delivery = spool.deliver(config)
    assert (delivery.sent, delivery.held, delivery.waiting, delivery.error) == (1, 0, 0, None)
    assert [item["MainDicomTags"]["SOPInstanceUID"] for item in orthanc.instances()] == [instance.SOPInstanceUID]
    assert spool.deliver(config) == type(delivery)(0, 0, 0, None)


def test_dmask_record_pacs_delivers_each_segment(orthanc, tmp_path):
    publisher = start_publisher()
    config = orthanc.dmask_config(tmp_path / "dmask.yaml", tmp_path / "spool")
    process = subprocess.Popen(
        dmask_command("record", publisher.endpoints[0], "-o", "visit.mp4", "--segment-minutes", "0.01",
                      "--pacs", "--config", config),
        cwd=tmp_path, env=dmask_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # 18 frames a segment at 30 fps
        publish_until(publisher, lambda: len(list(tmp_path.glob("visit-*.mp4"))) >= 2, "two finished segments")
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        publisher.close()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    videos = sorted(tmp_path.glob("visit-*.mp4"))
    assert stdout.splitlines()[-1] == (f"{len(videos)} segments spooled; PACS {AET} at 127.0.0.1:{orthanc.dicom_port}: "
                                       f"sent {2 * len(videos)} instances")
    stored = [read(orthanc.file(item["ID"])) for item in orthanc.instances()]
    by_number = {ds.InstanceNumber: ds for ds in stored if ds.Modality == "XC"}
    assert sorted(by_number) == list(range(1, len(videos) + 1))
    for number, path in enumerate(videos, 1):  # no face in these frames: a video and a PDF that says so each
        assert len(decode_frames(by_number[number])) == len(decoded_frames(path))
    assert sorted(ds.Modality for ds in stored) == ["DOC"] * len(videos) + ["XC"] * len(videos)
    assert len({ds.StudyInstanceUID for ds in stored}) == 1
