"""`dmask batch SRC_DIR -o DST_DIR`: the plan, the skip rule, the pool, the progress bar, the audit and the summary.

An input is skipped when its newest audit entry is `done` for the same
input hash and config hash and its output is in place, so a rerun after a
crash or Ctrl-C masks only what was not finished. Every finished file is
in the audit the moment it is done; a failed one is recorded with its
reason and the batch goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
from tqdm import tqdm

from dmask.batch.audit import Audit, Entry, FileStatus
from dmask.batch.lock import output_lock
from dmask.batch.plan import AUDIT_NAME, Job, plan_jobs
from dmask.batch.pools import DaskPool, LocalPool
from dmask.batch.worker import Outcome, Task
from dmask.config import Config
from dmask.capture.media import AtomicFile, MediaKind, drop_dead_partials, make_output_dir, sha256_file
from dmask.provenance import config_hash, provenance_key
from dmask.wording import count, one_line


@dataclass(frozen=True)
class BatchSummary:
    """What a run did; seconds: its wall time, planning included."""

    done: int
    skipped: int
    failed: int
    frames: int
    failed_closed: int
    seconds: float
    audit: Path
    short: int = 0  # of done: written from damaged input (audit status SHORT)

    def line(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        damaged = f" ({self.short} of them short: damaged input)" if self.short else ""
        return (f"batch: {count(self.done, 'file')} masked{damaged}, {self.skipped} skipped (done before), {self.failed} failed; "
                f"{count(self.frames, 'frame')}, {self.failed_closed} failed closed; {rate:.1f} frames/s; "
                f"audit {self.audit}")


def _already_done(entry: Entry | None, source: Path, dst: Path, key: str) -> bool:
    return (entry is not None and entry.status is FileStatus.DONE and entry.config_sha256 == key
            and (dst / entry.output).is_file() and sha256_file(source) == entry.source_sha256)


def _frames_in(path: Path, kind: MediaKind) -> int:
    """The container's frame count, for the progress bar only (1 for a photo or an unreadable count)."""
    if kind is MediaKind.PHOTO:
        return 1
    capture = cv2.VideoCapture(str(path))
    try:
        return max(1, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def _placed(outcome: Outcome, dst: Path) -> Entry:
    """The entry, once an output sent back is written under DST_DIR (atomically, its hash checked)."""
    entry = outcome.entry
    if outcome.output is None:
        return entry
    if hashlib.sha256(outcome.output).hexdigest() != entry.output_sha256:
        return dataclasses.replace(entry, status=FileStatus.FAILED, reason="the output sent back does not match its hash")
    target = dst / entry.output
    target.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(target) as out:
        out.file.write(outcome.output)
    return entry


def run_batch(src: Path, dst: Path, config: Config, manifest: Path | None = None, workers: int | None = None,
              scheduler: str | None = None, progress: bool = True, send_back: bool = False) -> BatchSummary:
    """send_back: workers send outputs back to be written here (a DST_DIR they do not share)."""
    jobs = plan_jobs(src, dst, manifest)
    provenance_key(config)  # made or checked before any worker starts, which each seal their videos with it
    make_output_dir(dst)
    with output_lock(dst):
        return _run_locked(src, dst, jobs, config, workers, scheduler, progress, send_back)


def _run_locked(src: Path, dst: Path, jobs: list[Job], config: Config, workers: int | None, scheduler: str | None,
                progress: bool, send_back: bool) -> BatchSummary:
    """run_batch with DST_DIR's lock held: every partial file in it is a dead run's or this run's."""
    started = time.monotonic()
    drop_dead_partials(dst.rglob(".*"), all_dead=True)  # outputs a killed run left half-written: masked again below
    audit = Audit(dst / AUDIT_NAME)
    latest, key = audit.latest(), config_hash(config)
    refused = _refuse([job for job in jobs if job.refused], audit)
    jobs = [job for job in jobs if not job.refused]
    todo: list[Job] = [job for job in jobs if not _already_done(latest.get(job.source), src / job.source, dst, key)]
    estimates = {job.source: _frames_in(src / job.source, job.kind) for job in todo}
    tasks = [Task(job, str(src.resolve()), str(dst.resolve()), config, send_back) for job in todo]
    done, short, failed, frames, failed_closed = 0, 0, refused, 0, 0
    pool = DaskPool(scheduler) if scheduler else LocalPool(max(1, min(workers or os.cpu_count() or 1, len(todo) or 1)))
    try:
        with tqdm(total=sum(estimates.values()), unit="frame", desc=f"{count(len(todo), 'file')}", file=sys.stderr,
                  disable=None if progress else True, dynamic_ncols=True) as bar:
            for outcome in pool.run(tasks):
                entry = _placed(outcome, dst)
                audit.append(entry)
                if entry.status.written:
                    done, frames, failed_closed = done + 1, frames + entry.frames, failed_closed + entry.failed_closed
                if entry.status is FileStatus.SHORT:
                    short += 1
                    bar.write(one_line(f"dmask: {entry.source}: short: {entry.reason}"), file=sys.stderr)
                elif entry.status is FileStatus.FAILED:
                    failed += 1
                    bar.write(one_line(f"dmask: {entry.source}: failed: {entry.reason}"), file=sys.stderr)
                bar.update(estimates[entry.source])
                bar.set_postfix_str(f"{done + failed}/{len(todo)} files, {failed} failed")
    finally:
        pool.close()
        drop_dead_partials(dst.rglob(".*"), all_dead=True)  # of workers lost during this run, their files redone
    return BatchSummary(done, len(jobs) - len(todo), failed, frames, failed_closed, time.monotonic() - started,
                        audit.path, short)


def _refuse(jobs: list[Job], audit: Audit) -> int:
    """Record each refused job in the audit and say so, one line each; how many."""
    for job in jobs:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        audit.append(Entry(job.source, "", 0, FileStatus.REFUSED, job.refused, started=now, ended=now))
        print(one_line(f"dmask: {job.source}: refused: {job.refused}"), file=sys.stderr)
    return len(jobs)


def verify(dst: Path) -> list[str]:
    """What no longer matches the audit: each done output re-hashed; one line per problem, none when all match."""
    audit = Audit(dst / AUDIT_NAME)
    if not audit.path.is_file():
        return [f"{audit.path}: no audit here; give the DST_DIR of a dmask batch run"]
    problems = []
    for entry in audit.latest().values():
        if not entry.status.written:
            continue
        output = dst / entry.output
        if not output.is_file():
            problems.append(f"{output}: missing (masked from {entry.source})")
        elif sha256_file(output) != entry.output_sha256:
            problems.append(f"{output}: changed after the run (its sha256 no longer matches the audit)")
    return problems
