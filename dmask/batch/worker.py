"""One whole file masked in a worker process: the unit of work local pools and Dask workers run.

A worker loads the models once (per process, per config) and keeps them for
every file it is given; frames never leave the worker, only the file's
counts and hashes do. The output is written atomically under DST_DIR
(shared storage for a cluster), so a worker killed mid-file leaves no
output, only its hidden partial, which the file's retry replaces. Any
failure, expected or not, comes back as a failed result with a one-line
reason instead of stopping the batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dmask import __version__
from dmask.batch.audit import Entry, FileStatus
from dmask.batch.plan import Job
from dmask.config import Config
from dmask.errors import DmaskError
from dmask.capture.media import check_decodable, ensure_writable_dir, sha256_file
from dmask.provenance import config_hash, source_commit

_MODELS: dict[str, object] = {}  # this process's models, by config hash


@dataclass(frozen=True)
class Task:
    """What a worker needs: the job, the two roots (as the worker sees them) and the config.
    send_back: write the output in a scratch folder of the worker's and send it back, for a
    DST_DIR the workers do not share."""

    job: Job
    src: str
    dst: str
    config: Config
    send_back: bool = False


@dataclass(frozen=True)
class Outcome:
    """A finished task: its audit entry, and the output's bytes when the task sends it back."""

    entry: Entry
    output: bytes | None = None


def run_task(task: Task) -> Outcome:
    """The unit a pool runs: mask_one, writing under DST_DIR or into a scratch folder sent back."""
    if not task.send_back:
        return Outcome(mask_one(task))
    with tempfile.TemporaryDirectory(prefix="dmask-batch-") as scratch:
        entry = mask_one(dataclasses.replace(task, dst=scratch))
        return Outcome(entry, (Path(scratch) / entry.output).read_bytes() if entry.status.written else None)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _models(config: Config, key: str):
    if key not in _MODELS:
        from dmask.models import ModelSet

        _MODELS[key] = ModelSet.load(config)
    return _MODELS[key]


def mask_one(task: Task) -> Entry:
    """Mask task's file; the audit entry for it, done or failed."""
    from dmask.offline import OfflineMasker

    job, config = task.job, task.config
    source, output = Path(task.src) / job.source, Path(task.dst) / job.output
    key = config_hash(config)
    started = _now()
    common = dict(source=job.source, dmask_version=__version__, commit=source_commit(), config_sha256=key,
                  started=started)
    try:
        digest, size = sha256_file(source), source.stat().st_size
    except OSError as error:
        return Entry(**common, source_sha256="", source_bytes=0, status=FileStatus.FAILED,
                     reason=f"cannot read it ({error.strerror})", ended=_now())
    try:
        check_decodable(source, config.input.max_photo_megapixels, config.input.max_video_megapixels)
        output.parent.mkdir(parents=True, exist_ok=True)
        ensure_writable_dir(output.parent)
        masker = OfflineMasker(config, _models(config, key), None, progress=False)
        masker.mask_file(source, output)
        summary = masker.summary()
    except DmaskError as error:
        return Entry(**common, source_sha256=digest, source_bytes=size, status=FileStatus.FAILED,
                     reason=_relative(str(error), task), ended=_now())
    except Exception as error:  # a bug: recorded for this file, and the batch goes on
        reason = _relative(f"{type(error).__name__}: {error}".splitlines()[0], task)
        return Entry(**common, source_sha256=digest, source_bytes=size, status=FileStatus.FAILED,
                     reason=f"{reason} (a bug; please report it)", ended=_now())
    codec = next(iter(summary.codecs)).value if summary.codecs else ""
    status, reason = (FileStatus.SHORT, _relative(summary.short[0], task)) if summary.short else (FileStatus.DONE, "")
    return Entry(**common, source_sha256=digest, source_bytes=size, status=status, reason=reason, output=job.output,
                 output_sha256=sha256_file(output), frames=summary.frames, faces=summary.faces,
                 failed_closed=summary.failed_closed, no_face=summary.no_face, codec=codec, ended=_now())


def _relative(reason: str, task: Task) -> str:
    """A reason with the roots' absolute paths taken out: the audit names files relative to them only."""
    return reason.replace(task.src.rstrip("/") + "/", "").replace(task.dst.rstrip("/") + "/", "")
