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
import pickle
import shutil
from collections import deque
from pathlib import Path
from typing import Any

from queuelib.queue import FifoDiskQueue
from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.pqueues import DownloaderAwarePriorityQueue, DownloaderInterface
from scrapy.utils.request import request_from_dict

from .urls import download_slot

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


class _Slots(DownloaderInterface):
    def get_slot_key(self, request: Request) -> str:
        slot = request.meta.get("download_slot")
        return slot if slot is not None else download_slot(request.url)


class SlotPriorityQueue(DownloaderAwarePriorityQueue):
    """``SCHEDULER_PRIORITY_QUEUE``: Scrapy's default (the least busy download slot first), finding a request's slot
    from its URL's host without ``urlparse``: a big crawl schedules about a request a page, and the
    parse (with its cache entry, dropped when the request goes to disk) was 2 % of its CPU."""

    def __init__(self, crawler: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(crawler, *args, **kwargs)
        self._downloader_interface = _Slots(crawler)


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


class PlainPickleFifoDiskQueue:
    """``SCHEDULER_DISK_QUEUE``: a FIFO of requests on disk, pickled one by one and written in batches.

    Each request is pickled when it is pushed (:func:`encode_request`; one that cannot be pickled
    raises ``ValueError`` there, and Scrapy keeps it in memory), but written with others, up to
    ``BATCH`` of them in one record of queuelib's ``FifoDiskQueue``, and read back a record at a time.
    A big crawl pushes about one request a page (17 a page while the frontier grows): a write and two
    reads a request were a tenth of its CPU then.  What waits in memory is bounded over all the queues
    of the process (``BUFFERED_BYTES``); past it, a push writes its queue's batch at once.  The queue
    is scratch: nothing is kept for a restart (linkrot resumes from its rows).
    """

    BATCH = 256  # requests in one record at most
    BUFFERED_BYTES = 4 << 20  # pickled requests waiting to be written, over all the queues
    _buffered = 0  # bytes, over all the queues of this process

    def __init__(self, crawler: Any, key: str) -> None:
        self.spider = crawler.spider
        self._disk = FifoDiskQueue(key)
        self._head: list[bytes] = []  # the newest requests, not written yet
        self._head_bytes = 0
        self._tail: deque[bytes] = deque()  # the oldest, read back from a record
        self._size = 0

    @classmethod
    def from_crawler(cls, crawler: Any, key: str, *args: Any, **kwargs: Any) -> PlainPickleFifoDiskQueue:
        return cls(crawler, key)

    def __len__(self) -> int:
        return self._size

    def push(self, request: Request) -> None:
        try:
            data = pickle.dumps(encode_request(self.spider, request), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:  # what Scrapy's queues catch
            raise ValueError(str(exc)) from exc
        self._head.append(data)
        self._head_bytes += len(data)
        PlainPickleFifoDiskQueue._buffered += len(data)
        self._size += 1
        if len(self._head) >= self.BATCH or PlainPickleFifoDiskQueue._buffered > self.BUFFERED_BYTES:
            self._write()

    def pop(self) -> Request | None:
        if not self._fill():
            return None
        self._size -= 1
        return decode_request(self.spider, pickle.loads(self._tail.popleft()))

    def peek(self) -> Request | None:
        return decode_request(self.spider, pickle.loads(self._tail[0])) if self._fill() else None

    def _fill(self) -> bool:
        """Whether a request is next in ``_tail``, reading the oldest record first."""
        if not self._tail:
            record = self._disk.pop()
            if record is not None:
                self._tail.extend(pickle.loads(record))
            elif self._head:  # nothing older on disk: the newest are next
                self._tail.extend(self._head)
                self._forget_head()
        return bool(self._tail)

    def close(self) -> None:
        self._forget_head()
        self._disk.close()

    def _write(self) -> None:
        self._disk.push(pickle.dumps(self._head, protocol=pickle.HIGHEST_PROTOCOL))
        self._forget_head()

    def _forget_head(self) -> None:
        PlainPickleFifoDiskQueue._buffered -= self._head_bytes
        self._head, self._head_bytes = [], 0
