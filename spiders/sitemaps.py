"""The sitemaps of a site crawl: seeds from robots.txt, orphans crawled when the link crawl is done.

A part of :class:`spiders.site.SiteSpider`, kept apart so each file reads in one sitting.
The sitemap URLs are not kept in memory: each is written (``sitemap_urls``, once per run)
and streamed back from the database when the link crawl is done.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from linkrot import status as st
from linkrot.items import SitemapEntry
from linkrot.sitemaps import (
    MAX_SITEMAPS,
    SITEMAP_TYPES,
    on_site,
    own_sitemap,
    read_sitemap,
    sitemaps_of_robots,
    where_to_read,
)
from linkrot.urls import host_of

logger = logging.getLogger(__name__)

_BATCH = 1000  # sitemap URLs asked about the frontier at once


class SitemapsMixin:
    """Needs ``config``, ``scope``, ``frontier``, ``run``, ``crawler``, ``settings`` and ``url_request``.

    The sitemaps read: those named with ``-a sitemap=``, those robots.txt names, and the site's
    own ``/sitemap.xml``, each once, indexes followed (:func:`linkrot.sitemaps.where_to_read`
    decides which other hosts may be asked). Stats: ``linkrot/sitemaps_read`` (files read),
    ``linkrot/sitemaps_not_fetched`` (on another host, left alone), ``linkrot/sitemap_urls_offsite``
    (URLs listed on another host than the site's) and ``linkrot/sitemap_urls`` (URLs of the site).
    """

    sitemaps_requested = 0
    sitemap_seeded = False

    def init_sitemaps(self) -> None:
        self.sitemaps_seen: set[str] = set()  # each sitemap fetched once, whoever names it
        self.sitemap_warned: set[tuple[str, str]] = set()  # (what, host): each warning once
        self.robots_url = urljoin(self.config.start_url, "/robots.txt")
        self.robots: Response | None = None  # its answer, once Scrapy's robots.txt middleware has it
        self.robots_wanted = False  # sitemap_requests() waits for them
        if self.settings.getbool("ROBOTSTXT_OBEY"):
            # Scrapy's robots.txt middleware fetches it (before the first page, maybe before start()
            # asks): its answer is read here rather than fetched a second time
            self.crawler.signals.connect(self.robots_received, signal=signals.response_received)

    def aux_request(self, url: str, callback: Any) -> Request:
        meta = {"linkrot_kind": "sitemap", "dont_obey_robotstxt": True, "handle_httpstatus_all": True}
        return Request(
            url, callback=callback, errback=self.on_aux_error, meta=meta, priority=100, dont_filter=True
        )

    def sitemap_requests(self) -> Iterator[Request]:
        """The first requests: named sitemaps, robots.txt (for its ``Sitemap:`` lines), ``/sitemap.xml``.

        robots.txt is read once: when Scrapy's robots.txt middleware fetches it (``ROBOTSTXT_OBEY``),
        its ``Sitemap:`` lines are read from that answer (``response_received``), whenever it comes.
        """
        start = self.config.start_url
        self.crawler.stats.set_value("linkrot/sitemaps_read", 0)
        for url in self.config.sitemaps:
            yield from self.sitemap_request(url, asked=True)
        if not self.settings.getbool("ROBOTSTXT_OBEY"):
            yield self.aux_request(self.robots_url, self.parse_robots)
        elif self.robots is not None:  # the middleware has read it already
            yield from self.parse_robots(self.robots)
        else:
            self.robots_wanted = True
        yield from self.sitemap_request(own_sitemap(start))

    def robots_received(self, response: Response, request: Request, spider: Any) -> None:
        """The start URL's robots.txt, as Scrapy's middleware fetched it: its ``Sitemap:`` lines."""
        if request.url != self.robots_url or self.robots is not None:
            return
        self.crawler.signals.disconnect(self.robots_received, signal=signals.response_received)
        self.robots = response
        if self.robots_wanted:
            for sitemap in self.parse_robots(response):
                self.crawler.engine.crawl(sitemap)

    def sitemap_request(
        self, url: str, *, asked: bool = False, listed_by: str | None = None
    ) -> Iterator[Request]:
        config = self.config
        target = where_to_read(
            url,
            config.start_url,
            internal=self.scope.is_internal(url),
            asked=asked,
            listed_by=listed_by,
            paths=config.sitemap_paths,
            external=config.check_external,
        )
        if target is None:
            self.crawler.stats.inc_value("linkrot/sitemaps_not_fetched")
            source = "robots.txt" if listed_by is None else f"the sitemap index {listed_by}"
            instead = f"reading {own_sitemap(config.start_url)} instead; " if listed_by is None else ""
            self.warn_once(
                f"not_fetched {source}",  # once per host for robots.txt, once per host for each index
                host_of(url),
                "%s names a sitemap on %s (%s); not fetched because external checks are off; "
                "%s-a sitemap_paths=1 reads its path on this site, -a sitemap=URL names a sitemap",
                source,
                host_of(url),
                url,
                instead,
            )
            return
        if target in self.sitemaps_seen or self.sitemaps_requested >= MAX_SITEMAPS:
            return
        if target != url:
            logger.info("linkrot: reading the sitemap %s at its path on this site: %s", url, target)
        self.sitemaps_seen.add(target)
        self.sitemaps_requested += 1
        yield self.aux_request(target, self.parse_sitemap)

    def parse_robots(self, response: Response) -> Iterator[Request]:
        for url in sitemaps_of_robots(response.status, response.body, response.url):
            yield from self.sitemap_request(url)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            logger.info("linkrot: no sitemap at %s (%s)", response.url, response.status)
            return
        kind, urls = read_sitemap(response.body, response.url, self.settings.getint("DOWNLOAD_MAXSIZE"))
        if kind in SITEMAP_TYPES:
            self.crawler.stats.inc_value("linkrot/sitemaps_read")
        if kind == "sitemapindex":
            for url in urls:
                yield from self.sitemap_request(url, listed_by=response.url)
            return
        offsite: Counter[str] = Counter()
        for url in urls:
            if self.scope.is_internal(url):
                yield SitemapEntry(url, response.url)  # the store keeps each URL once per run
                continue
            offsite[host_of(url)] += 1
            if self.config.sitemap_paths:
                yield SitemapEntry(on_site(url, self.config.start_url), response.url)
        if offsite:
            self.report_offsite(response.url, offsite)

    def report_offsite(self, sitemap: str, offsite: Counter[str]) -> None:
        """A sitemap lists URLs of other hosts (production's, on staging): said once per host."""
        self.crawler.stats.inc_value("linkrot/sitemap_urls_offsite", sum(offsite.values()))
        site = host_of(self.config.start_url)
        for host, count in offsite.most_common():
            if self.config.sitemap_paths:
                logger.info(
                    "linkrot: sitemap %s lists %d URLs on %s; reading their paths on %s",
                    sitemap,
                    count,
                    host,
                    site,
                )
                continue
            self.warn_once(
                "offsite",
                host,
                "sitemap %s lists %d URLs on %s, not on %s: they are not crawled nor counted as orphans "
                "(-a sitemap_paths=1 reads their paths on %s)",
                sitemap,
                count,
                host,
                site,
                site,
            )

    def warn_once(self, what: str, host: str, message: str, *args: Any) -> None:
        if (what, host) not in self.sitemap_warned:
            self.sitemap_warned.add((what, host))
            logger.warning("linkrot: " + message, *args)

    def on_aux_error(self, failure: Any) -> None:
        logger.info("linkrot: %s: %s", failure.request.url, st.from_failure(failure).value)

    def on_idle(self) -> None:
        """When the link crawl is done, crawl sitemap URLs no page links to (orphans).

        Once per crawl: with several workers, when none has anything left, by one of them.
        """
        run = getattr(self, "run", None)
        if self.sitemap_seeded or run is None or not hasattr(self, "frontier"):
            return
        run.flush_items()  # the sitemap URLs read so far, into the database
        if run.scale is not None:
            if run.scale.busy():
                raise DontCloseSpider  # the link crawl goes on somewhere
            if not run.scale.once("sitemaps"):
                self.sitemap_seeded = True
                return
        self.sitemap_seeded = True
        listed = run.store.sitemap_url_count(run.id)
        self.crawler.stats.set_value("linkrot/sitemap_urls", listed)
        if self.config.use_sitemap and not self.crawler.stats.get_value("linkrot/sitemaps_read"):
            logger.info("linkrot: no sitemap read: orphans (pages no link leads to) cannot be found")
        added = 0
        for urls in _batches(run.store.iter_sitemap_urls(run.id), _BATCH):
            fresh = [url for url, known in zip(urls, self.frontier.seen.known(urls)) if not known]
            if fresh and not self.frontier.budget_left():
                break
            for url in fresh:
                if not self.frontier.budget_left():
                    break
                if self.frontier.claim(url, page=True):
                    self.crawler.engine.crawl(self.url_request(url, None, "sitemap"))
                    added += 1
        if added:
            logger.info("linkrot: crawling %d sitemap URLs that no page links to", added)
            raise DontCloseSpider


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
