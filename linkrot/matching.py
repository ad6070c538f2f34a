"""Is the backlink still on the referring page?  Pure link matching.

A link is found when an ``<a href>`` of the document resolves (honouring
``<base href>``, protocol-relative and relative forms) to the target URL,
comparing case-insensitively on scheme and host and ignoring the fragment, the
default port, http vs https and a trailing-slash difference: :func:`link_key`.
A link to another URL of the target's site (same host, ignoring a leading
``www.`` and the port: :func:`site_key`) also counts, with ``target_changed``.

A backlink may name alternative URLs: the redirect chain its vendor saw (Ahrefs'
"Redirect Chain URLs": the URL written on the page first, then each hop, the
target being where it ends).  An exact link to any of them is the link, and
``LinkMatch.matched`` says which one it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from .extract import Anchor, Page, squash
from .urls import C0_AND_SPACE, absolute_url, document_base, normalize_url

NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})
_EVIDENCE_CONTEXT = 80  # characters of text kept on each side of the link
_EVIDENCE_MAX = 400


def link_key(url: str | None) -> str | None:
    """The form two URLs share when they are "the same link" (None: not an http(s) URL)."""
    normal = normalize_url(url) if url else None
    return None if normal is None else _keys(normal)[0]


def site_key(url: str | None) -> str | None:
    """The host of a URL without a leading ``www.`` and without the port."""
    normal = normalize_url(url) if url else None
    return None if normal is None else _keys(normal)[1]


def _keys(normal: str) -> tuple[str, str]:
    """``(link_key, site_key)`` of a URL in normal form (:func:`~linkrot.urls.normalize_url`)."""
    parts = urlsplit(normal)
    host = parts.netloc.rpartition("@")[2]  # normalize_url already dropped the default port
    path = parts.path.rstrip("/")
    hostname = parts.hostname or ""
    return (f"{host}{path}?{parts.query}" if parts.query else f"{host}{path}"), hostname.removeprefix("www.")


# an href that names no host of its own (WHATWG: leading and trailing C0 controls and spaces are
# stripped, tabs and newlines removed anywhere; a backslash is a slash in http(s) URLs)
_HAS_HOST = re.compile(r"^[\x00-\x20]*(?:[A-Za-z][A-Za-z0-9+.\-\t\n\r]*:|[/\\][\t\n\r]*[/\\])")
# an href whose host is plain ASCII, written plainly (no userinfo, backslash, tab or escape), so that
# its site key is read without resolving it; any other form is resolved in full
_PLAIN_HOST = re.compile(
    r"^[\x00-\x20]*(?:([A-Za-z][A-Za-z0-9+.\-]*):)?//([A-Za-z0-9.\-]+)(?::[0-9]*)?(?:[/?#]|$)"
)
_SCHEME = re.compile(r"^[\x00-\x20]*([A-Za-z][A-Za-z0-9+.\-]*):")
_WEB = frozenset({"http", "https"})


def _elsewhere(href: str, sites: dict[str, str]) -> bool:
    """True when ``href`` surely leads to none of ``sites``: another plainly written host, or no
    http(s) URL (``mailto:``); False when it may (then it is resolved in full).

    Most links on a referring page go elsewhere; resolving and normalizing each of them was
    most of the cost of matching (w3lib's ``safe_url_string``).
    """
    plain = _PLAIN_HOST.match(href)
    if plain is not None:
        scheme = plain.group(1)
        if scheme is not None and scheme.lower() not in _WEB:
            return True
        return plain.group(2).lower().rstrip(".").removeprefix("www.") not in sites
    scheme = _SCHEME.match(href)
    return scheme is not None and scheme.group(1).lower() not in _WEB


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
    target_changed: bool  # it points to another URL of the target's site (or of an alternative's)
    evidence: str
    # which URL the link is to: "target", or an alternative: "chain_start" (the URL the vendor
    # saw on the page, before its redirects), "chain_hop" (a later URL of that chain)
    matched: str = "target"


def rel_is_nofollow(rel: str) -> bool:
    return not NOFOLLOW_RELS.isdisjoint(rel.lower().split())


def chain_alternatives(chain: str | Iterable[Any] | None) -> list[tuple[str, str]]:
    """The alternatives of a vendor redirect chain, as ``find_link`` takes them.

    ``chain``: the ``backlinks.vendor_chain`` JSON (a list of ``{hop, url, status}``) or
    that list; hop 0 is the URL written on the page.  Returns ``[(url, kind)]``.
    """
    if not chain:
        return []
    entries = json.loads(chain) if isinstance(chain, str) else chain
    out = []
    for entry in entries:
        hop, url = (entry["hop"], entry["url"]) if isinstance(entry, dict) else (entry[0], entry[1])
        out.append((url, "chain_start" if hop == 0 else "chain_hop"))
    return out


def find_link(
    page: Page,
    page_url: str,
    target_url: str,
    *,
    any_url_of_site: bool = False,
    page_nofollow: bool = False,
    alternatives: Iterable[tuple[str, str]] = (),
) -> LinkMatch | None:
    """The best link to ``target_url`` (or, failing that, to its site) on ``page``.

    An exact link beats a link elsewhere on the site; a followed link beats a
    nofollow one; otherwise the first in document order wins.  With
    ``any_url_of_site`` (Search Console exports have no target) any link to the
    site is a match and never counts as ``target_changed``.  ``alternatives``
    (``[(url, kind)]``, see :func:`chain_alternatives`) are URLs whose exact link
    counts as the link too; the target wins over them when a URL is both, and
    a link elsewhere on an alternative's site counts as ``target_changed``.
    """
    base = document_base(page_url, page.base_href)
    keys: dict[str, str] = {}  # link_key -> what it is; the first naming of a key wins
    sites: dict[str, str] = {}
    for url, kind in [(target_url, "target"), *alternatives]:
        if not any_url_of_site and (key := link_key(url)) is not None:
            keys.setdefault(key, kind)
        if (site := site_key(url)) is not None:
            sites.setdefault(site, kind)
    # a relative href is on the page's own site: when that is none of ours, only absolute ones can match
    relatives = site_key(base) in sites
    best: tuple[int, Anchor, str, str] | None = None
    for anchor in page.anchors:
        if not relatives and not _HAS_HOST.match(anchor.href) or _elsewhere(anchor.href, sites):
            continue
        resolved = absolute_url(base, anchor.href)
        if resolved is None:
            continue
        link, site = _keys(resolved)
        kind = keys.get(link)
        exact = kind is not None
        if not exact:
            kind = sites.get(site)
            if kind is None:
                continue
        nofollow = page_nofollow or rel_is_nofollow(anchor.rel)
        rank = (0 if exact or any_url_of_site else 2) + (1 if nofollow else 0)
        if best is None or rank < best[0]:
            best = (rank, anchor, resolved, kind)
            if rank == 0:
                break
    if best is None:
        return None
    rank, anchor, resolved, matched = best
    try:  # the URL as written (its case kept), unless Python's urljoin reads it unlike a browser
        linked = urljoin(base, anchor.href.strip(C0_AND_SPACE))
    except ValueError:
        linked = resolved
    if link_key(linked) != link_key(resolved):  # "/\\host/", tabs inside: the browser's reading
        linked = resolved
    return LinkMatch(
        linked_url=linked,
        anchor_text=anchor.text,
        rel=anchor.rel,
        nofollow=bool(rank % 2),
        target_changed=rank >= 2,
        evidence=evidence(anchor),
        matched=matched,
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
