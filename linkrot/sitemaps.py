"""robots.txt ``Sitemap:`` lines and sitemap files: pure readers (bytes in, URLs out); where to read them."""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit, urlunsplit

from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from .urls import absolute_url, host_of

logger = logging.getLogger(__name__)

MAX_SITEMAPS = 500  # sitemap files read per crawl at most (an index may list thousands)
SITEMAP_TYPES = ("urlset", "sitemapindex")  # what a file must be to count as a sitemap read


def sitemaps_of_robots(status: int, body: bytes, robots_url: str) -> list[str]:
    """The sitemaps robots.txt names (none when it names none or does not answer 200)."""
    return list(sitemap_urls_from_robots(body, base_url=robots_url)) if status == 200 else []


def own_sitemap(start_url: str) -> str:
    """The conventional ``/sitemap.xml`` of the site, tried whatever robots.txt says."""
    return urljoin(start_url, "/sitemap.xml")


def on_site(url: str, start_url: str) -> str:
    """The same path and query on the crawled site: ``https://prod/a?b`` → ``http://staging/a?b``."""
    site, parts = urlsplit(start_url), urlsplit(url)
    return urlunsplit((site.scheme, site.netloc, parts.path or "/", parts.query, ""))


def where_to_read(
    url: str,
    start_url: str,
    *,
    internal: bool,
    asked: bool = False,
    listed_by: str | None = None,
    paths: bool = False,
    external: bool = True,
) -> str | None:
    """Where to fetch a sitemap, or None when it is on another host and must not be fetched.

    A sitemap of the site, or one the user named (``asked``), is read where it is. One on another
    host is read at its path on the site with ``paths`` (``-a sitemap_paths=1``); else where it
    is when external checks are on, or when the index listing it is on that same host (a named
    index's own files); else not at all: a crawl with external checks off sends nothing to a
    production host that robots.txt or a sitemap index happens to name.
    """
    if internal or asked:
        return url
    if paths:
        return on_site(url, start_url)
    if external or (listed_by is not None and host_of(listed_by) == host_of(url)):
        return url
    return None


def read_sitemap(body: bytes, url: str, max_size: int) -> tuple[str, list[str]]:
    """``(type, absolute URLs)`` of a sitemap or sitemap index (gzipped or not); a bad file is logged, empty."""
    try:
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body, max_size=max_size)
        sitemap = Sitemap(body)
        entries = [absolute_url(url, entry.get("loc", "")) for entry in sitemap]
    except Exception as exc:  # noqa: BLE001 - a bad sitemap is reported, not fatal
        logger.warning("linkrot: cannot read sitemap %s: %s", url, exc)
        return "", []
    return sitemap.type, [u for u in entries if u]
