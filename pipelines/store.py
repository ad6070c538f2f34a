"""Write items to the SQLite store in batches (never one commit per item)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from twisted.internet import task

from linkrot.afterrun import after_run, policy_from_settings
from linkrot.items import BacklinkCheck, SitemapEntry, TrapEntry, UrlResult
from linkrot.store import Store

logger = logging.getLogger(__name__)


class StorePipeline:
    """Buffers results and flushes them every ``LINKROT_BATCH_SIZE`` items or
    ``LINKROT_FLUSH_INTERVAL`` seconds, so Datasette sees a crawl progress.

    The ``runs`` row is opened with the spider and closed, with the crawl's
    stats, when the spider closes - whatever the reason.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.path = settings.get("LINKROT_DB")
        self.batch_size = max(1, settings.getint("LINKROT_BATCH_SIZE"))
        self.interval = settings.getfloat("LINKROT_FLUSH_INTERVAL")
        policy_from_settings(settings)  # a bad confirmation setting stops the run before it starts
        self.results: list[UrlResult] = []
        self.sitemap: list[SitemapEntry] = []
        self.checks: list[BacklinkCheck] = []
        self.store: Store | None = None
        self.run_id: int | None = None
        self._flusher: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = Store(self.path)
        args = getattr(spider, "run_args", {})
        site = getattr(spider, "site", None)
        resumed = (
            self.store.resumable_run(spider.name, site, args) if getattr(spider, "resume", False) else None
        )
        if resumed is not None:
            self.store.resume_run(resumed)
            self.run_id = resumed
            logger.info(
                "linkrot: resuming run %d, which did not finish; what it stored is not fetched again", resumed
            )
        else:
            self.run_id = self.store.start_run(spider.name, site, args)
        spider.resumed = resumed is not None
        spider.run_id = self.run_id
        self.crawler.stats.set_value("linkrot/run_id", self.run_id)
        self.crawler.stats.set_value("linkrot/db", str(self.store.path))
        logger.info("linkrot: run %d writing to %s", self.run_id, self.store.path)
        if self.interval > 0:
            self._flusher = task.LoopingCall(self.flush)
            self._flusher.start(self.interval, now=False)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, UrlResult):
            self.results.append(item)
        elif isinstance(item, BacklinkCheck):
            self.checks.append(item)
        elif isinstance(item, SitemapEntry):
            self.sitemap.append(item)
        elif isinstance(item, TrapEntry):  # rare: written at once
            if self.store is not None and self.run_id is not None:
                self.store.write_traps(self.run_id, [item])
        else:
            return item
        if len(self.results) + len(self.sitemap) + len(self.checks) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if self.store is None or self.run_id is None:
            return
        results, self.results = self.results, []
        sitemap, self.sitemap = self.sitemap, []
        checks, self.checks = self.checks, []
        if checks:
            self.store.write_checks(self.run_id, checks)
        if results:
            self.store.write_results(self.run_id, results)
        if sitemap:
            self.store.write_sitemap(self.run_id, sitemap)

    def close_spider(self) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush()
        if self.store is not None and self.run_id is not None:
            stats = self.crawler.stats
            views = (
                ("backlink_status",)
                if self.crawler.spider.name == "backlinks"
                else ("broken_links", "redirect_chains", "soft_404s", "orphans", "crawl_traps")
            )
            for view in views:
                stats.set_value(f"linkrot/view/{view}", self.store.count(view, self.run_id))

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.store is None or self.run_id is None:
            return
        if reason == "finished":
            # history, suggestions, alerts: once per run, when it is whole (an interrupted run is resumed first)
            after_run(
                self.store,
                self.run_id,
                spider.name,
                self.crawler.settings,
                self.crawler.stats,
                getattr(spider, "site", None),
            )
        self.store.finish_run(self.run_id, reason, self.crawler.stats.get_stats())
        self.store.close()
        self.store = None
