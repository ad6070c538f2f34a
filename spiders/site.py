"""``scrapy crawl site -a url=https://www.example.com/``: crawl your own site.

A thin spider: it glues requests and responses to the pure core
(``linkrot.extract``, ``linkrot.redirects``, ``linkrot.soft404``,
``linkrot.status``) and yields one :class:`~linkrot.items.UrlResult` per URL.
It keeps its own seen-set and follows redirects itself, hop by hop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, Spider, signals
from scrapy.exceptions import DontCloseSpider, StopDownload
from scrapy.http import HtmlResponse, Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from linkrot import status as st
from linkrot.config import SiteConfig, as_bool
from linkrot.extract import Page, parse_html, robots_flags, visible_text
from linkrot.items import Link, SitemapEntry, TrapEntry, UrlResult
from linkrot.lock import RunLock
from linkrot.redirects import location_hop, next_step, refresh_hop, summarize
from linkrot.soft404 import NotFoundTemplate, classify, probe_path
from linkrot.status import REDIRECT_CODES, Status
from linkrot.store import Store
from linkrot.traps import TrapGuard
from linkrot.urls import Scope, absolute_url

logger = logging.getLogger(__name__)

_NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})
_HTML_TYPES = (b"text/html", b"application/xhtml")
_MAX_SITEMAPS = 500
_BASE_META = {"dont_redirect": True, "handle_httpstatus_all": True, "dont_merge_cookies": True}


def _is_html_type(content_type: bytes | None) -> bool:
    return not content_type or content_type.lower().startswith(_HTML_TYPES)


class SiteSpider(Spider):
    name = "site"

    config: SiteConfig

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = SiteConfig.from_settings(crawler.settings, kwargs)
        spider.lock = RunLock(crawler.settings.get("LINKROT_DB"), cls.name).acquire()
        crawler.signals.connect(spider.lock.release, signals.spider_closed)
        spider.run_args = {k: v for k, v in kwargs.items() if k != "resume"}
        spider.resume = as_bool("resume", kwargs.get("resume", crawler.settings.get("LINKROT_RESUME")))
        spider.site = spider.config.start_url
        spider.scope = Scope(spider.config.start_url, subdomains=spider.config.subdomains)
        spider.seen: set[str] = set()
        spider.pages_scheduled = 0
        spider.template: NotFoundTemplate | None = None
        spider.sitemap_urls: dict[str, str] = {}
        spider.sitemaps_requested = 0
        spider.sitemap_seeded = False
        spider.traps = TrapGuard(crawler.settings.getint("LINKROT_MAX_QUERY_VARIANTS"))
        spider.pending_traps: list[TrapEntry] = []
        crawler.signals.connect(spider.on_idle, signals.spider_idle)
        crawler.signals.connect(spider.on_headers, signals.headers_received)
        return spider

    # -- start ------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        start = self.config.start_url
        self.template = await self.probe_not_found(urljoin(start, probe_path()))
        if self.config.use_sitemap:
            yield self.aux_request(urljoin(start, "/robots.txt"), self.parse_robots)
        if getattr(self, "resumed", False):
            for request in self.resume_requests():
                yield request
            return
        self.seen.add(start)
        self.pages_scheduled += 1
        yield self.url_request(start, depth=0, via="start")

    def resume_requests(self) -> Iterator[Request]:
        """Pick up a run that did not finish: what it stored is done, the links it found but did not fetch are not."""
        store = Store(self.settings.get("LINKROT_DB"))
        try:
            self.seen = store.done_urls(self.run_id)
            self.sitemap_urls = store.sitemap_entries(self.run_id)
            pending = store.pending_links(self.run_id)
        finally:
            store.close()
        self.pages_scheduled = sum(1 for url in self.seen if self.scope.is_internal(url))
        logger.info(
            "linkrot: %d URLs already done, %d links found and not fetched yet", len(self.seen), len(pending)
        )
        self.crawler.stats.set_value("linkrot/resume/done", len(self.seen))
        if self.config.start_url not in self.seen:
            self.seen.add(self.config.start_url)
            self.pages_scheduled += 1
            yield self.url_request(self.config.start_url, depth=0, via="start")
        for url, depth, is_internal in pending:
            if url not in self.seen:
                link = Link(url, "", "", False, bool(is_internal) and self.scope.is_internal(url))
                request = self.schedule(link, depth)
                if request is not None:
                    yield request

    async def probe_not_found(self, url: str) -> NotFoundTemplate | None:
        """Learn what the site answers for a URL that cannot exist."""
        response = None
        for _ in range(self.config.max_hops):
            request = Request(url, meta={**_BASE_META, "linkrot_kind": "probe"}, dont_filter=True)
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:  # noqa: BLE001 - any failure only means "no template"
                logger.warning(
                    "linkrot: probe of %s failed (%s); soft-404 detection uses phrases only", url, exc
                )
                return None
            location = response.headers.get(b"Location")
            if response.status not in REDIRECT_CODES or not location:
                break
            url = absolute_url(response.url, location.decode("latin-1")) or url
        if response is None:
            return None
        page = parse_html(response.body, response.encoding) if isinstance(response, HtmlResponse) else Page()
        template = NotFoundTemplate.from_page(
            response.status, response.url, page.title, visible_text(page), len(response.body)
        )
        self.crawler.stats.set_value("linkrot/probe/status", response.status)
        logger.info(
            "linkrot: a missing page answers %s at %s (%d words)",
            response.status,
            response.url,
            template.words,
        )
        return template

    # -- requests -----------------------------------------------------------------

    def url_request(
        self,
        url: str,
        *,
        depth: int | None,
        via: str,
        origin: str | None = None,
        chain: list[dict] | None = None,
        method: str | None = None,
    ) -> Request:
        internal = self.scope.is_internal(origin or url)
        kind = "page" if internal else "external"
        meta = {
            **_BASE_META,
            "linkrot_kind": kind,
            "linkrot_origin": origin or url,
            "linkrot_chain": chain or [],
            "linkrot_depth": depth,
            "linkrot_via": via,
        }
        if not internal:
            # a status check of one URL is not crawling: external hosts' robots.txt is not fetched
            meta["dont_obey_robotstxt"] = True
        priority = -(depth or 0) * 10 + len(chain or ())  # breadth first; finish chains early
        if via == "sitemap":
            priority = -10_000
        return Request(
            url,
            method=method or ("GET" if internal else "HEAD"),
            callback=self.on_response,
            errback=self.on_error,
            meta=meta,
            priority=priority,
            dont_filter=True,  # linkrot keeps its own seen-set; hops must never be dropped
        )

    def aux_request(self, url: str, callback: Any) -> Request:
        return Request(
            url,
            callback=callback,
            errback=self.on_aux_error,
            meta={"linkrot_kind": "sitemap", "dont_obey_robotstxt": True, "handle_httpstatus_all": True},
            priority=100,
            dont_filter=True,
        )

    def on_headers(self, headers: Any, body_length: int, request: Request, spider: Spider) -> None:
        """Stop reading bodies linkrot does not parse: external pages, non-HTML files."""
        kind = request.meta.get("linkrot_kind")
        if kind == "external" or (kind == "page" and not _is_html_type(headers.get(b"Content-Type"))):
            raise StopDownload(fail=False)

    # -- responses ------------------------------------------------------------------

    def on_response(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        chain: list[dict] = meta["linkrot_chain"]
        code = response.status
        hop = location_hop(response.url, code, response.headers.get(b"Location"))
        if hop is not None:
            yield from self.follow(response, [*chain, hop[0]], hop[1])
            return
        if meta["linkrot_kind"] == "external" and response.request.method == "HEAD" and code >= 400:
            # HEAD refused or mishandled: ask again with GET (the body is not read)
            yield self.url_request(
                response.url,
                depth=meta["linkrot_depth"],
                via=meta["linkrot_via"],
                origin=meta["linkrot_origin"],
                chain=chain,
                method="GET",
            )
            return
        if chain and meta["linkrot_via"] == "start" and not self.scope.is_internal(response.url):
            # example.com -> https://www.example.com/: crawl the site the start URL lands on
            logger.info("linkrot: the start URL redirects to %s; crawling that site", response.url)
            self.scope = Scope(response.url, subdomains=self.config.subdomains)
        page = None
        internal = self.scope.is_internal(response.url)
        if internal and 200 <= code < 300 and isinstance(response, HtmlResponse):
            page = parse_html(response.body, response.encoding)
            refresh = refresh_hop(response.url, code, page.refresh_url)
            if refresh is not None:
                yield from self.follow(response, [*chain, refresh[0]], refresh[1])
                return
        yield from self.finish(meta, chain, st.from_http(code), response=response, page=page)

    def follow(self, response: Response, chain: list[dict], location: str) -> Iterator[Any]:
        meta = response.meta
        step = next_step(chain, response.url, location, self.config.max_hops)
        if step.next_url is None:
            yield from self.finish(
                meta, chain, step.outcome or Status.INVALID_RESPONSE, final_url=response.url
            )
            return
        method = "GET" if response.status == 303 else response.request.method
        yield self.url_request(
            step.next_url,
            depth=meta["linkrot_depth"],
            via=meta["linkrot_via"],
            origin=meta["linkrot_origin"],
            chain=chain,
            method=method,
        )

    def on_error(self, failure: Any) -> Iterator[Any]:
        request = failure.request
        outcome = st.from_failure(failure)
        meta = request.meta
        if (
            meta["linkrot_kind"] == "external"
            and request.method == "HEAD"
            and outcome is Status.CONNECTION_ERROR
        ):
            yield self.url_request(
                request.url,
                depth=meta["linkrot_depth"],
                via=meta["linkrot_via"],
                origin=meta["linkrot_origin"],
                chain=meta["linkrot_chain"],
                method="GET",
            )
            return
        error = f"{type(failure.value).__name__}: {failure.value}"[:500]
        yield from self.finish(meta, meta["linkrot_chain"], outcome, final_url=request.url, error=error)

    # -- results -------------------------------------------------------------------------

    def finish(
        self,
        meta: dict,
        chain: list[dict],
        outcome: Status,
        *,
        response: Response | None = None,
        page: Page | None = None,
        final_url: str | None = None,
        error: str | None = None,
    ) -> Iterator[Any]:
        """Emit the result of a chain: for its origin, its unseen hops and its final page."""
        origin: str = meta["linkrot_origin"]
        depth = meta["linkrot_depth"]
        final_url = response.url if response is not None else final_url
        common = {
            "outcome": outcome.value,
            "http_status": response.status if response is not None else None,
            "final_url": final_url,
            "error": error,
        }
        for i, hop in enumerate(chain):
            url = hop["url"]
            if i and url in self.seen:
                continue
            if i:
                self.seen.add(url)
            yield self.record(
                UrlResult(
                    url=url,
                    is_internal=self.scope.is_internal(url),
                    depth=depth,
                    found_via=meta["linkrot_via"] if i == 0 else "redirect",
                    chain=chain[i:],
                    **summarize(url, chain[i:], final_url, outcome),
                    **common,
                )
            )
        if chain and (final_url in self.seen or not self.scope.is_internal(final_url or "")):
            return  # the final page is (or will be) recorded by its own request
        url = final_url if chain else origin
        self.seen.add(url)
        result = UrlResult(
            url=url,
            is_internal=self.scope.is_internal(url),
            depth=depth,
            found_via=meta["linkrot_via"] if not chain else "redirect",
            **common,
        )
        if response is not None:
            self.describe(result, response, page, depth)
        yield self.record(result)
        for link in result.links:
            if link.target_url not in self.seen:
                request = self.schedule(link, depth)
                if request is not None:
                    yield request
        while self.pending_traps:
            yield self.pending_traps.pop()

    def describe(self, result: UrlResult, response: Response, page: Page | None, depth: int | None) -> None:
        """Fill a result's page columns (and links) from the response that ended its chain."""
        headers = response.headers
        result.method = response.request.method
        result.content_type = (headers.get(b"Content-Type") or b"").decode("latin-1") or None
        length = headers.get(b"Content-Length")
        result.size = (
            len(response.body)
            if "download_stopped" not in response.flags
            else (int(length) if length and length.isdigit() else None)
        )
        latency = response.meta.get("download_latency")
        result.elapsed_ms = int(latency * 1000) if latency is not None else None
        x_robots = headers.getlist(b"X-Robots-Tag")
        result.x_robots_tag = ", ".join(v.decode("latin-1") for v in x_robots) or None
        if page is None:
            result.noindex, result.nofollow = robots_flags(result.x_robots_tag)
            return
        result.title = page.title
        result.h1 = page.h1
        result.meta_robots = page.meta_robots
        result.noindex, result.nofollow = robots_flags(page.meta_robots, result.x_robots_tag)
        base = absolute_url(response.url, page.base_href) if page.base_href else None
        base = base or response.url
        if page.canonical:
            result.canonical_url = absolute_url(base, page.canonical)
        if self.template is None or self.template.may_match(len(response.body)):
            result.soft_404, result.soft_404_reason, similarity = classify(
                self.template, page.title, visible_text(page), self.config.soft404_threshold
            )
            result.similarity = similarity or None
        result.links = self.links_of(page, base, result.nofollow)

    def links_of(self, page: Page, base: str, page_nofollow: bool) -> list[Link]:
        links: list[Link] = []
        on_page: set[str] = set()
        is_internal = self.scope.is_internal
        for anchor in page.anchors:
            target = absolute_url(base, anchor.href)
            if target is None:
                continue
            if target in on_page:
                continue
            on_page.add(target)
            nofollow = page_nofollow or not _NOFOLLOW_RELS.isdisjoint(anchor.rel.split())
            links.append(Link(target, anchor.text, anchor.rel, nofollow, is_internal(target)))
        self.crawler.stats.inc_value("linkrot/links", len(links))
        return links

    def schedule(self, link: Link, depth: int | None) -> Request | None:
        """A request for a newly found link, or None when a limit or an option says no."""
        cfg = self.config
        child_depth = None if depth is None else depth + 1
        if not link.is_internal:
            if not cfg.check_external:
                return None
            self.seen.add(link.target_url)
            return self.url_request(link.target_url, depth=child_depth, via="link")
        if cfg.max_depth and child_depth is not None and child_depth > cfg.max_depth:
            self.crawler.stats.inc_value("linkrot/limit/max_depth")
            if self.crawler.stats.get_value("linkrot/limit/max_depth") == 1:
                # once per crawl: every page past the limit is not a trap of its own (the count is a stat)
                self.report_trap(
                    link.target_url.split("?")[0] + ("?…" if "?" in link.target_url else ""),
                    f"deeper than LINKROT_MAX_DEPTH ({cfg.max_depth}) clicks from the start",
                    link.target_url,
                )
            return None
        if cfg.max_pages and self.pages_scheduled >= cfg.max_pages:
            self.crawler.stats.inc_value("linkrot/limit/max_pages")
            return None
        trap = self.traps.check(link.target_url)
        if trap is not None:
            self.crawler.stats.inc_value("linkrot/limit/trap")
            self.report_trap(*trap, link.target_url)
            return None
        self.seen.add(link.target_url)
        self.pages_scheduled += 1
        return self.url_request(link.target_url, depth=child_depth, via="link")

    def report_trap(self, pattern: str, reason: str, example: str) -> None:
        if self.traps.is_new(pattern, reason):
            logger.warning("linkrot: crawl trap? %s: %s; not following more of it", pattern, reason)
            self.pending_traps.append(TrapEntry(pattern, reason, example))

    def record(self, result: UrlResult) -> UrlResult:
        stats = self.crawler.stats
        stats.inc_value(f"linkrot/status/{result.outcome}")
        stats.inc_value("linkrot/pages" if result.is_internal else "linkrot/external")
        if result.outcome not in _OK_OUTCOMES:
            stats.inc_value("linkrot/broken")
        if result.hops:
            stats.inc_value("linkrot/chains")
        if result.soft_404:
            stats.inc_value("linkrot/soft_404")
        return result

    # -- robots.txt and sitemaps ------------------------------------------------------------

    def parse_robots(self, response: Response) -> Iterator[Request]:
        sitemaps = []
        if response.status == 200:
            sitemaps = list(sitemap_urls_from_robots(response.body, base_url=response.url))
        for url in sitemaps or [urljoin(response.url, "/sitemap.xml")]:
            yield self.sitemap_request(url)

    def sitemap_request(self, url: str) -> Request:
        self.sitemaps_requested += 1
        return self.aux_request(url, self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            logger.info("linkrot: no sitemap at %s (%s)", response.url, response.status)
            return
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
        try:
            sitemap = Sitemap(body)
        except Exception as exc:  # noqa: BLE001 - a bad sitemap is reported, not fatal
            logger.warning("linkrot: cannot read sitemap %s: %s", response.url, exc)
            return
        for entry in sitemap:
            url = absolute_url(response.url, entry.get("loc", ""))
            if url is None:
                continue
            if sitemap.type == "sitemapindex":
                if self.sitemaps_requested < _MAX_SITEMAPS:
                    yield self.sitemap_request(url)
            elif self.scope.is_internal(url) and url not in self.sitemap_urls:
                self.sitemap_urls[url] = response.url
                yield SitemapEntry(url, response.url)
        self.crawler.stats.set_value("linkrot/sitemap_urls", len(self.sitemap_urls))

    def on_aux_error(self, failure: Any) -> None:
        logger.info("linkrot: %s: %s", failure.request.url, st.from_failure(failure).value)

    def on_idle(self) -> None:
        """When the link crawl is done, crawl sitemap URLs no page linked to (orphans)."""
        if self.sitemap_seeded:
            return
        self.sitemap_seeded = True
        engine = self.crawler.engine
        added = 0
        for url in self.sitemap_urls:
            if url in self.seen:
                continue
            if self.config.max_pages and self.pages_scheduled >= self.config.max_pages:
                self.crawler.stats.inc_value("linkrot/limit/max_pages")
                break
            self.seen.add(url)
            self.pages_scheduled += 1
            engine.crawl(self.url_request(url, depth=None, via="sitemap"))
            added += 1
        if added:
            logger.info("linkrot: crawling %d sitemap URLs that no page links to", added)
            raise DontCloseSpider


_OK_OUTCOMES = frozenset(s.value for s in Status if not s.is_error)
