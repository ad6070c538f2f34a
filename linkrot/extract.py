"""What linkrot reads out of an HTML page: pure functions from bytes to plain values.

One pass over the tree with ``iter(tags)`` (C speed in lxml) collects the
title, base, canonical, robots directives, meta refresh and every ``<a href>``.
Comments and script text are never links: lxml does not expose them as
elements of those tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

_TAGS = ("a", "area", "base", "link", "meta", "title", "script", "h1")
# <script type> values that hold data, not code: such a script cannot build links
_DATA_SCRIPTS = frozenset(
    {
        "application/ld+json",
        "application/json",
        "text/template",
        "text/x-template",
        "importmap",
        "speculationrules",
    }
)
_REFRESH = re.compile(r"^\s*(\d*\.?\d*)\s*(?:[;,]\s*(?:url\s*=\s*)?(.*))?$", re.I | re.S)
# libxml2 drops everything after </html>; browsers keep it in the body, and so must a link check
_END_TAGS = re.compile(rb"</(?:body|html)\s*>", re.I)
_parsers: dict[str | None, etree.HTMLParser] = {}


@dataclass(slots=True)
class Anchor:
    href: str  # as written in the page
    text: str  # visible text, or an image's alt when the anchor is an image
    rel: str  # lower-cased rel tokens, space separated
    element: object = None  # the lxml element, for evidence snippets


@dataclass(slots=True)
class Page:
    title: str | None = None
    base_href: str | None = None
    canonical: str | None = None
    meta_robots: str | None = None
    refresh_url: str | None = None  # meta refresh target, as written
    anchors: list[Anchor] = field(default_factory=list)
    has_scripts: bool = False  # a script that could build links when the page runs
    truncated: str | None = None  # why the parser stopped early (a resource limit), if it did
    h1: str | None = None  # the first heading, for matching dead URLs to live pages
    tree: object = None  # the parsed document, for later text comparisons


def _parser(encoding: str | None) -> etree.HTMLParser:
    parser = _parsers.get(encoding)
    if parser is None:
        try:
            # huge_tree: text nodes over 10 MB and nesting up to 2048 levels; deeper is reported
            parser = etree.HTMLParser(
                encoding=encoding, no_network=True, remove_comments=True, huge_tree=True
            )
        except LookupError:
            parser = etree.HTMLParser(no_network=True, remove_comments=True, huge_tree=True)
        _parsers[encoding] = parser
    return parser


def squash(text: str | None, limit: int = 500) -> str:
    """Collapse whitespace (str.split is several times faster than a regex here)."""
    return " ".join(text.split())[:limit] if text else ""


def anchor_text(element: etree._Element) -> str:
    text = squash("".join(element.itertext()))
    if text:
        return text
    for img in element.iter("img"):
        alt = squash(img.get("alt"))
        if alt:
            return alt
    return ""


def parse_refresh(content: str | None) -> str | None:
    """The URL of a ``<meta http-equiv="refresh">`` content value, if it has one."""
    match = _REFRESH.match(content or "")
    if not match or not match.group(2):
        return None
    return match.group(2).strip().strip("'\"").strip() or None


def _keep_trailing_content(body: bytes) -> bytes:
    """Drop ``</body>`` and ``</html>`` when something follows them (rare: skip the copy otherwise)."""
    for end in (b"</html>", b"</HTML>", b"</Html>"):
        cut = body.rfind(end)
        if cut != -1:
            return _END_TAGS.sub(b"", body) if body[cut + len(end) :].strip() else body
    return body  # no </html>: libxml2 keeps whatever follows </body>


def parse_html(body: bytes, encoding: str | None = None) -> Page:
    """Parse an HTML document; never raises on bad markup (an empty Page instead)."""
    page = Page()
    if not body or not body.strip():
        return page
    parser = _parser(encoding)
    try:
        root = etree.fromstring(_keep_trailing_content(body), parser)
    except (etree.ParserError, ValueError):
        return page
    if root is None:
        return page
    page.tree = root
    for error in parser.error_log:
        if error.type_name == "ERR_RESOURCE_LIMIT":  # e.g. "Excessive depth in document: 2048"
            page.truncated = error.message.split(",")[0]
            break
    for el in root.iter(_TAGS):
        tag = el.tag
        if tag == "a" or tag == "area":
            href = el.get("href")
            if href is not None:
                rel = " ".join((el.get("rel") or "").lower().split())
                text = anchor_text(el) if tag == "a" else squash(el.get("alt"))
                page.anchors.append(Anchor(href, text, rel, el))
        elif tag == "meta":
            name = (el.get("name") or "").lower()
            if name == "robots":
                content = squash(el.get("content")).lower()
                page.meta_robots = f"{page.meta_robots}, {content}" if page.meta_robots else content
            elif (el.get("http-equiv") or "").lower() == "refresh" and page.refresh_url is None:
                page.refresh_url = parse_refresh(el.get("content"))
        elif tag == "title":
            if page.title is None:
                page.title = squash("".join(el.itertext()))
        elif tag == "link":
            if page.canonical is None and "canonical" in (el.get("rel") or "").lower().split():
                page.canonical = (el.get("href") or "").strip() or None
        elif tag == "h1":
            if page.h1 is None:
                page.h1 = squash("".join(el.itertext()), 200) or None
        elif tag == "script":
            if not page.has_scripts:
                kind = (el.get("type") or "").strip().lower()
                page.has_scripts = kind not in _DATA_SCRIPTS and (
                    bool(el.get("src")) or bool((el.text or "").strip())
                )
        elif tag == "base" and page.base_href is None:
            page.base_href = (el.get("href") or "").strip() or None
    return page


def robots_flags(*directives: str | None) -> tuple[bool, bool]:
    """(noindex, nofollow) from meta robots and X-Robots-Tag values.

    ``X-Robots-Tag: googlebot: noindex`` names a crawler; such a directive
    still counts, since it keeps the page out of the main index.
    """
    tokens: set[str] = set()
    for value in directives:
        for part in (value or "").lower().replace(";", ",").split(","):
            tokens.add(part.rsplit(":", 1)[-1].strip())
    noindex = "noindex" in tokens or "none" in tokens
    nofollow = "nofollow" in tokens or "none" in tokens
    return noindex, nofollow


def visible_text(page: Page) -> str:
    """The text of the body, for comparing a page with the site's 404 page."""
    if page.tree is None:
        return ""
    bodies = page.tree.xpath("//body")
    node = bodies[0] if bodies else page.tree
    parts = node.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]")
    return squash(" ".join(parts), limit=200_000)
