"""robots.txt ``Sitemap:`` lines and sitemap files: pure readers (bytes in, URLs out)."""

from __future__ import annotations

import logging
from urllib.parse import urljoin

from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from .urls import absolute_url

logger = logging.getLogger(__name__)

MAX_SITEMAPS = 500  # sitemap files read per crawl at most (an index may list thousands)


def sitemaps_of_robots(status: int, body: bytes, robots_url: str) -> list[str]:
    """The sitemaps robots.txt names, or the conventional ``/sitemap.xml`` when it names none."""
    found = list(sitemap_urls_from_robots(body, base_url=robots_url)) if status == 200 else []
    return found or [urljoin(robots_url, "/sitemap.xml")]


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
