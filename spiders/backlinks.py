"""``scrapy crawl backlinks -a file=export.csv``: is each backlink still on its referring page?

Imports the exports (format sniffed from the header) into the ``backlinks``
table, then fetches every referring page once, following its redirects hop by
hop, and judges each backlink on it (``linkrot.verify``).  Only a page whose
static HTML lacks the link and which has scripts is fetched again through
Chromium.  Each distinct target URL of ours is fetched once too.  Thin glue:
matching, verdicts, imports and storage live in the core.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.http import Response, TextResponse

from linkrot import anchors, render
from linkrot import status as st
from linkrot.backlinks_import import import_files
from linkrot.config import BacklinksConfig, as_bool
from linkrot.errors import ConfigError
from linkrot.extract import Page, parse_html, robots_flags, visible_text
from linkrot.guard import POLICY
from linkrot.items import BacklinkCheck, UrlResult
from linkrot.lock import RunLock
from linkrot.matching import LinkMatch, find_link, site_key
from linkrot.redirects import location_hop, next_step, refresh_hop, summarize
from linkrot.resolver import HostMap
from linkrot.status import Status
from linkrot.store import Store
from linkrot.urls import absolute_url, host_of, hostname_of
from linkrot.verify import judge

logger = logging.getLogger(__name__)

_BASE_META = {"dont_redirect": True, "handle_httpstatus_all": True, "dont_merge_cookies": True}
_QUEUE_BATCH = 500


class BacklinksSpider(Spider):
    name = "backlinks"

    config: BacklinksConfig

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        # referring pages sit on many hosts: many requests in flight, few per host
        settings.set(
            "CONCURRENT_REQUESTS", settings.getint("LINKROT_BACKLINKS_CONCURRENCY"), priority="spider"
        )
        settings.set(
            "CONCURRENT_REQUESTS_PER_DOMAIN", settings.getint("LINKROT_BACKLINKS_PER_HOST"), priority="spider"
        )
        settings.set(
            "SCHEDULER_PRIORITY_QUEUE", "scrapy.pqueues.DownloaderAwarePriorityQueue", priority="spider"
        )
        if str(settings.get("LINKROT_RENDER") or "auto").lower() == "never":
            return
        # the browser's handler, launch options, render slot and memory budget (linkrot.render)
        for name, value in render.configure(settings).items():
            settings.set(name, value, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> BacklinksSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = config = BacklinksConfig.from_settings(crawler.settings, kwargs)
        if config.render != "never" and str(crawler.settings.get("LINKROT_RENDER")).lower() == "never":
            # the browser's download handler is installed from settings, before spider arguments exist
            raise ConfigError(
                f"-a render={config.render} needs the browser: use -s LINKROT_RENDER={config.render}"
            )
        spider.lock = RunLock(crawler.settings.get("LINKROT_DB"), cls.name).acquire()
        crawler.signals.connect(spider.lock.release, signals.spider_closed)
        spider.run_args = {k: v for k, v in kwargs.items() if k != "resume"}
        spider.resume = as_bool("resume", kwargs.get("resume", crawler.settings.get("LINKROT_RESUME")))
        spider.site = config.site
        # import before the run starts: a file linkrot cannot read stops here, with its name and why
        store = Store(crawler.settings.get("LINKROT_DB"))
        try:
            spider.import_ids, spider.import_counts = import_files(store, config.files, site=config.site)
            if not store.backlink_count():
                raise ConfigError("no backlinks to check: import an export with -a file=PATH")
        finally:
            store.close()
        spider.targets_seen: set[str] = set()
        settings = crawler.settings
        # imported URLs are untrusted: no loopback, private or metadata addresses (linkrot.guard)
        POLICY.configure(
            enabled=not settings.getbool("LINKROT_ALLOW_PRIVATE"),
            allowed_hosts={hostname_of(config.site)} if config.site else set(),
            hostmap=HostMap.parse(settings.get("LINKROT_RESOLVE")),
        )
        spider.recheck = settings.getbool("LINKROT_CONFIRM_RECHECK")
        spider.brands = settings.getlist("LINKROT_BRANDS")
        spider.keywords = settings.getlist("LINKROT_KEYWORDS")
        spider._rules: dict[str, anchors.AnchorRules] = {}
        return spider

    def anchor_rules(self, target: str) -> anchors.AnchorRules:
        """Brands and keywords for anchors pointing at ``target`` (no brand given: the site's name)."""
        host = hostname_of(target)
        rules = self._rules.get(host)
        if rules is None:
            rules = self._rules[host] = anchors.AnchorRules.build(self.brands, self.keywords, host)
        return rules

    # -- start: stream the queue, never the whole list into the scheduler -------------

    async def start(self) -> AsyncIterator[Any]:
        store = Store(self.settings.get("LINKROT_DB"))
        try:
            store.attach_imports(self.run_id, self.import_ids)
            for key, value in self.import_counts.items():
                self.crawler.stats.set_value(f"linkrot/import/{key}", value)
            only_site = site_key(self.config.site) if self.config.site and not self.import_ids else None
            if getattr(self, "resumed", False):  # the queue of the run is there; skip what it checked
                self.targets_seen = store.done_urls(self.run_id)
            pages, backlinks = store.queue_checks(self.run_id, self.import_ids or None, only_site)
            stats = self.crawler.stats
            stats.set_value("linkrot/backlinks/pages_queued", pages)
            stats.set_value("linkrot/backlinks/queued", backlinks)
            logger.info("linkrot: checking %d backlinks on %d referring pages", backlinks, pages)
            after = 0
            engine = self.crawler.engine
            while True:
                pages = store.queued_pages(self.run_id, after, _QUEUE_BATCH)
                if not pages:
                    break
                for seq, source_url, backlinks in pages:
                    after = seq
                    if not backlinks:
                        continue
                    for _, target, _, _ in backlinks:
                        if target not in self.targets_seen:
                            self.targets_seen.add(target)
                            yield self.fetch(target, kind="target", chain=[])
                    while engine.needs_backout():
                        await asyncio.sleep(0.02)
                    stats.max_value("linkrot/backlinks/max_scheduled", self.scheduled(engine))
                    yield self.fetch(source_url, kind="page", chain=[], backlinks=backlinks)
        finally:
            store.close()

    @staticmethod
    def scheduled(engine: Any) -> int:
        """Requests waiting in the scheduler: stays small, the queue streams from SQLite."""
        slot = getattr(engine, "_slot", None)
        return len(slot.scheduler) if slot is not None and hasattr(slot.scheduler, "__len__") else 0

    def fetch(
        self,
        url: str,
        *,
        kind: str,
        chain: list[dict],
        backlinks: Any = None,
        origin: str | None = None,
        method: str = "GET",
        recheck: bool = False,
    ) -> Request:
        meta = {**_BASE_META, "linkrot_kind": kind, "linkrot_chain": chain, "linkrot_origin": origin or url}
        if recheck:
            meta["linkrot_recheck"] = True
        if backlinks is not None:
            meta["linkrot_backlinks"] = backlinks
        if kind == "target":
            meta["dont_obey_robotstxt"] = True  # our own URL: a status check, not crawling
        return Request(
            url,
            method=method,
            callback=self.on_response,
            errback=self.on_error,
            meta=meta,
            dont_filter=True,
            priority=len(chain),
        )

    # -- responses ------------------------------------------------------------------

    def on_response(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        chain: list[dict] = meta["linkrot_chain"]
        code = response.status
        hop = location_hop(response.url, code, response.headers.get(b"Location"))
        page = None
        if hop is None and 200 <= code < 300 and isinstance(response, TextResponse):
            page = parse_html(response.body, response.encoding)
            hop = refresh_hop(response.url, code, page.refresh_url)
        if hop is not None:
            yield from self.follow(response, [*chain, hop[0]], hop[1])
            return
        outcome = st.from_http(code)
        if meta["linkrot_kind"] == "target":
            yield self.target_result(meta, chain, outcome, response.url, code)
        else:
            yield from self.judge_page(meta, chain, outcome, response, page)

    def follow(self, response: Response, chain: list[dict], location: str) -> Iterator[Any]:
        meta = response.meta
        step = next_step(chain, response.url, location, self.config.max_hops)
        if step.next_url is None:
            outcome = step.outcome or Status.INVALID_RESPONSE
            if meta["linkrot_kind"] == "target":
                yield self.target_result(meta, chain, outcome, response.url, None)
            else:
                yield from self.checks(meta, chain, outcome, code=None, final_url=response.url)
            return
        method = "GET" if response.status == 303 else response.request.method
        yield self.fetch(
            step.next_url,
            kind=meta["linkrot_kind"],
            chain=chain,
            backlinks=meta.get("linkrot_backlinks"),
            origin=meta["linkrot_origin"],
            method=method,
            recheck=bool(meta.get("linkrot_recheck")),
        )

    def on_error(self, failure: Any) -> Iterator[Any]:
        request = failure.request
        meta = request.meta
        outcome = st.from_failure(failure)
        error = f"{type(failure.value).__name__}: {failure.value}"[:500]
        refusal = POLICY.refusal(hostname_of(request.url)) if outcome is Status.DNS_ERROR else None
        if refusal:  # the address guard refused the name after DNS; Twisted calls that a failed lookup
            outcome, error = Status.BLOCKED, f"ForbiddenAddressError: {refusal}"
        if meta["linkrot_kind"] == "render":
            # the browser failed: the static reading stands, with the reason noted
            logger.info("linkrot: rendering %s failed: %s", request.url, error)
            self.crawler.stats.inc_value("linkrot/render/failed")
            yield from self.after_render(meta, meta["linkrot_static_page"], error=f"render failed: {error}")
            return
        if meta["linkrot_kind"] == "target":
            yield self.target_result(meta, meta["linkrot_chain"], outcome, request.url, None, error)
            return
        yield from self.checks(
            meta, meta["linkrot_chain"], outcome, code=None, final_url=request.url, error=error
        )

    # -- our side of the link ----------------------------------------------------------

    def target_result(
        self,
        meta: dict,
        chain: list[dict],
        outcome: Status,
        final_url: str,
        code: int | None,
        error: str | None = None,
    ) -> UrlResult:
        origin = meta["linkrot_origin"]
        self.crawler.stats.inc_value(f"linkrot/target/{outcome.value}")
        return UrlResult(
            url=origin,
            outcome=outcome.value,
            is_internal=True,
            http_status=code,
            final_url=final_url,
            found_via="backlink",
            chain=chain,
            error=error,
            **summarize(origin, chain, final_url, outcome),
        )

    # -- the referring page --------------------------------------------------------------

    def judge_page(
        self, meta: dict, chain: list[dict], outcome: Status, response: Response, page: Page | None
    ) -> Iterator[Any]:
        headers = {
            "x_robots_tag": ", ".join(v.decode("latin-1") for v in response.headers.getlist(b"X-Robots-Tag"))
        }
        matches = None
        if outcome is Status.OK and page is not None:
            nofollow = robots_flags(page.meta_robots, headers["x_robots_tag"] or None)[1]
            matches = self.find_links(meta["linkrot_backlinks"], page, response.url, nofollow)
            if self.needs_render(page, matches):
                yield self.render_request(meta, chain, response, page, headers)
                return
        yield from self.checks(
            meta,
            chain,
            outcome,
            code=response.status,
            final_url=response.url,
            page=page,
            headers=headers,
            matches=matches,
            latency=response.meta.get("download_latency"),
        )

    def needs_render(self, page: Page, matches: dict[int, LinkMatch | None]) -> bool:
        mode = self.config.render
        if mode == "never":
            return False
        if mode == "always":
            return True
        return page.has_scripts and any(match is None for match in matches.values())

    @staticmethod
    def find_links(
        backlinks: list, page: Page, page_url: str, page_nofollow: bool
    ) -> dict[int, LinkMatch | None]:
        """The link of each backlink on the page (None: not there), found once per page reading."""
        return {
            backlink_id: find_link(
                page, page_url, target, any_url_of_site=bool(any_target), page_nofollow=page_nofollow
            )
            for backlink_id, target, any_target, _ in backlinks
        }

    @staticmethod
    def sites_of(meta: dict) -> list[str]:
        """The sites (host without www. and port) the page's backlinks point to."""
        return sorted({key for _, target, _, _ in meta["linkrot_backlinks"] if (key := site_key(target))})

    def render_request(
        self, meta: dict, chain: list[dict], response: Response, page: Page, headers: dict
    ) -> Request:
        self.crawler.stats.inc_value("linkrot/render/requested")
        render_meta = {
            **meta,
            "linkrot_kind": "render",
            "linkrot_static_page": page,
            "linkrot_code": response.status,
            "linkrot_final": response.url,
            "linkrot_headers": headers,
            **render.request_meta(self.config.render_wait, self.sites_of(meta)),
        }
        for key in ("download_latency", "download_timeout", "depth", "retry_times"):
            render_meta.pop(key, None)
        return Request(
            response.url,
            callback=self.on_rendered,
            errback=self.on_error,
            meta=render_meta,
            dont_filter=True,
            priority=10,
        )

    def on_rendered(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        self.crawler.stats.inc_value("linkrot/render/done")
        page = parse_html(response.body, response.encoding) if isinstance(response, TextResponse) else Page()
        yield from self.after_render(meta, page, rendered=True)

    def after_render(
        self, meta: dict, page: Page, *, rendered: bool = False, error: str | None = None
    ) -> Iterator[Any]:
        """The checks of a page sent to the browser: its DOM when rendered, its static HTML when that failed."""
        yield from self.checks(
            meta,
            meta["linkrot_chain"],
            Status.OK,
            code=meta["linkrot_code"],
            final_url=meta["linkrot_final"],
            page=page,
            headers=meta["linkrot_headers"],
            rendered=rendered,
            error=error,
        )

    def checks(
        self,
        meta: dict,
        chain: list[dict],
        outcome: Status,
        *,
        code: int | None,
        final_url: str | None,
        page: Page | None = None,
        headers: dict | None = None,
        rendered: bool = False,
        error: str | None = None,
        latency: float | None = None,
        matches: dict[int, LinkMatch | None] | None = None,
    ) -> Iterator[BacklinkCheck]:
        """One check per backlink of the page, from what the page (static or rendered) holds.

        ``matches``: the links already found on this same reading of the page (``find_links``).
        """
        source = meta["linkrot_origin"]
        x_robots = (headers or {}).get("x_robots_tag") or None
        noindex = nofollow = False
        canonical = None
        noindex_via = "meta robots"
        if page is not None:
            noindex, nofollow = robots_flags(page.meta_robots, x_robots)
            if noindex and not robots_flags(page.meta_robots)[0]:
                noindex_via = "X-Robots-Tag"
            base = absolute_url(final_url or source, page.base_href) if page.base_href else None
            if page.canonical:
                canonical = absolute_url(base or final_url or source, page.canonical)
        results = []
        text = None
        rechecked = bool(meta.get("linkrot_recheck"))
        if matches is None and page is not None and outcome is Status.OK:
            matches = self.find_links(meta["linkrot_backlinks"], page, final_url or source, nofollow)
        for backlink_id, target, _, standing in meta["linkrot_backlinks"]:
            match = matches.get(backlink_id) if matches else None
            verdict = judge(
                source_url=source,
                final_url=final_url,
                outcome=outcome,
                code=code,
                noindex=noindex,
                noindex_via=noindex_via,
                canonical_url=canonical,
                match=match,
                rendered=rendered,
                target_url=target,
                error=error,
                truncated=page.truncated if page is not None else None,
            )
            if (
                self.recheck
                and not rechecked
                and match is None
                and not verdict.verdict.is_transient
                and standing != 0
            ):
                # a removal that would open a pending loss: ask once more, now, before believing it
                self.crawler.stats.inc_value("linkrot/recheck/requested")
                yield self.fetch(
                    source, kind="page", chain=[], backlinks=meta["linkrot_backlinks"], recheck=True
                )
                return
            mentions = False
            if match is None and page is not None and outcome is Status.OK:
                text = visible_text(page) if text is None else text
                mentions = anchors.mentions(text, self.anchor_rules(target), host_of(target))
            results.append((backlink_id, target, verdict, match, mentions))
        for backlink_id, target, verdict, match, mentions in results:
            self.crawler.stats.inc_value(f"linkrot/backlink/{verdict.verdict.value}")
            if mentions:
                self.crawler.stats.inc_value("linkrot/backlink/unlinked_mentions")
            yield BacklinkCheck(
                backlink_id=backlink_id,
                status=verdict.verdict.value,
                reason=verdict.reason,
                outcome=outcome.value,
                http_status=code,
                final_url=final_url,
                chain=chain,
                link_found=match is not None,
                rendered=rendered,
                linked_url=match.linked_url if match else None,
                anchor_text=match.anchor_text if match else None,
                rel=match.rel if match else None,
                nofollow=bool(match and match.nofollow),
                noindex=noindex,
                canonical_url=canonical,
                target_changed=bool(match and match.target_changed),
                evidence=match.evidence if match else None,
                error=error,
                elapsed_ms=int(latency * 1000) if latency is not None else None,
                anchor_class=anchors.classify(match.anchor_text, self.anchor_rules(target))
                if match
                else None,
                mentions_site=mentions,
                rechecked=rechecked,
            )
