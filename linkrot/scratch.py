"""What a big crawl keeps on disk instead of in memory, and the Scheduler that uses it.

Whatever grows with the site lives beside the run's database, in
``<database>.scratch/<spider>-<pid>/``: the scheduler's pending requests
(Scrapy's disk queues, ``SCHEDULER_DISK_QUEUE``) and the seen-set
(:class:`linkrot.store.DiskSeen`).  It is scratch, not Scrapy's ``JOBDIR``
resume mechanism: linkrot resumes a run from its own rows (:mod:`linkrot.run`),
so the directory is made empty when a process starts, removed when it ends, and
left-overs of killed processes (their pid is gone) are swept at the next start.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from scrapy.core.scheduler import Scheduler

logger = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Scratch:
    """The scratch directory of one crawling process."""

    def __init__(self, db: str | Path, spider: str) -> None:
        self.root = Path(f"{db}.scratch")
        self.dir = self.root / f"{spider}-{os.getpid()}"
        self.sweep()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)

    def sweep(self) -> None:
        """Remove the scratch of processes that died without cleaning up (SIGKILL, power loss)."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            pid = entry.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            self.root.rmdir()  # only when no other process uses it
        except OSError:
            pass


class DiskScheduler(Scheduler):
    """Scrapy's scheduler with its disk queues in the run's scratch directory.

    Pending requests are pickled to disk (``SCHEDULER_DISK_QUEUE``) instead of
    piling up in memory: on a site whose pages link widely, nearly every page is
    found long before it is fetched.  A spider opts in with ``disk_queue = True``
    (the backlinks spider streams its queue from SQLite and does not need it);
    a request that cannot be pickled stays in memory, as Scrapy does.
    """

    @classmethod
    def from_crawler(cls, crawler: Any) -> DiskScheduler:
        scheduler = super().from_crawler(crawler)
        from .run import Run  # the run owns the scratch directory

        run = crawler.get_extension(Run)
        if getattr(crawler.spider, "disk_queue", False) and run is not None and run.scratch is not None:
            scheduler.dqdir = str(run.scratch.path("requests"))
        return scheduler
