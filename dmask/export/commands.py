"""`dmask export dicom`: masked recordings into DICOM files, the PACS, or both.

Every input is checked and turned into instances before anything is written
or spooled, so a wrong file stops the command with nothing half done. With
`--pacs` the instances are spooled first and then delivered (with whatever
an earlier run left in the spool); what the PACS does not take stays
spooled, and the command fails with the reason in one line.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from tqdm import tqdm

from dmask.config import Config
from dmask.provenance import provenance_key
from dmask.errors import DeliveryError, InputError
from dmask.export.identity import StudyIdentity
from dmask.export.package import StudyExport
from dmask.export.spool import Spool, describe_delivery
from dmask.capture.media import AtomicFile, make_output_dir, refuse_existing, require_video
from dmask.wording import count



@dataclass(frozen=True)
class ExportResult:
    """What one command did, as the lines it prints."""

    lines: tuple[str, ...]


def export_dicom(videos: list[Path], config: Config, identity: StudyIdentity | None, signals: Path | None,
                 out_dir: Path | None, pacs: bool, progress: bool, overwrite: bool = False) -> ExportResult:
    """Export videos (masked MP4s dmask wrote) into out_dir and/or the configured PACS.

    With no videos and pacs, only what waits in the spool is delivered (no identity needed).
    """
    if out_dir is None and not pacs:
        raise InputError("nothing to do: give -o DIR to write DICOM files, --pacs to send them, or both")
    if not videos and not pacs:
        raise InputError("no recordings given: name the masked videos to export")
    if signals is not None and len(videos) != 1:
        raise InputError("--signals names one video's signals; give one video with it")
    for video in videos:
        require_video(video)
    earlier = sorted(out_dir.glob("*.dcm")) if out_dir is not None and out_dir.is_dir() and videos else []
    refuse_existing(earlier, "holds DICOM files of an earlier export", overwrite)
    made: list[tuple[Path, list[Dataset]]] = []
    lines = []
    if videos:
        export = StudyExport(identity, provenance_key(config, create=False))
        made = [(video, export.instances(video, signals)) for video in videos]
        lines.append(f"study {identity.study_uid}, patient {identity.patient_id}: "
                     f"{count(sum(len(i) for _, i in made), 'instance')} from {count(len(videos), 'recording')}")
    if out_dir is not None and made:
        for replaced in earlier:  # --overwrite: the folder holds this study alone, not two studies mixed
            replaced.unlink(missing_ok=True)
        lines.append(f"wrote {count(len(_write_files(made, out_dir)), 'DICOM file')} to {out_dir}")
    if pacs:
        lines.append(_deliver(config, [ds for _, instances in made for ds in instances], progress))
    return ExportResult(tuple(lines))


def _write_files(made: list[tuple[Path, list[Dataset]]], out_dir: Path) -> list[Path]:
    make_output_dir(out_dir)
    written = []
    for video, instances in made:
        for ds in instances:
            path = out_dir / f"{ds.SOPInstanceUID}.dcm"  # never the input's name, which may be a patient's
            with AtomicFile(path) as out:
                ds.save_as(out.file, enforce_file_format=True)
            written.append(path)
    return written


def _deliver(config: Config, instances: list[Dataset], progress: bool) -> str:
    """Spool the instances, then one delivery round of the whole spool; DeliveryError if anything is left."""
    spool = Spool(config.pacs.spool_dir)
    for ds in instances:
        spool.add(ds)
    total = sum(path.stat().st_size for path in spool.pending())
    with tqdm(total=total, unit="B", unit_scale=True, desc="to PACS", file=sys.stderr, leave=False,
              disable=None if progress else True) as bar:
        delivery = spool.deliver(config.pacs, progress=bar.update)  # nothing retries after the command
    line = describe_delivery(config.pacs, delivery, spool)
    if delivery.error:
        raise DeliveryError(f"{delivery.error} ({count(delivery.waiting, 'instance')} kept in {spool.directory} "
                            "for the next dmask export dicom --pacs or dmask record --pacs)")
    return line
