"""Write items to the run's SQLite store in batches (never one commit per item).

A big crawl (past ``LINKROT_DEFER_LINK_INDEX`` URLs written or found) writes on a thread of its own, so the
crawl goes on while SQLite reads back the B-tree pages it inserts into.

In a crawl shared by workers on several machines (docs/scale-out.md), a worker whose database
does not hold the run sends its batches through Redis, and the workers that hold it write them.
"""

from __future__ import annotations

import inspect
import logging
import pickle
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from linkrot.items import BacklinkCheck, SitemapEntry, TrapEntry, UrlResult
from linkrot.run import Run
from linkrot.store import Store

logger = logging.getLogger(__name__)

_IN_FLIGHT = 2  # batches handed to the writer thread before the crawl waits for the oldest one


class StorePipeline:
    """Buffers results and flushes them every ``LINKROT_BATCH_SIZE`` items or
    ``LINKROT_FLUSH_INTERVAL`` seconds, so Datasette sees a crawl progress.

    It only buffers and writes: the run (its row, its lock, what happens when
    it ends) is :class:`linkrot.run.Run`'s.  A batch that cannot be written (disk full,
    database locked too long) stops the crawl: the run is resumed from what was written.

    Past ``LINKROT_DEFER_LINK_INDEX`` URLs written or found, the batches are written on a thread of
    their own, with a connection of their own: the database has outgrown the caches, each batch's inserts
    read leaf pages back from the disk (SQLite lets other threads run meanwhile), and the crawl goes
    on while they are read.  Below it the thread would only cost CPU (measured at 20,000 pages: no
    faster).  Whatever reads the database back first waits for the batches handed over.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.run: Run | None = None
        self.results: list[UrlResult] = []
        self.sitemap: list[SitemapEntry] = []
        self.checks: list[BacklinkCheck] = []
        self.traps: list[TrapEntry] = []  # another machine's worker: sent with the next batch
        self.batch_size = 1
        self._flusher: task.LoopingCall | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._store: Store | None = None  # the writer thread's connection, used on that thread only
        self._writes: deque[tuple[Future, list[str]]] = deque()  # in order: (a write, the leases it ends)
        self._failed = False
        self.written = 0  # URLs this process wrote (LINKROT_DEFER_LINK_INDEX)
        self._deferred = False  # the links' index by target is left to the end of the run

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.run = self.crawler.get_extension(Run)
        if self.run is None:
            return
        self.batch_size = self.run.config.batch_size
        self.run.flush_items = self.flush_and_wait  # the spiders write what is buffered before they read it back
        if self.run.scale is not None:
            # a shared crawl's leases end when their results are written
            self.run.scale.flush_items = self.flush_and_wait
        if self.run.config.flush_interval > 0:
            self._flusher = task.LoopingCall(self.flush)
            self._flusher.start(self.run.config.flush_interval, now=False)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, UrlResult):
            self.results.append(item)
        elif isinstance(item, BacklinkCheck):
            self.checks.append(item)
        elif isinstance(item, SitemapEntry):
            self.sitemap.append(item)
        elif isinstance(item, TrapEntry):  # rare: written at once
            if self.run is not None and (not self.run.writes or self._thread is not None):
                self.traps.append(item)  # with the next batch, by whoever writes it
            elif self.run is not None:
                self.run.store.write_traps(self.run.id, [item])
        else:
            return item
        if len(self.results) + len(self.sitemap) + len(self.checks) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if self.run is None:
            return
        scale = self.run.scale
        # a shared crawl: the requests whose results are all in this batch, taken before it is written
        leases = scale.finished_leases() if scale is not None else []
        batch = {"results": self.results, "sitemap": self.sitemap, "checks": self.checks, "traps": self.traps}
        self.results, self.sitemap, self.checks, self.traps = [], [], [], []
        if not self.run.writes:
            if any(batch.values()):
                scale.push_results(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL), leases)
            else:
                scale.release(leases)
            return
        if self._failed:
            return  # the crawl is stopping: what is not written is redone when the run resumes
        if self._thread is not None:
            if any(batch.values()) or leases:
                self._writes.append((self._thread.submit(self._write_on_thread, batch), leases))
            self._collect(wait=len(self._writes) > _IN_FLIGHT)
        else:
            try:
                self.write(batch)
            except Exception:  # a batch not written: never go on as if it were
                logger.exception("linkrot: results could not be written; the crawl stops")
                self._stop()
                return
            if leases:
                scale.release(leases)  # written: a worker killed from now on leaves nothing to redo
            self._start_thread_if_big()
        if scale is not None:
            # batches other machines' workers of this crawl pickled (Redis is trusted like the queue,
            # whose requests scrapy-redis pickles too)
            scale.drain(lambda payload: self._write_now(pickle.loads(payload)))

    def flush_and_wait(self) -> None:
        """Flush, and return when everything is written (before the database is read back)."""
        self.flush()
        self._collect(wait=True, everything=True)

    def _big(self) -> bool:
        """Past ``LINKROT_DEFER_LINK_INDEX`` URLs written, or found by the crawl's frontier: a site whose
        pages link to many new URLs each is known to be big long before its pages are written (a
        million-page site: after 3,000), and its links' targets are spread over all of them."""
        threshold = self.run.config.defer_link_index
        return bool(threshold) and (self.written >= threshold or self._found() >= threshold)

    def _found(self) -> int:
        """URLs the crawl's frontier knows (0 for a shared crawl's seen-set in Redis, not counted)."""
        seen = getattr(getattr(self.crawler.spider, "frontier", None), "seen", None)
        return len(seen) if hasattr(seen, "__len__") else 0

    def _start_thread_if_big(self) -> None:
        if self._thread is not None or not self._big():
            return
        # an in-memory database is one connection's own: another connection would write elsewhere
        if str(self.run.store.path) != ":memory:":
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="linkrot-writer")
            self.crawler.stats.set_value("linkrot/writer_thread/from", self.written)

    def _write_on_thread(self, batch: dict[str, list]) -> None:
        if self._store is None:
            self._store = Store(self.run.store.path)
        self.write(batch, self._store)

    def _write_now(self, batch: dict[str, list]) -> None:
        if self._thread is None:
            self.write(batch)
        else:
            self._thread.submit(self._write_on_thread, batch).result()

    def _collect(self, wait: bool, everything: bool = False) -> None:
        """The writes done, in order: their leases end; a failed one stops the crawl."""
        while self._writes and (self._writes[0][0].done() or wait):
            future, leases = self._writes.popleft()
            try:
                future.result()
            except Exception:  # a batch not written (disk full, database locked too long)
                logger.exception("linkrot: results could not be written; the crawl stops")
                self._stop()
                continue
            if leases:
                self.run.scale.release(leases)  # written: a worker killed from now on leaves nothing to redo
            wait = everything

    def _stop(self) -> None:
        if self._failed:
            return
        self._failed = True
        engine = self.crawler.engine
        if engine is not None and engine.running:
            # "interrupted": the next run with the same arguments resumes from what was written
            closing = engine.close_spider_async(reason="linkrot_write_failed")
            if inspect.isawaitable(closing):
                deferred_from_coro(closing)

    def write(self, batch: dict[str, list], store: Store | None = None) -> None:
        store, run_id = store or self.run.store, self.run.id
        if batch.get("checks"):
            store.write_checks(run_id, batch["checks"])
        if batch.get("results"):
            store.write_results(run_id, batch["results"])
            self.defer_link_index(len(batch["results"]), store)
        if batch.get("sitemap"):
            store.write_sitemap(run_id, batch["sitemap"])
        if batch.get("traps"):
            store.write_traps(run_id, batch["traps"])
        if batch.get("limits"):
            store.record_limits(run_id, batch["limits"])

    def defer_link_index(self, written: int, store: Store) -> None:
        """Once the crawl is big (:meth:`_big`), stop indexing links by target row by row: the run
        builds the index when it ends (:meth:`linkrot.store.Store.ensure_link_index`)."""
        self.written += written
        if not self._deferred and self._big():
            self._deferred = True
            if store.defer_link_index():
                logger.info(
                    "linkrot: %d URLs written, %d found: links are indexed by target once, when the crawl "
                    "ends (views of who links where are slow until then; LINKROT_DEFER_LINK_INDEX)",
                    self.written,
                    self._found(),
                )
                self.crawler.stats.set_value("linkrot/link_index/deferred_at", self.written)

    def close_spider(self) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush_and_wait()
        if self._thread is not None:
            if self._store is not None:
                self._thread.submit(self._store.close).result()
            self._thread.shutdown()
