"""Write items to the run's SQLite store in batches (never one commit per item)."""

from __future__ import annotations

from typing import Any

from twisted.internet import task

from linkrot.items import BacklinkCheck, SitemapEntry, TrapEntry, UrlResult
from linkrot.run import Run


class StorePipeline:
    """Buffers results and flushes them every ``LINKROT_BATCH_SIZE`` items or
    ``LINKROT_FLUSH_INTERVAL`` seconds, so Datasette sees a crawl progress.

    It only buffers and writes: the run (its row, its lock, what happens when
    it ends) is :class:`linkrot.run.Run`'s.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.run: Run | None = None
        self.results: list[UrlResult] = []
        self.sitemap: list[SitemapEntry] = []
        self.checks: list[BacklinkCheck] = []
        self.batch_size = 1
        self._flusher: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.run = self.crawler.get_extension(Run)
        if self.run is None:
            return
        self.batch_size = self.run.config.batch_size
        self.run.flush_items = self.flush  # the spiders write what is buffered before they read it back
        if self.run.scale is not None:
            self.run.scale.flush_items = (
                self.flush
            )  # a shared crawl's leases end when their results are written
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
            if self.run is not None:
                self.run.store.write_traps(self.run.id, [item])
        else:
            return item
        if len(self.results) + len(self.sitemap) + len(self.checks) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if self.run is None:
            return
        # a shared crawl: the requests whose results are all in this batch, taken before it is written
        leases = self.run.scale.finished_leases() if self.run.scale is not None else []
        results, self.results = self.results, []
        sitemap, self.sitemap = self.sitemap, []
        checks, self.checks = self.checks, []
        store, run_id = self.run.store, self.run.id
        if checks:
            store.write_checks(run_id, checks)
        if results:
            store.write_results(run_id, results)
        if sitemap:
            store.write_sitemap(run_id, sitemap)
        if leases:
            self.run.scale.release(leases)  # written: a worker killed from now on leaves nothing to redo

    def close_spider(self) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush()
