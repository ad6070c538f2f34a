"""The browser, for referring pages whose links a script builds (``LINKROT_RENDER``).

A part of :class:`spiders.backlinks.BacklinksSpider`, kept apart so each file reads in one
sitting.  A page goes to Chromium only when its static HTML lacks a link and it has
scripts; renders are handed to the downloader while it has room for them (``render_room``),
the others wait in ``held``, so queued renders never hold up plain fetches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response, TextResponse

from linkrot import render
from linkrot.checks import Reading, sites_of
from linkrot.extract import Page, parse_html
from linkrot.reader import facts_of
from linkrot.status import Status

from .fetch import BASE_META, Ending, describe_failure

logger = logging.getLogger(__name__)


class RenderMixin:
    """Needs ``config``, ``crawler``, ``render_room``, ``held`` and ``checks`` from the spider."""

    def render_request(self, end: Ending) -> Request:
        self.crawler.stats.inc_value("linkrot/render/requested")
        meta = {**BASE_META, **{k: v for k, v in end.meta.items() if k.startswith("linkrot_")}}
        meta.update(render.request_meta(self.config.render_wait, sites_of(meta["linkrot_backlinks"])))
        meta["linkrot_static"] = Reading(
            end.origin, Status.OK, end.code, end.final_url, end.chain, end.facts
        )  # what stands if the browser fails
        return Request(
            end.final_url,
            callback=self.on_rendered,
            errback=self.on_render_error,
            meta=meta,
            dont_filter=True,
            priority=10,
        )

    def hold_render(self, request: Request | None = None) -> Iterator[Request]:
        """Hand renders to the downloader while it has room for them (``request``: one more to render)."""
        if request is not None:
            self.held.append(request)
        while self.held and self.render_room > 0:
            self.render_room -= 1
            yield self.held.popleft()

    def on_rendered(self, response: Response) -> Iterator[Any]:
        self.render_room += 1
        yield from self.hold_render()
        self.crawler.stats.inc_value("linkrot/render/done")
        static: Reading = response.meta["linkrot_static"]
        page = parse_html(response.body, response.encoding) if isinstance(response, TextResponse) else Page()
        static.facts = facts_of(page, static.final_url, static.facts.x_robots_tag)
        static.rendered = True
        yield from self.checks(response.meta, static)

    def on_render_error(self, failure: Any) -> Iterator[Any]:
        self.render_room += 1
        yield from self.hold_render()
        # the browser failed: the static reading stands, with the reason noted
        error = describe_failure(failure)
        logger.info("linkrot: rendering %s failed: %s", failure.request.url, error)
        self.crawler.stats.inc_value("linkrot/render/failed")
        static: Reading = failure.request.meta["linkrot_static"]
        static.error = f"render failed: {error}"
        yield from self.checks(failure.request.meta, static)
