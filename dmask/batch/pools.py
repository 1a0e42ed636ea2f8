"""Where a batch's files are masked: local worker processes (the embedded default) or a Dask cluster.

Both take whole-file tasks (worker.run_task) and yield their outcomes as
files finish, in whatever order they finish. Dask was chosen over Ray: dask
and distributed are pure Python, and their compiled dependencies (tornado,
msgpack, psutil, markupsafe) have cp310 aarch64 and x86-64 wheels, 3.5 MB in
all for aarch64, where Ray 2.60's one aarch64 wheel is 78 MB (both checked
with `pip download --platform manylinux2014_aarch64 --python-version 3.10`);
and a cluster is a scheduler address any worker machine joins with
`dask worker ADDRESS`. Worker loss: Dask reschedules a lost worker's task on
another worker; the local pool starts a fresh pool and retries the files in
flight once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from dmask.batch.audit import Entry, FileStatus
from dmask.batch.worker import Outcome, Task, run_task
from dmask.errors import DmaskError, install_hint

RETRIES = 1  # per file, after a worker process died under it


class LocalPool:
    """`workers` processes on this machine (spawned: nothing of this process's state is forked into them)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def run(self, tasks: list[Task]) -> Iterator[Outcome]:
        attempts = {id(task): 0 for task in tasks}
        pending = list(tasks)
        while pending:
            futures: dict[Future, Task] = {self._executor.submit(run_task, task): task for task in pending}
            pending = []
            for future in as_completed(futures):
                task = futures[future]
                try:
                    yield future.result()
                except BrokenProcessPool:  # a worker died: this pool is gone, its files in flight are retried
                    if attempts[id(task)] < RETRIES:
                        attempts[id(task)] += 1
                        pending.append(task)
                    else:
                        yield _lost(task)
            if pending:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = self._new()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """The workers of a Dask cluster at a scheduler address; they must see SRC_DIR and DST_DIR at the same paths."""

    def __init__(self, scheduler: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError as error:
            raise DmaskError(f"dask.distributed is not installed ({error}); "
                             f"install the batch extra: {install_hint('batch')}") from error
        try:
            self._client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise DmaskError(f"{scheduler}: no Dask scheduler answers ({error}); check --scheduler") from error

    def run(self, tasks: list[Task]) -> Iterator[Outcome]:
        from dask.distributed import as_completed as dask_completed

        futures = {self._client.submit(run_task, task, pure=False, retries=RETRIES): task for task in tasks}
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception:  # the scheduler gave up on the file (KilledWorker after its retries)
                yield _lost(futures[future])

    def close(self) -> None:
        self._client.close()


def _lost(task: Task) -> Outcome:
    return Outcome(Entry(source=task.job.source, source_sha256="", source_bytes=0, status=FileStatus.FAILED,
                         reason="the worker masking it died, and so did its retry"))
