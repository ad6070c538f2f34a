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
from urllib.parse import unquote

from .extract import Page, parse_html, robots_flags
from .items import Link
from .matching import rel_is_nofollow
from .urls import absolute_url, document_base, resolve

_ALWAYS_THERE = frozenset({"", "top"})  # a browser scrolls to the top for these: never missing


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
    encoding: str | None = None  # the page's: browsers encode the query of its links in it


def header_values(values: list[bytes]) -> str | None:
    """Several header lines of one name as one value (``X-Robots-Tag`` may be sent more than once)."""
    return ", ".join(v.decode("latin-1") for v in values) or None


def read_page(
    url: str,
    body: bytes,
    encoding: str | None,
    x_robots_tag: str | None = None,
    *,
    anchor_ids: bool = False,
) -> PageFacts:
    """Parse a page's bytes and read its facts (``anchor_ids``: the fragments it defines, too)."""
    return facts_of(parse_html(body, encoding, anchor_ids=anchor_ids), url, x_robots_tag, encoding)


def facts_of(page: Page, url: str, x_robots_tag: str | None = None, encoding: str | None = None) -> PageFacts:
    """The facts of an already parsed page (a rendered DOM is parsed by its caller)."""
    noindex, nofollow = robots_flags(page.meta_robots, x_robots_tag)
    via = "X-Robots-Tag" if noindex and not robots_flags(page.meta_robots)[0] else "meta robots"
    base = document_base(url, page.base_href)
    canonical = absolute_url(base, page.canonical) if page.canonical else None
    return PageFacts(page, url, base, x_robots_tag, noindex, nofollow, via, canonical, encoding)


def links_of(
    facts: PageFacts, is_internal: Callable[[str], bool], *, resources: bool = True, fragments: bool = False
) -> list[Link]:
    """Every link of the page (``resources``: the resources it loads too), each target once.

    The first link to a URL wins (a text link before an image of the same URL keeps its anchor
    text).  A malformed href is a link too, kept as written, with why it is no URL.  With
    ``fragments``, each link to a page of the site keeps the ``#sections`` it names.
    """
    links: dict[str, Link] = {}
    for link in facts.page.links:
        is_page = link.is_page
        if not (is_page or resources):
            continue
        target = resolve(facts.base, link.href, facts.encoding)
        if target.skipped:
            continue
        url = target.url or link.href
        found = links.get(url)
        if found is None:
            if target.invalid:
                found = Link(
                    url, link.text, link.rel, False, False, link.kind.value, is_page, invalid=target.invalid
                )
            else:
                nofollow = facts.nofollow or rel_is_nofollow(link.rel)
                found = Link(url, link.text, link.rel, nofollow, is_internal(url), link.kind.value, is_page)
            links[url] = found
        elif is_page and not found.is_page:
            # an image of the URL came first, a link people follow to it too: it is a page to crawl
            found.is_page, found.kind = True, link.kind.value
            found.anchor_text = found.anchor_text or link.text
        if fragments and target.fragment and found.is_internal and is_page:
            fragment = unquote(target.fragment)
            if fragment not in _ALWAYS_THERE and fragment not in found.fragments:
                found.fragments.append(fragment)
    return list(links.values())
