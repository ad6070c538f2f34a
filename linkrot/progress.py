"""Progress while a crawl runs: pages done, rate, broken links and chains so far."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from .config import progress_interval
from .run import Run
from .status import Verdict
from .summary import orphans_said

logger = logging.getLogger(__name__)


class Progress:
    """Logs one line every ``LINKROT_PROGRESS_INTERVAL`` seconds (0 switches it off)."""

    def __init__(self, crawler: Any, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.started = time.monotonic()
        self.last = (self.started, 0)
        self._loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        interval = progress_interval(crawler.settings)
        if interval <= 0:
            raise NotConfigured
        return cls(crawler, interval)

    def spider_opened(self, spider: Any) -> None:
        self._loop = task.LoopingCall(self.log)
        self._loop.start(self.interval, now=False)

    def line(self, done: bool = False) -> str:
        """The progress line; ``done``: the last one, what the crawl found instead of what is in flight."""
        run = self.crawler.get_extension(Run)
        if run is not None and run.spec.progress == "backlinks":
            return self.backlinks_line()
        stats = self.crawler.stats
        fetched = stats.get_value("linkrot/pages", 0) + stats.get_value("linkrot/external", 0)
        rate, overall = self.rates(fetched)
        line = (
            f"{stats.get_value('linkrot/pages', 0)} pages, {stats.get_value('linkrot/external', 0)} external "
            f"({rate:.0f}/s now, {overall:.0f}/s overall), {stats.get_value('linkrot/broken', 0)} broken, "
            f"{stats.get_value('linkrot/chains', 0)} redirecting"
        )
        if done:
            return line + self.findings()
        engine = self.crawler.engine
        pending = len(engine.downloader.active) if engine and engine.downloader else 0
        return f"{line}, {pending} in flight"

    def findings(self) -> str:
        """``, 3 soft 404s, 2 orphans`` (``no sitemap read`` when there was none), as the run counted
        them when it closed (``linkrot/view/*``, set before this extension's spider_closed runs)."""
        stats = self.crawler.stats
        soft = stats.get_value("linkrot/view/soft_404s", stats.get_value("linkrot/soft_404", 0))
        said = f", {soft} soft 404s"
        orphans = stats.get_value("linkrot/view/orphans")
        if orphans is not None:  # a worker of a shared crawl that is not the last one did not count them
            sitemap_urls = stats.get_value("linkrot/sitemap_urls")
            if sitemap_urls is None:  # another worker of a shared crawl read the sitemaps
                said += f", {orphans} orphans"
            else:
                offsite = stats.get_value("linkrot/sitemap_urls_offsite", 0)
                said += f", {orphans_said(orphans, sitemap_urls, offsite)}"
        return said

    def rates(self, done: int) -> tuple[float, float]:
        now = time.monotonic()
        then, before = self.last
        self.last = (now, done)
        return (done - before) / max(now - then, 1e-9), done / max(now - self.started, 1e-9)

    def backlinks_line(self) -> str:
        stats = self.crawler.stats.get_stats()
        counts = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("linkrot/backlink/")}
        # verdicts only: linkrot/backlink/unlinked_mentions counts checks already counted by their verdict
        verdicts = {v: counts.get(v, 0) for v in Verdict}
        done = sum(verdicts.values())
        rate, overall = self.rates(done)
        standing = verdicts[Verdict.LIVE] + verdicts[Verdict.NOFOLLOW]
        noise = sum(n for v, n in verdicts.items() if v.is_transient)
        return (
            f"{done}/{stats.get('linkrot/backlinks/queued', '?')} backlinks checked ({rate:.0f}/s now, "
            f"{overall:.0f}/s overall): {standing} standing, {done - standing - noise} lost or weakened, "
            f"{noise} noise; {stats.get('linkrot/render/done', 0)} pages rendered"
        )

    def log(self) -> None:
        logger.info("linkrot progress: %s", self.line())

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        logger.info("linkrot done (%s): %s", reason, self.line(done=True))
