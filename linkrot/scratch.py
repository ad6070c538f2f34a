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

from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.squeues import _PickleFifoSerializationDiskQueue
from scrapy.utils.request import request_from_dict

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


def memory_requests(settings: Any) -> int:
    from .config import as_int

    return as_int("LINKROT_MEMORY_REQUESTS", settings.get("LINKROT_MEMORY_REQUESTS", 10_000))


class DiskScheduler(Scheduler):
    """Scrapy's scheduler with its disk queues in the run's scratch directory.

    Pending requests beyond the first ``LINKROT_MEMORY_REQUESTS`` are pickled to disk
    (``SCHEDULER_DISK_QUEUE``) instead of piling up in memory: on a site whose pages
    link widely, nearly every page is found long before it is fetched.  The first
    ones stay in memory because pickling every request cost a twentieth of a crawl's
    CPU (measured at 20,000 pages) and most sites never need more.  A spider opts in
    with ``disk_queue = True`` (the backlinks spider streams its queue from SQLite
    and does not need it); a request that cannot be pickled stays in memory, as
    Scrapy does.
    """

    memory_requests = 0

    def _write_dqs_state(self, dqdir: str, state: Any) -> None:
        """Nothing to keep: the queue is scratch, not a point to resume from (linkrot resumes from its rows)."""

    def _dqpush(self, request: Any) -> bool:
        if len(self.mqs) < self.memory_requests:
            return False  # into the memory queue
        return super()._dqpush(request)

    @classmethod
    def from_crawler(cls, crawler: Any) -> DiskScheduler:
        scheduler = super().from_crawler(crawler)
        from .run import Run  # the run owns the scratch directory

        run = crawler.get_extension(Run)
        if getattr(crawler.spider, "disk_queue", False) and run is not None and run.scratch is not None:
            scheduler.dqdir = str(run.scratch.path("requests"))
            scheduler.memory_requests = memory_requests(crawler.settings)
        return scheduler


def _method_name(spider: Any, func: Any) -> str | None | bool:
    """The name of a spider method (None for no callback); False: something else, pickle it Scrapy's way."""
    if func is None:
        return None
    name = getattr(func, "__name__", "")
    bound = getattr(spider, name, None)
    if getattr(bound, "__func__", None) is getattr(func, "__func__", False):
        return name
    return False


def _plain(spider: Any, request: Request) -> tuple | None:
    """A request of linkrot's spiders as a small tuple (no body, headers, cookies: the common case)."""
    if (
        type(request) is not Request
        or request.body
        or request.headers
        or request.cookies
        or request.cb_kwargs
    ):
        return None
    callback, errback = _method_name(spider, request.callback), _method_name(spider, request.errback)
    if callback is False or errback is False:
        return None
    return (
        request.url,
        request.method,
        request.meta,
        request.priority,
        request.dont_filter,
        callback,
        errback,
    )


def encode_request(spider: Any, request: Request) -> tuple:
    """Scrapy's request serialization (picklable), with a fast path for plain requests.

    ``Request.to_dict`` finds a callback's name with ``inspect.getmembers`` over the whole
    spider, on every request: it was most of the cost of the disk queue, and of the shared
    queue in Redis (:class:`linkrot.scale.LeasedQueue`).
    """
    plain = _plain(spider, request)
    return ("plain", plain) if plain is not None else ("dict", request.to_dict(spider=spider))


def decode_request(spider: Any, item: tuple) -> Request:
    kind, data = item
    if kind == "dict":
        return request_from_dict(data, spider=spider)
    url, method, meta, priority, dont_filter, callback, errback = data
    return Request(
        url,
        method=method,
        meta=meta,
        priority=priority,
        dont_filter=dont_filter,
        callback=getattr(spider, callback) if callback else None,
        errback=getattr(spider, errback) if errback else None,
    )


class _PlainRequests:
    """A Scrapy disk queue of requests serialized by :func:`encode_request`."""

    spider: Any

    def push(self, request: Request) -> None:
        super().push(encode_request(self.spider, request))

    def pop(self) -> Request | None:
        item = super().pop()
        return decode_request(self.spider, item) if item else None


class PlainPickleFifoDiskQueue(_PlainRequests, _PickleFifoSerializationDiskQueue):  # type: ignore[misc]
    """``SCHEDULER_DISK_QUEUE``: Scrapy's pickle FIFO disk queue, with plain requests made cheap."""

    def __init__(self, crawler: Any, key: str) -> None:
        self.spider = crawler.spider
        super().__init__(key)

    @classmethod
    def from_crawler(cls, crawler: Any, key: str, *args: Any, **kwargs: Any) -> PlainPickleFifoDiskQueue:
        return cls(crawler, key)
