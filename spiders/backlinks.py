"""``scrapy crawl backlinks -a file=export.csv``: is each backlink still on its referring page?

What to request: every referring page once (the run imported the exports and
queued the pages, :mod:`linkrot.run`), streamed from SQLite so the scheduler
stays small; each target URL of ours once; and, only when a page's static
HTML lacks a link and the page has scripts, the page again through Chromium.
How to read the answers: :class:`~spiders.fetch.HopSpider` follows every URL
to where it ends, :mod:`linkrot.reader` reads the page, :mod:`linkrot.checks`
judges its backlinks.  One :class:`~linkrot.items.BacklinkCheck` per backlink.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response, TextResponse

from linkrot import render
from linkrot.checks import AnchorBook, Reading, check_page, find_links, needs_render, seems_removed
from linkrot.config import BacklinksConfig, configure_scale
from linkrot.guard import POLICY
from linkrot.items import UrlResult
from linkrot.matching import site_key
from linkrot.reader import PageFacts, header_values, read_page
from linkrot.redirects import summarize
from linkrot.run import Run, RunSpec
from linkrot.status import Status
from linkrot.urls import hostname_of

from .fetch import Ending, HopSpider
from .rendering import RenderMixin

logger = logging.getLogger(__name__)

_QUEUE_BATCH = 500


class BacklinksSpider(RenderMixin, HopSpider):
    name = "backlinks"

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        # referring pages sit on many hosts: many requests in flight, few per host
        for name, setting in (
            ("CONCURRENT_REQUESTS", "LINKROT_BACKLINKS_CONCURRENCY"),
            ("CONCURRENT_REQUESTS_PER_DOMAIN", "LINKROT_BACKLINKS_PER_HOST"),
        ):
            settings.set(name, settings.getint(setting), priority="spider")
        queue = "linkrot.scratch.SlotPriorityQueue"  # the least busy download slot first
        settings.set("SCHEDULER_PRIORITY_QUEUE", queue, priority="spider")
        if str(settings.get("LINKROT_RENDER") or "auto").lower() != "never":
            # the browser's handler, launch options, render slot and memory budget (linkrot.render)
            for name, value in render.configure(settings).items():
                settings.set(name, value, priority="spider")
        configure_scale(settings)  # after the per-host budget above: shared by the workers of a scaled run

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> BacklinksSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = config = BacklinksConfig.from_settings(crawler.settings, kwargs)
        spider.max_hops = config.max_hops
        args = {k: v for k, v in kwargs.items() if k != "resume"}
        spider.run_spec = RunSpec(
            config.site,
            args,
            config.resume,
            views=("backlink_status",),
            imports=config.files,
            history=True,
            progress="backlinks",
        )
        # imported URLs are untrusted: no loopback, private or metadata addresses (linkrot.guard)
        POLICY.configure(
            enabled=not config.allow_private,
            allowed_hosts={hostname_of(config.site)} if config.site else set(),
            hostmap=config.hostmap,
        )
        spider.book = AnchorBook(config.brands, config.keywords)
        # renders handed to the downloader at most; the others wait here (linkrot.render.configure)
        spider.render_room = render.render_queue(crawler.settings) if config.render != "never" else 0
        spider.held: deque[Request] = deque()
        spider.targets_seen: set[str] = set()
        return spider

    # -- what to request: stream the queue, never the whole list into the scheduler ----

    async def start(self) -> AsyncIterator[Any]:
        run = self.crawler.get_extension(Run)
        if run.scale is not None:
            run.scale.feeder = self.take_over_feeding
        if not run.seeds:
            return  # a worker that joined a shared run: the first worker feeds the shared queue
        store, stats = run.store, self.crawler.stats
        site = self.config.site
        only_site = site_key(site) if site and not run.import_ids else None
        if run.resumed:  # the queue of the run is there; skip what it checked
            self.targets_seen = store.done_urls(run.id)
        pages, backlinks = store.queue_checks(run.id, run.import_ids or None, only_site)
        stats.set_value("linkrot/backlinks/pages_queued", pages)
        stats.set_value("linkrot/backlinks/queued", backlinks)
        logger.info("linkrot: checking %d backlinks on %d referring pages", backlinks, pages)
        async for request in self.feed(run, 0):
            yield request

    async def feed(self, run: Run, after: int) -> AsyncIterator[Request]:
        """The check queue after ``after``, a page at a time, as fast as the downloader takes them.

        Shared: as fast as the workers take them from Redis, telling Redis how far it got (``fed``)
        so that another worker can take the feeding over if this one dies.
        """
        store, stats, engine, shared = run.store, self.crawler.stats, self.crawler.engine, run.scale
        # alone: wait while the downloader is full; shared: while the queue holds a few rounds of work
        full = engine.needs_backout if shared is None else shared.backlog
        previous = after
        while batch := store.queued_pages(run.id, after, _QUEUE_BATCH):
            for seq, source_url, backlinks in batch:
                after = seq
                if not backlinks:
                    continue
                for _, target, *_ in backlinks:
                    if target not in self.targets_seen:
                        self.targets_seen.add(target)
                        yield self.fetch(target, meta={"linkrot_kind": "target", "dont_obey_robotstxt": True})
                while full():
                    await asyncio.sleep(0.02)
                if shared is not None and previous:
                    shared.fed(str(previous))  # the page before this one has reached the queue
                stats.max_value("linkrot/backlinks/max_scheduled", self.scheduled(engine))
                yield self.page_request(source_url, backlinks)
                previous = seq
        if shared is not None:
            shared.seeded()

    def take_over_feeding(self, cursor: str | None) -> None:
        """A shared run whose feeding worker died: feed the rest of the check queue from this worker."""
        run = self.crawler.get_extension(Run)

        async def feed() -> None:
            async for request in self.feed(run, int(cursor or 0)):
                self.crawler.engine.crawl(request)

        self.takeover = asyncio.ensure_future(feed())  # held: a task nobody holds may be collected

    @staticmethod
    def scheduled(engine: Any) -> int:
        """Requests waiting in the scheduler: stays small, the queue streams from SQLite."""
        slot = getattr(engine, "_slot", None)
        return len(slot.scheduler) if slot is not None and hasattr(slot.scheduler, "__len__") else 0

    def page_request(self, url: str, backlinks: list, recheck: bool = False) -> Request:
        meta = {"linkrot_kind": "page", "linkrot_backlinks": backlinks, "linkrot_recheck": recheck}
        return self.fetch(url, meta=meta)

    # -- how to read the answers --------------------------------------------------------

    def read(self, response: Response) -> PageFacts | None:
        if not isinstance(response, TextResponse):
            return None
        x_robots = header_values(response.headers.getlist(b"X-Robots-Tag"))
        return read_page(response.url, response.body, response.encoding, x_robots)

    def arrived(self, end: Ending) -> Iterator[Any]:
        if end.meta["linkrot_kind"] == "target":
            yield self.target_result(end)
            return
        backlinks = end.meta["linkrot_backlinks"]
        if end.outcome is Status.OK and end.facts is not None:
            matches = find_links(backlinks, end.facts)
            if needs_render(self.config.render, end.facts, matches):
                yield from self.hold_render(self.render_request(end))
                return
        else:
            matches = None
        latency = end.response.meta.get("download_latency") if end.response is not None else None
        reading = Reading(
            end.origin,
            end.outcome,
            end.code,
            end.final_url,
            end.chain,
            end.facts,
            error=end.error,
            latency=latency,
        )
        yield from self.checks(end.meta, reading, matches)

    def target_result(self, end: Ending) -> UrlResult:
        """Our side of the link: where the target URL ends."""
        self.crawler.stats.inc_value(f"linkrot/target/{end.outcome.value}")
        return UrlResult(
            url=end.origin,
            outcome=end.outcome.value,
            is_internal=True,
            http_status=end.code,
            final_url=end.final_url,
            found_via="backlink",
            chain=end.chain,
            error=end.error,
            **summarize(end.origin, end.chain, end.final_url, end.outcome),
        )

    def checks(self, meta: dict, reading: Reading, matches: dict | None = None) -> Iterator[Any]:
        backlinks = meta["linkrot_backlinks"]
        reading.rechecked = bool(meta.get("linkrot_recheck"))
        checks = check_page(backlinks, reading, self.book, matches)
        if self.config.recheck and not reading.rechecked and seems_removed(checks, backlinks):
            # a removal that would open a pending loss: ask once more, now, before believing it
            self.crawler.stats.inc_value("linkrot/recheck/requested")
            yield self.page_request(reading.source_url, backlinks, recheck=True)
            return
        stats = self.crawler.stats
        for check in checks:
            stats.inc_value(f"linkrot/backlink/{check.status}")
            if check.mentions_site:
                stats.inc_value("linkrot/backlink/unlinked_mentions")
            yield check
