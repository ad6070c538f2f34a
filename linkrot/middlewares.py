"""Downloader middlewares: honour ``429 Too Many Requests`` and its ``Retry-After``; log in to the site.

Scrapy's RetryMiddleware retries a 429 at once, which is what the server asked
us not to do.  This middleware waits what ``Retry-After`` says (seconds or an
HTTP date; ``LINKROT_RETRY_AFTER_DEFAULT`` when absent), capped at
``LINKROT_RETRY_AFTER_MAX``, then asks again, ``LINKROT_RETRY_AFTER_TIMES``
times at most.  A host that keeps answering 429 is then data (``rate_limited``).
While it waits the request holds its slot, so the host sees no other request
of ours in that slot: that is the point.

:class:`SiteLoginMiddleware` adds the credentials of a protected site (``linkrot.auth``) to the
requests for that site, and to no other.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from .config import RetryAfterConfig

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, default: float, now: datetime | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date)."""
    if value is None:
        return default
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    def __init__(self, crawler: Any) -> None:
        config = RetryAfterConfig.from_settings(crawler.settings)
        self.stats = crawler.stats
        self.times, self.default, self.maximum = config.times, config.default, config.maximum

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status != 429 or request.meta.get("linkrot_no_retry_after"):
            return response
        tries = request.meta.get("linkrot_retry_after", 0)
        wait = retry_after_seconds(response.headers.get(b"Retry-After"), self.default)
        if tries >= self.times or wait > self.maximum:
            self.stats.inc_value("linkrot/retry_after/gave_up")
            return response
        self.stats.inc_value("linkrot/retry_after/waited")
        logger.info("linkrot: %s answered 429; asking again in %.1f s", request.url, wait)
        await asyncio.sleep(wait)
        retry = request.replace(dont_filter=True)
        retry.meta["linkrot_retry_after"] = tries + 1
        return retry


class SiteLoginMiddleware:
    """``Authorization`` and the ``-a header`` headers on the requests for the crawled site only.

    Each request gets them on its way to the network and loses them on its way back, so a request
    that waits again (a retry, the disk queue, Redis) never holds a credential, and a redirect, a
    new request for the URL in ``Location``, gets them only if that URL is the site's.
    """

    def __init__(self, site_login: Any) -> None:
        self.site_login = site_login

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteLoginMiddleware:
        site_login = getattr(crawler.spider, "site_login", None)
        if site_login is None:
            raise NotConfigured  # no arguments: nothing to log in with (no message: not a warning)
        return cls(site_login)

    def process_request(self, request: Request) -> None:
        items = self.site_login.headers_for(request.url)
        if not items:
            self._strip(request)
        for name, value in items:
            request.headers[name] = value

    def process_response(self, request: Request, response: Response) -> Response:
        self._strip(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._strip(request)

    def _strip(self, request: Request) -> None:
        for name in self.site_login.names:
            request.headers.pop(name, None)
