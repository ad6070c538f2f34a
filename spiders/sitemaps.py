"""The sitemaps of a site crawl: seeds from robots.txt, orphans crawled when the link crawl is done.

A part of :class:`spiders.site.SiteSpider`, kept apart so each file reads in one sitting.
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


class SitemapsMixin:
    """Needs ``scope``, ``frontier``, ``crawler``, ``settings`` and ``url_request`` from the spider."""

    sitemap_urls: dict[str, str]
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
            elif self.scope.is_internal(url) and url not in self.sitemap_urls:
                self.sitemap_urls[url] = response.url
                yield SitemapEntry(url, response.url)
        self.crawler.stats.set_value("linkrot/sitemap_urls", len(self.sitemap_urls))

    def on_aux_error(self, failure: Any) -> None:
        logger.info("linkrot: %s: %s", failure.request.url, st.from_failure(failure).value)

    def on_idle(self) -> None:
        """When the link crawl is done, crawl sitemap URLs no page links to (orphans)."""
        if self.sitemap_seeded:
            return
        self.sitemap_seeded = True
        added = 0
        for url in self.sitemap_urls:
            if not self.frontier.is_new(url):
                continue
            if not self.frontier.budget_left():
                break
            self.frontier.mark(url, page=True)
            self.crawler.engine.crawl(self.url_request(url, None, "sitemap"))
            added += 1
        if added:
            logger.info("linkrot: crawling %d sitemap URLs that no page links to", added)
            raise DontCloseSpider
