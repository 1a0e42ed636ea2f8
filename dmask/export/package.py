"""One study's instances for masked recordings: the video, its clinical summary (PDF) and key measurements (SR).

A StudyExport belongs to one command: `dmask export dicom` (all its files)
or one `dmask record --pacs` run (all its segments). Its three series (video,
summary, measurements) are made once, so every recording becomes the next
instance of each, all in the caller's study, each SR referencing its video.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydicom.dataset import Dataset

from dmask.errors import InputError
from dmask.clinical.recording import NoFaceTracked, load_recording
from dmask.clinical.summary import summarise
from dmask.export.document import pdf_instance, summary_pdf
from dmask.export.identity import Series, StudyIdentity
from dmask.export.report_sr import measurement_report
from dmask.export.video import video_instance
from dmask.capture.media import signals_path
from dmask.provenance import ProvenanceKey


class StudyExport:
    """Turns masked recordings into linked instances of the caller's study."""

    def __init__(self, identity: StudyIdentity, key: ProvenanceKey) -> None:
        """key: the appliance's provenance key; only videos it sealed are exported (dmask.provenance)."""
        self.identity = identity
        self.key = key
        self.video = Series(identity.new_uid(), 1, "XC", "Masked face video")
        self.summary = Series(identity.new_uid(), 2, "DOC", "Clinical summary")
        self.measurements = Series(identity.new_uid(), 3, "SR", "Key measurements")
        self._recordings = 0

    def instances(self, video: Path, signals: Path | None = None) -> list[Dataset]:
        """The video, its PDF and (where a face was tracked) its SR; signals: default the video's sidecar."""
        signals = signals or signals_path(video)
        if not signals.is_file():
            raise InputError(f"{signals}: no signals beside {video.name}; give --signals with the CSV "
                             "dmask mask wrote for it")
        self._recordings += 1
        number = self._recordings
        recorded = dt.datetime.fromtimestamp(video.stat().st_mtime)
        label = f"recording {number}"
        video_ds = video_instance(video, self.key, self.identity, self.video, number, recorded)
        try:
            recording = load_recording(signals)
        except NoFaceTracked:
            recording = None
        summary = summarise(recording) if recording is not None else None
        made = [video_ds, pdf_instance(summary_pdf(recording, summary, label), self.identity, self.summary, number,
                                       recorded, f"Clinical summary, {label}")]
        if summary is not None:  # something was measured: the report of measurements
            made.append(measurement_report(summary, video_ds, self.identity, self.measurements, number, recorded))
        for ds in made:
            self.identity.settle_dates(ds, recorded)
        return made
