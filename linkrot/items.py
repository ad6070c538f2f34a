"""Typed items: one shape per fact.  A success and a failure are the same type."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Link:
    """One edge found on a page: a link people follow, or a resource the page loads."""

    target_url: str  # absolute, normalized; for a malformed href, the href as written
    anchor_text: str
    rel: str
    nofollow: bool
    is_internal: bool
    kind: str = "a"  # a linkrot.extract.LinkKind value
    is_page: bool = True  # navigated to (crawled when of the site); False: a resource, checked only
    fragments: list[str] = field(default_factory=list)  # ``#section``s linked (percent-decoded), when checked
    invalid: str | None = None  # why the href is no URL (status invalid_url); None: a URL


@dataclass(slots=True)
class UrlResult:
    """The outcome of fetching one URL (after following its redirect chain)."""

    url: str
    outcome: str  # a linkrot.status.Status value
    is_internal: bool
    http_status: int | None = None  # final HTTP status, None when nothing answered
    final_url: str | None = None
    found_via: str = "link"  # start, link, sitemap, redirect
    depth: int | None = None
    method: str = "GET"
    content_type: str | None = None
    size: int | None = None
    elapsed_ms: int | None = None
    title: str | None = None
    h1: str | None = None
    canonical_url: str | None = None
    meta_robots: str | None = None
    x_robots_tag: str | None = None
    noindex: bool = False
    nofollow: bool = False
    chain: list[dict] = field(default_factory=list)
    hops: int = 0
    is_loop: int = 0
    temp_redirect: int = 0
    to_home: int = 0
    soft_404: bool = False
    soft_404_reason: str | None = None
    similarity: float | None = None
    soft_404_explanation: str | None = None  # why, in words: "its main content is 97% the same as..."
    error: str | None = None
    links: list[Link] = field(default_factory=list)
    anchor_ids: frozenset[str] | None = None  # ids and names of the page, when fragments are checked
    is_resource: bool = False  # checked as a resource (HEAD, not parsed): never replaces a page's row


@dataclass(slots=True)
class TrapEntry:
    """A URL space of the site the crawl stopped following (linkrot.traps)."""

    pattern: str
    reason: str
    example: str


@dataclass(slots=True)
class SitemapEntry:
    """A URL listed in one of the site's sitemaps."""

    url: str
    sitemap: str


@dataclass(slots=True)
class BacklinkCheck:
    """The check of one imported backlink on its referring page, in one run."""

    backlink_id: int
    status: str  # a linkrot.status.Verdict value
    reason: str  # why, in words: what a user reads next to a lost link
    outcome: str  # how fetching the referring page ended (a linkrot.status.Status value)
    http_status: int | None = None
    final_url: str | None = None
    chain: list[dict] = field(default_factory=list)
    link_found: bool = False
    rendered: bool = False
    linked_url: str | None = None
    anchor_text: str | None = None
    rel: str | None = None
    nofollow: bool = False
    noindex: bool = False
    canonical_url: str | None = None
    target_changed: bool = False
    evidence: str | None = None
    error: str | None = None
    elapsed_ms: int | None = None
    anchor_class: str | None = None  # linkrot.anchors.CLASSES
    mentions_site: bool = False  # no link, but the page still names the site or a brand
    rechecked: bool = False  # re-fetched at once in the same run to confirm a removal
