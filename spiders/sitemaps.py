"""The sitemaps of a site crawl: seeds from robots.txt, orphans crawled when the link crawl is done.

A part of :class:`spiders.site.SiteSpider`, kept apart so each file reads in one sitting.
The sitemap URLs are not kept in memory: each is written (``sitemap_urls``, once per run)
and streamed back from the database when the link crawl is done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from scrapy import Request
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from linkrot import status as st
from linkrot.items import SitemapEntry
from linkrot.sitemaps import MAX_SITEMAPS, read_sitemap, sitemaps_of_robots

logger = logging.getLogger(__name__)

_BATCH = 1000  # sitemap URLs asked about the frontier at once


class SitemapsMixin:
    """Needs ``scope``, ``frontier``, ``run``, ``crawler``, ``settings`` and ``url_request`` from the spider."""

    sitemaps_requested = 0
    sitemap_seeded = False

    def aux_request(self, url: str, callback: Any) -> Request:
        meta = {"linkrot_kind": "sitemap", "dont_obey_robotstxt": True, "handle_httpstatus_all": True}
        return Request(
            url, callback=callback, errback=self.on_aux_error, meta=meta, priority=100, dont_filter=True
        )

    def parse_robots(self, response: Response) -> Iterator[Request]:
        for url in sitemaps_of_robots(response.status, response.body, response.url):
            self.sitemaps_requested += 1
            yield self.aux_request(url, self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            logger.info("linkrot: no sitemap at %s (%s)", response.url, response.status)
            return
        kind, urls = read_sitemap(response.body, response.url, self.settings.getint("DOWNLOAD_MAXSIZE"))
        for url in urls:
            if kind == "sitemapindex":
                if self.sitemaps_requested < MAX_SITEMAPS:
                    self.sitemaps_requested += 1
                    yield self.aux_request(url, self.parse_sitemap)
            elif self.scope.is_internal(url):
                yield SitemapEntry(url, response.url)  # the store keeps each URL once per run

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
        self.crawler.stats.set_value("linkrot/sitemap_urls", run.store.sitemap_url_count(run.id))
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
