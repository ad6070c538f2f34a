"""``scrapy crawl site -a url=https://www.example.com/``: crawl your own site.

What to request: the start URL, each new link of a page of the site (external
links once each, with HEAD), the sitemaps, and the sitemap URLs no page
linked to.  How to read the answers: :class:`~spiders.fetch.HopSpider`
follows every URL to where it ends; :mod:`linkrot.reader` reads a page,
:mod:`linkrot.soft404` judges it, :mod:`linkrot.frontier` decides what is
new.  One :class:`~linkrot.items.UrlResult` per URL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, Spider, signals
from scrapy.exceptions import StopDownload
from scrapy.http import HtmlResponse, Response

from linkrot.auth import LOGIN_ARGS, SiteLogin, login_hint
from linkrot.config import SiteConfig, configure_scale
from linkrot.frontier import Frontier
from linkrot.items import Link, UrlResult
from linkrot.reader import PageFacts, header_values, read_page
from linkrot.redirects import summarize
from linkrot.results import count_result, describe_page, describe_response, invalid_result
from linkrot.run import Run, RunSpec
from linkrot.soft404 import NotFoundTemplate, probe_path
from linkrot.store import DiskSeen
from linkrot.urls import Scope

from .fetch import Ending, HopSpider
from .probe import NotFoundProbeMixin
from .sitemaps import SitemapsMixin

logger = logging.getLogger(__name__)

_HTML_TYPES = (b"text/html", b"application/xhtml")
VIEWS = ("broken_links", "redirect_chains", "soft_404s", "orphans", "crawl_traps")  # counted into the stats


class SiteSpider(SitemapsMixin, NotFoundProbeMixin, HopSpider):
    name = "site"
    disk_queue = True  # pending requests wait on disk (linkrot.scratch.DiskScheduler)

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        configure_scale(settings)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = config = SiteConfig.from_settings(crawler.settings, kwargs)
        spider.max_hops = config.max_hops
        args = {k: v for k, v in kwargs.items() if k != "resume"}  # RunSpec keeps them without secrets
        for name in LOGIN_ARGS:  # the credentials live in the config only, not as spider attributes
            spider.__dict__.pop(name, None)
        spider.run_spec = RunSpec(config.start_url, args, config.resume, views=VIEWS)
        spider.scope = Scope(config.start_url, subdomains=config.subdomains)
        spider.site_login = (
            None
            if config.login is None
            else SiteLogin(config.login, config.start_url, subdomains=config.subdomains)
        )
        spider.template: NotFoundTemplate | None = None
        spider.init_sitemaps()
        crawler.signals.connect(spider.on_idle, signals.spider_idle)
        crawler.signals.connect(spider.on_headers, signals.headers_received)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        run = self.crawler.get_extension(Run)
        self.run = run
        self.frontier = self.make_frontier(run)
        start = self.config.start_url
        self.template = await self.probe_not_found(urljoin(start, probe_path()), start)
        if run is not None and run.scale is not None:
            run.scale.feeder = self.take_over_seeding
        if run is not None and not run.seeds:
            return  # a worker that joined a shared crawl: the first worker seeded it
        for request in self.seeds(run):
            yield request

    def seeds(self, run: Run | None, again: bool = False) -> Iterator[Any]:
        """robots.txt (and the sitemaps it names), a resumed run's pending links, the start URL."""
        start = self.config.start_url
        if self.config.use_sitemap:
            yield from self.sitemap_requests()
        if run is not None and run.resumed:
            # what the run stored is done; the links it found and did not fetch are not
            internal = self.scope.is_internal
            self.frontier.restore(
                (url, bool(i) and internal(url), bool(r)) for url, i, r in run.store.iter_done_urls(run.id)
            )
            for url, depth, internal_link in run.store.pending_links(run.id):
                link = Link(url, "", "", False, bool(internal_link) and internal(url))
                yield from self.schedule([link], depth)
        # seeding again (the seeding worker died): its start URL may be claimed and never queued
        if self.frontier.claim(start, page=True) or again:
            yield self.url_request(start, 0, "start")
        if run is not None and run.scale is not None:
            run.scale.seeded()

    def take_over_seeding(self, cursor: str | None) -> None:
        """A shared crawl whose seeding worker died before it was done: seed it from this worker."""
        for request in self.seeds(self.run, again=True):
            if isinstance(request, Request):  # an invalid href's row is the (lost) seeder's to write
                self.crawler.engine.crawl(request)

    def make_frontier(self, run: Run | None) -> Frontier:
        """The seen-set on disk beside the database, or in Redis when workers share the crawl."""
        if run is None:
            return Frontier(self.config, self.crawler.stats)
        if run.scale is not None:
            frontier = Frontier(self.config, self.crawler.stats, run.scale.seen(), run.scale.count_pages)
        else:
            frontier = Frontier(self.config, self.crawler.stats, DiskSeen(run.scratch.path("seen.sqlite")))
        run.limits = frontier.limits
        return frontier

    # -- what to request ----------------------------------------------------------------

    def url_request(
        self, url: str, depth: int | None, via: str, resource: bool = False, normal: bool = False
    ) -> Request:
        kind = "resource" if resource else "page" if self.scope.is_internal(url) else "external"
        meta = {"linkrot_kind": kind, "linkrot_depth": depth, "linkrot_via": via}
        if normal:  # in linkrot's normal form (w3lib's escaping done): Scrapy need not escape it again
            meta["verbatim_url"] = True
        if kind != "page":
            # a status check of one URL is not crawling: external hosts' robots.txt is not fetched
            meta["dont_obey_robotstxt"] = True
        priority = -10_000 if via == "sitemap" else -(depth or 0) * 10  # breadth first
        return self.fetch(url, meta=meta, method="GET" if kind == "page" else "HEAD", priority=priority)

    def schedule(self, links: list[Link], depth: int | None, lease: str | None = None) -> Iterator[Any]:
        """Requests for the new links of a page (``lease``: the shared crawl's request it answered)."""
        frontier = self.frontier
        valid = []
        for link in links:
            if not link.invalid:
                valid.append(link)
            elif frontier.claim(link.target_url, lease=lease):  # an href that is no URL: a row of its own
                yield count_result(self.crawler.stats, invalid_result(link, depth))
        for admitted in frontier.admit_all(valid, depth, lease):
            yield self.url_request(admitted.url, admitted.depth, "link", admitted.resource, normal=True)
        yield from frontier.take_traps()

    def on_headers(self, headers: Any, body_length: int, request: Request, spider: Spider) -> None:
        """Stop reading bodies linkrot does not parse: external pages, non-HTML files."""
        kind = request.meta.get("linkrot_kind")
        content_type = headers.get(b"Content-Type")
        if kind in ("external", "resource") or (
            kind == "page" and content_type and not content_type.lower().startswith(_HTML_TYPES)
        ):
            raise StopDownload(fail=False)

    # -- how to read the answers --------------------------------------------------------

    def read(self, response: Response) -> PageFacts | None:
        meta = response.meta
        if (
            meta["linkrot_chain"]
            and meta["linkrot_via"] == "start"
            and not self.scope.is_internal(response.url)
        ):
            # example.com -> https://www.example.com/: crawl the site the start URL lands on
            logger.info("linkrot: the start URL redirects to %s; crawling that site", response.url)
            self.scope = Scope(response.url, subdomains=self.config.subdomains)
        if meta["linkrot_kind"] != "page" or not self.scope.is_internal(response.url):
            return None
        if not isinstance(response, HtmlResponse):
            return None
        x_robots = header_values(response.headers.getlist(b"X-Robots-Tag"))
        return read_page(
            response.url, response.body, response.encoding, x_robots, anchor_ids=self.config.fragments
        )

    def arrived(self, end: Ending) -> Iterator[Any]:
        """A result for the chain's origin, for each hop not seen yet, and for the page it ends on."""
        meta, chain, frontier, internal = end.meta, end.chain, self.frontier, self.scope.is_internal
        depth, via = meta["linkrot_depth"], meta["linkrot_via"]
        lease = meta.get("scale_lease")  # a shared crawl: claims undone if this worker dies unwritten
        if via == "start" and end.code in (401, 403):
            self.warn_login(end)
        common = {
            "outcome": end.outcome.value,
            "http_status": end.code,
            "final_url": end.final_url,
            "error": end.error,
            "is_resource": meta["linkrot_kind"] == "resource",
        }
        for i, hop in enumerate(chain):
            url = hop["url"]
            # the origin is claimed already; a hop once, by whoever ends first
            if i and not frontier.claim(url, lease=lease):
                continue
            yield count_result(
                self.crawler.stats,
                UrlResult(
                    url=url,
                    is_internal=internal(url),
                    depth=depth,
                    found_via=via if i == 0 else "redirect",
                    chain=chain[i:],
                    **summarize(url, chain[i:], end.final_url, end.outcome),
                    **common,
                ),
            )
        if chain and (not internal(end.final_url) or not frontier.claim(end.final_url, lease=lease)):
            return  # the final page is (or will be) recorded by its own request
        url = end.final_url if chain else end.origin
        result = UrlResult(
            url=url, is_internal=internal(url), depth=depth, found_via="redirect" if chain else via, **common
        )
        if end.response is not None:
            self.describe(result, end.response, end.facts)
        yield count_result(self.crawler.stats, result)
        yield from self.schedule(result.links, depth, lease)

    def warn_login(self, end: Ending) -> None:
        """The start URL answers 401 or 403: say so, and what would let linkrot in."""
        challenge = (end.response.headers.get(b"WWW-Authenticate") or b"").decode("latin-1")
        self.crawler.stats.set_value("linkrot/start/login_required", end.code)
        logger.warning("linkrot: %s", login_hint(end.code, challenge, end.final_url, self.site_login))

    def describe(self, result: UrlResult, response: Response, facts: PageFacts | None) -> None:
        """The response columns of the answer that ended a chain, then the page's (linkrot.results)."""
        describe_response(result, response)
        describe_page(
            result,
            facts,
            body_size=len(response.body),
            template=self.template,
            threshold=self.config.soft404_threshold,
            is_internal=self.scope.is_internal,
            resources=self.config.resources,
            fragments=self.config.fragments,
        )
