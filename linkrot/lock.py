"""One run of a spider per database at a time: scheduled runs must never overlap.

A cron line fires whether or not last week's run has finished.  Each spider
takes an exclusive ``flock`` on ``<database>.<spider>.lock`` for its lifetime;
the kernel drops it when the process ends, even after SIGKILL, so a crashed
run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from .errors import RunLockedError


class RunLock:
    def __init__(self, db: str | Path, spider: str) -> None:
        self.db = Path(db)
        self.path = Path(f"{db}.{spider}.lock")
        self.spider = spider
        self._file: IO[str] | None = None

    def acquire(self, shared: bool = False) -> RunLock:
        """``shared``: a worker of a crawl shared through Redis (linkrot.scale); its fellow workers hold the
        lock with it, a run of its own cannot."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunLockedError(
                f"another {self.spider} run ({holder}) is still writing to {self.db}; "
                "not starting an overlapping one"
            ) from None
        if not shared:  # the holder's name; shared holders leave it alone
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
