"""One reader of a fetched page, shared by both spiders: bytes, URL and headers in, facts out.

The site spider records the facts of its pages and follows their links; the
backlinks spider judges the links of a referring page against its imported
backlinks.  Both need the same things from a page - its base URL, robots
directives (meta and ``X-Robots-Tag``), canonical URL, refresh target and
links - and read them here, once per reading of the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .extract import Page, parse_html, robots_flags
from .items import Link
from .matching import rel_is_nofollow
from .urls import absolute_url


@dataclass(slots=True)
class PageFacts:
    """What one reading of a page (static HTML or a rendered DOM) says."""

    page: Page
    url: str  # where the page was read (the last hop of its chain)
    base: str  # what its relative links resolve against (``<base href>`` honoured)
    x_robots_tag: str | None
    noindex: bool
    nofollow: bool  # page-level: meta robots or X-Robots-Tag
    noindex_via: str  # "meta robots" or "X-Robots-Tag": what to tell a user
    canonical_url: str | None


def header_values(values: list[bytes]) -> str | None:
    """Several header lines of one name as one value (``X-Robots-Tag`` may be sent more than once)."""
    return ", ".join(v.decode("latin-1") for v in values) or None


def read_page(url: str, body: bytes, encoding: str | None, x_robots_tag: str | None = None) -> PageFacts:
    """Parse a page's bytes and read its facts."""
    return facts_of(parse_html(body, encoding), url, x_robots_tag)


def facts_of(page: Page, url: str, x_robots_tag: str | None = None) -> PageFacts:
    """The facts of an already parsed page (a rendered DOM is parsed by its caller)."""
    noindex, nofollow = robots_flags(page.meta_robots, x_robots_tag)
    via = "X-Robots-Tag" if noindex and not robots_flags(page.meta_robots)[0] else "meta robots"
    base = (absolute_url(url, page.base_href) if page.base_href else None) or url
    canonical = absolute_url(base, page.canonical) if page.canonical else None
    return PageFacts(page, url, base, x_robots_tag, noindex, nofollow, via, canonical)


def links_of(facts: PageFacts, is_internal: Callable[[str], bool]) -> list[Link]:
    """The page's links, absolute, each target once (the first anchor to it wins)."""
    links: list[Link] = []
    on_page: set[str] = set()
    for anchor in facts.page.anchors:
        target = absolute_url(facts.base, anchor.href)
        if target is None or target in on_page:
            continue
        on_page.add(target)
        nofollow = facts.nofollow or rel_is_nofollow(anchor.rel)
        links.append(Link(target, anchor.text, anchor.rel, nofollow, is_internal(target)))
    return links
