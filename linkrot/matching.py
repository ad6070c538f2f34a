"""Is the backlink still on the referring page?  Pure link matching.

A link is found when an ``<a href>`` of the document resolves (honouring
``<base href>``, protocol-relative and relative forms) to the target URL,
comparing case-insensitively on scheme and host and ignoring the fragment, the
default port, http vs https and a trailing-slash difference: :func:`link_key`.
A link to another URL of the target's site (same host, ignoring a leading
``www.`` and the port: :func:`site_key`) also counts, with ``target_changed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

from .extract import Anchor, Page, squash
from .urls import absolute_url, normalize_url

NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})
_EVIDENCE_CONTEXT = 80  # characters of text kept on each side of the link
_EVIDENCE_MAX = 400


def link_key(url: str | None) -> str | None:
    """The form two URLs share when they are "the same link" (None: not an http(s) URL)."""
    if not url:
        return None
    normal = normalize_url(url)
    if normal is None:
        return None
    parts = urlsplit(normal)
    host = parts.netloc.rpartition("@")[2]  # normalize_url already dropped the default port
    path = parts.path.rstrip("/")
    return f"{host}{path}?{parts.query}" if parts.query else f"{host}{path}"


def site_key(url: str | None) -> str | None:
    """The host of a URL without a leading ``www.`` and without the port."""
    if not url:
        return None
    normal = normalize_url(url)
    if normal is None:
        return None
    host = urlsplit(normal).hostname or ""
    return host[4:] if host.startswith("www.") else host


def same_page(a: str | None, b: str | None) -> bool:
    """Whether two URLs are the same page under the link-matching rules."""
    return a is not None and b is not None and link_key(a) == link_key(b)


@dataclass(slots=True)
class LinkMatch:
    """The link found on a referring page."""

    linked_url: str  # the href as found, made absolute
    anchor_text: str
    rel: str
    nofollow: bool  # rel nofollow/ugc/sponsored, or page-level nofollow
    target_changed: bool  # it points to another URL of the target's site
    evidence: str


def rel_is_nofollow(rel: str) -> bool:
    return not NOFOLLOW_RELS.isdisjoint(rel.lower().split())


def find_link(
    page: Page, page_url: str, target_url: str, *, any_url_of_site: bool = False, page_nofollow: bool = False
) -> LinkMatch | None:
    """The best link to ``target_url`` (or, failing that, to its site) on ``page``.

    An exact link beats a link elsewhere on the site; a followed link beats a
    nofollow one; otherwise the first in document order wins.  With
    ``any_url_of_site`` (Search Console exports have no target) any link to the
    site is a match and never counts as ``target_changed``.
    """
    base = page_url
    if page.base_href:
        base = absolute_url(page_url, page.base_href) or page_url
    want_key = None if any_url_of_site else link_key(target_url)
    want_site = site_key(target_url)
    best: tuple[int, Anchor, str] | None = None
    for anchor in page.anchors:
        resolved = absolute_url(base, anchor.href)
        if resolved is None:
            continue
        exact = want_key is not None and link_key(resolved) == want_key
        if not exact and site_key(resolved) != want_site:
            continue
        nofollow = page_nofollow or rel_is_nofollow(anchor.rel)
        rank = (0 if exact or any_url_of_site else 2) + (1 if nofollow else 0)
        if best is None or rank < best[0]:
            best = (rank, anchor, resolved)
            if rank == 0:
                break
    if best is None:
        return None
    rank, anchor, resolved = best
    try:
        linked = urljoin(base, anchor.href.strip())
    except ValueError:
        linked = resolved
    return LinkMatch(
        linked_url=linked,
        anchor_text=anchor.text,
        rel=anchor.rel,
        nofollow=bool(rank % 2),
        target_changed=rank >= 2,
        evidence=evidence(anchor),
    )


def evidence(anchor: Anchor) -> str:
    """A short snippet of the HTML around a link: text before, the ``<a>`` element, text after."""
    el = anchor.element
    if el is None:
        return ""
    try:
        html = etree.tostring(el, encoding="unicode", with_tail=False, method="html")
    except (ValueError, TypeError, etree.LxmlError):
        html = f'<a href="{anchor.href}">{anchor.text}</a>'
    html = squash(html, _EVIDENCE_MAX)
    before = ""
    previous = el.getprevious()
    if previous is not None:
        before = previous.tail or ""
    elif el.getparent() is not None:
        before = el.getparent().text or ""
    before = squash(before, 10_000)[-_EVIDENCE_CONTEXT:]
    after = squash(el.tail, _EVIDENCE_CONTEXT)
    return " ".join(part for part in (before, html, after) if part)
