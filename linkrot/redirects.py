"""Redirect chains, followed hop by hop by the spiders themselves.

Scrapy's RedirectMiddleware loses each hop's raw ``Location`` and silently
drops a hop whose target was already requested
(https://github.com/scrapy/scrapy/issues/1225), so linkrot requests every hop
itself (``dont_redirect``, ``dont_filter``) and keeps the chain here.  A hop is
``{"url", "status", "location"}``; a meta refresh is a hop with the page's
status (200) and ``"via": "meta_refresh"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .status import TEMPORARY_REDIRECT_CODES, Status
from .urls import absolute_url


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after a redirect answer: follow ``next_url``, or stop with ``outcome``."""

    next_url: str | None
    outcome: Status | None


def next_step(chain: list[dict], url: str, location: str, max_hops: int) -> Step:
    """Decide on the hop just appended to ``chain`` (whose target is ``location``)."""
    target = absolute_url(url, location)
    if target is None:  # a Location that is not an http(s) URL
        return Step(None, Status.INVALID_RESPONSE)
    if target == url or any(hop["url"] == target for hop in chain):
        return Step(None, Status.REDIRECT_LOOP)
    if len(chain) >= max_hops:
        return Step(None, Status.TOO_MANY_REDIRECTS)
    return Step(target, None)


def is_home(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def summarize(origin: str, chain: list[dict], final_url: str | None, outcome: Status) -> dict:
    """The columns a chain contributes to its URL's row."""
    return {
        "hops": len(chain),
        "is_loop": int(outcome is Status.REDIRECT_LOOP),
        "temp_redirect": int(any(hop["status"] in TEMPORARY_REDIRECT_CODES for hop in chain)),
        "to_home": int(bool(chain) and final_url is not None and is_home(final_url) and not is_home(origin)),
    }


def location_hop(url: str, status: int, location: bytes | None) -> tuple[dict, str] | None:
    """The hop a 3xx answer with a ``Location`` makes, and that raw Location (None: not a redirect)."""
    if not (300 <= status < 400 and location):
        return None
    raw = location.decode("latin-1")
    return {"url": url, "status": status, "location": raw}, raw


def refresh_hop(url: str, status: int, refresh_url: str | None) -> tuple[dict, str] | None:
    """The hop an immediate ``<meta http-equiv="refresh">`` to another URL makes (None: no such refresh).

    ``refresh_url`` is ``Page.refresh_url``: set only for a refresh under one
    second.  A delayed one is a page people see; its target is a ``meta`` link
    of the page (``Page.links``) and the page's own links are read.
    """
    if not refresh_url:
        return None
    target = absolute_url(url, refresh_url)
    if not target or target == url:
        return None
    return {"url": url, "status": status, "location": refresh_url, "via": "meta_refresh"}, refresh_url
