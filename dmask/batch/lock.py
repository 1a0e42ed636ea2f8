"""One `dmask batch` run per output folder, by an exclusive lock on its audit file.

Two runs on one DST_DIR broke each other (issue 26): each swept the partial
files it judged dead by their writers' command lines, and a spawned worker's
command line does not say "dmask", so one run deleted the other's output in
flight. The lock (flock on DST_DIR's audit trail, released by the kernel when
the run ends, however it ends) makes the second run stop at once, in one
line; and while a run holds it, every partial file in DST_DIR is its own or a
dead run's, so the sweep needs no guess about any process.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from dmask.batch.plan import AUDIT_NAME
from dmask.errors import InputError


@contextlib.contextmanager
def output_lock(dst: Path) -> Iterator[None]:
    """Hold DST_DIR's lock for the block; InputError (one line) if another run holds it."""
    with open(dst / AUDIT_NAME, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise InputError(f"{dst}: another dmask batch is writing into it; wait for it to finish, "
                             "or give another DST_DIR") from error
        yield
