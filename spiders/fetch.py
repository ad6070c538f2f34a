"""The fetch base of both spiders: one URL, followed hop by hop, to where it ends.

Scrapy's RedirectMiddleware is off: a link checker must see every hop (status
and raw ``Location``), loops and limits.  :class:`HopSpider` asks for a URL,
follows ``Location`` and 0-second meta refreshes itself, asks again with GET
when a HEAD is refused, turns download errors into statuses, and calls one
hook, :meth:`HopSpider.arrived`, when the URL has ended somewhere: a final
answer, a failure, a loop or the hop limit.  A spider is then "what to
request" and "which pure function reads the answer".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response

from linkrot import status as st
from linkrot.guard import POLICY, ForbiddenAddressError
from linkrot.reader import PageFacts
from linkrot.redirects import location_hop, next_step, refresh_hop
from linkrot.status import REDIRECT_CODES, Status
from linkrot.urls import absolute_url, hostname_of

logger = logging.getLogger(__name__)

# every answer reaches the spider (a 404 is data), redirects are followed here, no cookie jar
BASE_META = {"dont_redirect": True, "handle_httpstatus_all": True, "dont_merge_cookies": True}
# meta keys a hop inherits from the request before it: the spider's own and robots.txt's
_CARRIED = ("dont_obey_robotstxt", "download_slot")


@dataclass(slots=True)
class Ending:
    """Where one URL ended, after its hops: the input of a spider's pure readers."""

    meta: dict  # the meta of the last request (the spider's ``linkrot_*`` keys)
    chain: list[dict]  # the hops, ``{url, status, location}`` each
    outcome: Status
    final_url: str
    response: Response | None = None  # the final answer, when there was one
    facts: PageFacts | None = None  # the final page, when the spider reads it (``HopSpider.read``)
    error: str | None = None  # what went wrong, in one line

    @property
    def origin(self) -> str:
        return self.meta["linkrot_origin"]

    @property
    def code(self) -> int | None:
        return self.response.status if self.response is not None else None


def describe_failure(failure: Any) -> str:
    return f"{type(failure.value).__name__}: {failure.value}"[:500]


class HopSpider(Spider):
    """Base of the ``site`` and ``backlinks`` spiders; subclasses implement :meth:`arrived`."""

    max_hops = 10  # REDIRECT_MAX_TIMES; set from the spider's config

    def fetch(
        self,
        url: str,
        *,
        meta: dict | None = None,
        method: str = "GET",
        priority: int = 0,
        chain: Iterable[dict] = (),
        origin: str | None = None,
    ) -> Request:
        """A request for ``url``; its hops keep ``meta`` and ``origin`` (the URL the chain started at)."""
        return Request(
            url,
            method=method,
            callback=self.on_response,
            errback=self.on_error,
            meta={**BASE_META, **(meta or {}), "linkrot_chain": list(chain), "linkrot_origin": origin or url},
            priority=priority,
            dont_filter=True,  # hops and re-checks must never be dropped as duplicates
        )

    def read(self, response: Response) -> PageFacts | None:
        """The facts of a 2xx answer this spider reads as a page (None: not read). Override."""
        return None

    def arrived(self, end: Ending) -> Iterator[Any]:
        """The URL of ``end.origin`` ended: yield items and new requests. Override."""
        raise NotImplementedError

    async def fetch_now(self, url: str, meta: dict) -> Response:
        """Download ``url`` at once, outside the schedule, following its redirects (raises on failure)."""
        response = None
        for _ in range(self.max_hops):
            request = Request(url, meta={**BASE_META, **meta}, dont_filter=True)
            response = await self.crawler.engine.download_async(request)
            location = response.headers.get(b"Location")
            if response.status not in REDIRECT_CODES or not location:
                break
            url = absolute_url(response.url, location.decode("latin-1")) or url
        return response

    # -- the machinery ---------------------------------------------------------------

    def on_response(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        chain: list[dict] = meta["linkrot_chain"]
        code = response.status
        hop = location_hop(response.url, code, response.headers.get(b"Location"))
        facts = None
        if hop is None and 200 <= code < 300:
            facts = self.read(response)
            if facts is not None:
                hop = refresh_hop(response.url, code, facts.page.refresh_url)
        if hop is not None:
            yield from self._follow(response, [*chain, hop[0]], hop[1])
        elif response.request.method == "HEAD" and code >= 400:
            # HEAD refused or mishandled (405, 403, 404 from some servers): ask again with GET
            yield self._again(response.request, response.url, chain, "GET")
        else:
            yield from self.arrived(Ending(meta, chain, st.from_http(code), response.url, response, facts))

    def _follow(self, response: Response, chain: list[dict], location: str) -> Iterator[Any]:
        step = next_step(chain, response.url, location, self.max_hops)
        if step.next_url is None:  # a loop, the hop limit, or a Location that is no URL
            outcome = step.outcome or Status.INVALID_RESPONSE
            yield from self.arrived(Ending(response.meta, chain, outcome, response.url))
            return
        # 303 See Other is answered with a GET (RFC 9110 15.4.4); other hops keep the method
        method = "GET" if response.status == 303 else response.request.method
        yield self._again(response.request, step.next_url, chain, method)

    def _again(self, request: Request, url: str, chain: list[dict], method: str) -> Request:
        meta = request.meta
        carried = {k: v for k, v in meta.items() if k.startswith("linkrot_") or k in _CARRIED}
        # a hop goes before new URLs: chains finish early and their memory is freed
        return self.fetch(
            url,
            meta=carried,
            method=method,
            priority=request.priority + 1,
            chain=chain,
            origin=meta["linkrot_origin"],
        )

    def on_error(self, failure: Any) -> Iterator[Any]:
        request = failure.request
        meta = request.meta
        outcome, error = self.failure_status(failure)
        if request.method == "HEAD" and outcome is Status.CONNECTION_ERROR:
            # some servers drop the connection on HEAD
            yield self._again(request, request.url, meta["linkrot_chain"], "GET")
            return
        yield from self.arrived(Ending(meta, meta["linkrot_chain"], outcome, request.url, error=error))

    def failure_status(self, failure: Any) -> tuple[Status, str]:
        outcome = st.from_failure(failure)
        url = failure.request.url
        refusal = None
        if isinstance(failure.value, ForbiddenAddressError):  # an IP literal (linkrot.guard)
            refusal = str(failure.value)
        elif outcome is Status.DNS_ERROR:  # a name refused after DNS: Twisted calls that a failed lookup
            refusal = POLICY.refusal(hostname_of(url))
        if refusal:
            logger.warning("linkrot: %s %s", url, refusal)  # one line per refused URL, no traceback
            return Status.BLOCKED, f"ForbiddenAddressError: {refusal}"
        return outcome, describe_failure(failure)
