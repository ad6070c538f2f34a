"""What linkrot reads out of an HTML page: pure functions from bytes to plain values.

One pass over the tree with ``iter(tags)`` (C speed in lxml) collects the
title, base, canonical, robots directives, meta refresh, every ``<a href>``
(``Page.anchors``, for backlink matching) and every URL a browser would load
or follow (``Page.links``, each with its :class:`LinkKind`).  Comments and
script text are never links: lxml does not expose them as elements of those
tags.

A document nested deeper than libxml2's limit (2048 levels, even with
``huge_tree``) is cut where the limit is hit; browsers have no such limit, so
the links of such a page are read again with the stdlib's tokenizer
(``html.parser``), which builds no tree.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Callable

from lxml import etree

_TAGS = (
    "a", "area", "base", "link", "meta", "title", "script", "h1",
    "img", "source", "iframe", "frame", "audio", "video", "track", "object", "embed", "input", "style",
    "main", "article",
)  # fmt: skip
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
# CSS: comments, then url(...) and @import "..." (https://www.w3.org/TR/css-syntax-3/#consume-url-token)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_parsers: dict[str | None, etree.HTMLParser] = {}


class LinkKind(enum.StrEnum):
    """What an element asks of a URL; the value is what SQLite stores in ``links.kind``."""

    A = "a"  # <a href>, <area href>: a link people follow
    IMG = "img"  # <img src>, <input type=image src>
    SRCSET = "srcset"  # each candidate of <img srcset> and <picture><source srcset>
    SCRIPT = "script"  # <script src>
    STYLESHEET = "stylesheet"  # <link rel=stylesheet>
    ICON = "icon"  # <link rel=icon | shortcut icon | apple-touch-icon | mask-icon>
    PRELOAD = "preload"  # <link rel=preload | prefetch | modulepreload | prerender>
    LINK = "link"  # any other <link href> (canonical, alternate/hreflang, home, manifest, next, ...)
    FRAME = "frame"  # <frame src>, <iframe src>
    MEDIA = "media"  # <audio|video|source|track src>, <video poster>
    OBJECT = "object"  # <object data>, <embed src>
    META = "meta"  # og:image, twitter:image and the like; a delayed <meta http-equiv=refresh> (rel "refresh")
    CSS = "css"  # url() and @import in style attributes and <style> blocks

    @property
    def is_page(self) -> bool:
        """A document people navigate to: crawled when it is of the site (the rest is checked, never parsed)."""
        return self in _PAGE_KINDS


_PAGE_KINDS = frozenset({LinkKind.A, LinkKind.FRAME})

# <link rel> tokens and what they make of the href; a rel absent here (canonical, alternate, home,
# manifest, prev, next, none at all...) is LinkKind.LINK
_LINK_RELS = {
    "stylesheet": LinkKind.STYLESHEET,
    "icon": LinkKind.ICON,
    "apple-touch-icon": LinkKind.ICON,
    "apple-touch-icon-precomposed": LinkKind.ICON,
    "mask-icon": LinkKind.ICON,
    "preload": LinkKind.PRELOAD,
    "prefetch": LinkKind.PRELOAD,
    "modulepreload": LinkKind.PRELOAD,
    "prerender": LinkKind.PRELOAD,
}
# <link rel> tokens whose href is not a document to fetch: connection hints (a bare origin, which
# LinkChecker's own fixtures expect untouched) and endpoints that only answer POST
_UNCHECKED_RELS = frozenset(
    {
        "dns-prefetch",
        "preconnect",
        "pingback",
        "webmention",
        "micropub",
        "microsub",
        "authorization_endpoint",
        "token_endpoint",
        "hub",
    }
)
# <meta property|name> whose content is a URL that crawlers of social sites fetch
_META_URLS = frozenset(
    {
        "og:url",
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "og:video",
        "og:video:url",
        "og:video:secure_url",
        "og:audio",
        "og:audio:url",
        "og:audio:secure_url",
        "twitter:image",
        "twitter:image:src",
        "twitter:player",
    }
)


@dataclass(slots=True)
class Anchor:
    href: str  # as written in the page
    text: str  # visible text, or an image's alt when the anchor is an image
    rel: str  # lower-cased rel tokens, space separated
    element: object = None  # the lxml element, for evidence snippets


@dataclass(slots=True)
class PageLink:
    """One URL the page makes a browser load or offer: an edge of the link graph."""

    href: str  # as written (entities decoded, whitespace kept): resolve with linkrot.urls.resolve
    kind: LinkKind
    text: str = ""  # anchor text, or the alt of an image
    rel: str = ""  # lower-cased rel tokens, space separated (link and a), "refresh" for a meta refresh

    @property
    def is_page(self) -> bool:
        """Navigated to (crawled when of the site): a, frame, and the target of a delayed refresh."""
        return self.kind.is_page or (self.kind is LinkKind.META and self.rel == "refresh")


@dataclass(slots=True)
class Page:
    title: str | None = None
    base_href: str | None = None
    canonical: str | None = None
    meta_robots: str | None = None
    refresh_url: str | None = None  # target of an immediate (under 1 s) meta refresh: a redirect hop
    refresh_delay: int | None = None  # seconds of a delayed meta refresh (its target is a META link)
    anchors: list[Anchor] = field(default_factory=list)
    links: list[PageLink] = field(default_factory=list)  # every link of every kind, in document order
    anchor_ids: frozenset[str] | None = None  # ids and <a name>s, when parse_html was asked for them
    has_scripts: bool = False  # a script that could build links when the page runs
    truncated: str | None = None  # why the parser stopped early (a resource limit), if it did
    h1: str | None = None  # the first heading, for matching dead URLs to live pages
    tree: object = None  # the parsed document, for later text comparisons
    landmarks: list = field(default_factory=list)  # <main> and <article> elements, for main_text


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


def text_of(element: etree._Element) -> str:
    """The text inside an element, its descendants' included (not its tail)."""
    # libxml2 writes it in one call: 2.5 times as fast as joining itertext() (16 anchors a page)
    return etree.tostring(element, method="text", encoding="unicode", with_tail=False)


def anchor_text(element: etree._Element) -> str:
    text = squash(text_of(element))
    if text:
        return text
    for img in element.iter("img"):
        alt = squash(img.get("alt"))
        if alt:
            return alt
    return ""


def parse_meta_refresh(content: str | None) -> tuple[int, str | None] | None:
    """(delay in whole seconds, URL or None) of a ``<meta http-equiv="refresh">`` content value.

    Browsers read the delay's integer part (``0.5`` is immediate) and allow
    ``;`` or ``,`` before the URL, with or without ``url=`` and quotes
    (https://html.spec.whatwg.org/#shared-declarative-refresh-steps).
    """
    match = _REFRESH.match(content or "")
    if not match:
        return None
    digits = match.group(1).partition(".")[0]
    url = (match.group(2) or "").strip().strip("'\"").strip() or None
    return int(digits) if digits else 0, url


def parse_refresh(content: str | None) -> str | None:
    """The URL of a ``<meta http-equiv="refresh">`` content value, if it has one (any delay)."""
    parsed = parse_meta_refresh(content)
    return parsed[1] if parsed else None


def parse_srcset(value: str | None) -> list[str]:
    """The URLs of a ``srcset`` value, descriptors (``2x``, ``300w``) dropped.

    The HTML standard's algorithm, not a split on commas: a URL may hold a
    comma (``a.jpg?w=1,2 1x``), a candidate ends at a URL's trailing comma or
    at the comma after its descriptors
    (https://html.spec.whatwg.org/#parse-a-srcset-attribute).
    """
    urls: list[str] = []
    if not value:
        return urls
    n, i = len(value), 0
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if not url:
            break
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # skip the descriptors, up to a comma outside parentheses
            depth = 0
            while i < n and (depth or value[i] != ","):
                depth += {"(": 1, ")": -1}.get(value[i], 0) if depth or value[i] == "(" else 0
                i += 1
        if url:
            urls.append(url)
    return urls


def css_urls(text: str | None) -> list[str]:
    """The URLs of ``url(...)`` and ``@import "..."`` in CSS, comments skipped."""
    if not text or ("url" not in text and "URL" not in text and "@import" not in text):
        return []
    found = []
    for match in _CSS_URL.finditer(_CSS_COMMENT.sub("", text)):
        url = next((g for g in match.groups() if g is not None), "")
        if url.strip():
            found.append(url.strip())
    return found


def _keep_trailing_content(body: bytes) -> bytes:
    """Drop ``</body>`` and ``</html>`` when something follows them (rare: skip the copy otherwise)."""
    for end in (b"</html>", b"</HTML>", b"</Html>"):
        cut = body.rfind(end)
        if cut != -1:
            return _END_TAGS.sub(b"", body) if body[cut + len(end) :].strip() else body
    return body  # no </html>: libxml2 keeps whatever follows </body>


def _style_attribute_url(body: bytes) -> bool:
    """Whether a ``url(`` stands inside a tag (a style attribute), judged from the bytes alone.

    Finds are cheap where a regex over the whole body is not (~3 ms for 100 KB);
    most ``url(`` are in ``<style>`` blocks, between a ``>`` and the next ``<``.
    """
    pos = body.find(b"url(")
    while pos != -1:
        window = body[max(0, pos - 2000) : pos]
        if window.rfind(b"<") > window.rfind(b">"):
            return True
        pos = body.find(b"url(", pos + 4)
    return False


Get = Callable[[str], "str | None"]


def _rel(get: Get) -> str:
    return " ".join((get("rel") or "").lower().split())


def _element_links(page: Page, tag: str, get: Get, text: str | None) -> None:
    """Append the links of one element (any tag but <a>/<area>, which carry an Anchor) to ``page.links``."""
    links = page.links
    if tag == "img" or (tag == "input" and (get("type") or "").lower() == "image"):
        src = get("src")
        alt = squash(get("alt"))
        if src is not None:
            links.append(PageLink(src, LinkKind.IMG, alt, ""))
        for url in parse_srcset(get("srcset")):
            links.append(PageLink(url, LinkKind.SRCSET, alt, ""))
    elif tag == "link":
        href = get("href")
        rel = _rel(get)
        tokens = rel.split()
        if href is None or (tokens and all(t in _UNCHECKED_RELS for t in tokens)):
            return
        kind = next((_LINK_RELS[t] for t in tokens if t in _LINK_RELS), LinkKind.LINK)
        links.append(PageLink(href, kind, "", rel))
    elif tag == "script":
        src = get("src")
        if src is not None:
            links.append(PageLink(src, LinkKind.SCRIPT, "", ""))
    elif tag == "source":
        src = get("src")
        if src is not None:
            links.append(PageLink(src, LinkKind.MEDIA, "", ""))
        for url in parse_srcset(get("srcset")):
            links.append(PageLink(url, LinkKind.SRCSET, "", ""))
    elif tag in ("iframe", "frame"):
        src = get("src")
        if src is not None:
            links.append(PageLink(src, LinkKind.FRAME, "", ""))
    elif tag in ("audio", "video", "track"):
        for attr in ("src", "poster") if tag == "video" else ("src",):
            src = get(attr)
            if src is not None:
                links.append(PageLink(src, LinkKind.MEDIA, "", ""))
    elif tag in ("object", "embed"):
        src = get("data" if tag == "object" else "src")
        if src is not None:
            links.append(PageLink(src, LinkKind.OBJECT, "", ""))
    elif tag == "style":
        for url in css_urls(text):
            links.append(PageLink(url, LinkKind.CSS, "", ""))
    elif tag == "meta":
        name = (get("property") or get("name") or "").lower()
        if name in _META_URLS and get("content"):
            links.append(PageLink(get("content") or "", LinkKind.META, "", ""))


def _meta(page: Page, get: Get) -> None:
    """Robots directives, meta refresh and URL-valued meta tags."""
    name = (get("name") or "").lower()
    if name == "robots":
        content = squash(get("content")).lower()
        page.meta_robots = f"{page.meta_robots}, {content}" if page.meta_robots else content
    elif (get("http-equiv") or "").lower() == "refresh":
        parsed = parse_meta_refresh(get("content"))
        if parsed is None or parsed[1] is None:
            return
        delay, url = parsed
        if page.refresh_url is None and page.refresh_delay is None:
            # the first refresh decides (a document refreshes once); under a second is a redirect
            if delay == 0:
                page.refresh_url = url
                return
            page.refresh_delay = delay
        # a page shown for a while before it moves on: its target is a link like any other
        page.links.append(PageLink(url, LinkKind.META, "", "refresh"))
    else:
        _element_links(page, "meta", get, None)


def parse_html(body: bytes, encoding: str | None = None, *, anchor_ids: bool = False) -> Page:
    """Parse an HTML document; never raises on bad markup (an empty Page instead).

    With ``anchor_ids``, ``Page.anchor_ids`` holds the fragments the page
    defines (``id`` on any element, ``name`` on ``<a>``), for checking
    ``page#section`` links; it costs a second walk, so only when asked.
    """
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
    links = page.links
    for el in root.iter(_TAGS):
        tag = el.tag
        if tag == "a" or tag == "area":
            href = el.get("href")
            if href is not None:
                rel = " ".join((el.get("rel") or "").lower().split())
                text = anchor_text(el) if tag == "a" else squash(el.get("alt"))
                page.anchors.append(Anchor(href, text, rel, el))
                links.append(PageLink(href, LinkKind.A, text, rel))
        elif tag == "meta":
            _meta(page, el.get)
        elif tag == "title":
            if page.title is None:
                page.title = squash(text_of(el))
        elif tag == "link":
            if page.canonical is None and "canonical" in (el.get("rel") or "").lower().split():
                page.canonical = (el.get("href") or "").strip() or None
            _element_links(page, tag, el.get, None)
        elif tag == "h1":
            if page.h1 is None:
                page.h1 = squash(text_of(el), 200) or None
        elif tag == "script":
            if not page.has_scripts:
                kind = (el.get("type") or "").strip().lower()
                page.has_scripts = kind not in _DATA_SCRIPTS and (
                    bool(el.get("src")) or bool((el.text or "").strip())
                )
            _element_links(page, tag, el.get, None)
        elif tag == "base":
            if page.base_href is None:
                page.base_href = (el.get("href") or "").strip() or None
        elif tag == "main" or tag == "article":
            page.landmarks.append(el)
        else:
            _element_links(page, tag, el.get, el.text if tag == "style" else None)
    if _style_attribute_url(body):  # a search of every element, so only when worth it
        for el in root.xpath("//*[@style]"):
            for url in css_urls(el.get("style")):
                links.append(PageLink(url, LinkKind.CSS, "", ""))
    if page.truncated:
        _reread_links(page, body, encoding, anchor_ids)
    elif anchor_ids:
        page.anchor_ids = frozenset(str(v) for v in root.xpath("//@id | //a/@name"))
    return page


def _reread_links(page: Page, body: bytes, encoding: str | None, anchor_ids: bool) -> None:
    """Replace the links of a cut tree with those the tokenizer finds in the whole document."""
    scanner = _LinkScanner(want_ids=anchor_ids)
    scanner.scan(body, encoding)
    if anchor_ids:
        page.anchor_ids = frozenset(scanner.ids)
    # the anchors the tree did hold keep their elements (evidence snippets need them)
    for old, new in zip(page.anchors, scanner.page.anchors):
        if old.href != new.href:
            break
        new.element = old.element
    page.anchors = scanner.page.anchors
    page.links = scanner.page.links
    page.has_scripts = page.has_scripts or scanner.page.has_scripts


class _LinkScanner(HTMLParser):
    """Links (and ids) from start tags, as the tokenizer meets them: no tree, no depth limit."""

    def __init__(self, *, want_ids: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.want_ids = want_ids
        self.ids: set[str] = set()
        self._open: list[tuple[Anchor, PageLink, list[str]]] = []  # <a> elements and their text so far
        self._style: list[str] | None = None

    def scan(self, body: bytes, encoding: str | None) -> None:
        try:
            text = body.decode(encoding or "utf-8", errors="replace")
        except LookupError:
            text = body.decode("utf-8", errors="replace")
        self.feed(text)
        self.close()
        while self._open:
            self._close_anchor()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str | None] = {}
        for name, value in attrs:
            values.setdefault(name, value if value is not None else "")  # the first of duplicates wins
        get = values.get
        if self.want_ids:
            if get("id"):
                self.ids.add(get("id") or "")
            if tag == "a" and get("name"):
                self.ids.add(get("name") or "")
        if get("style"):
            for url in css_urls(get("style")):
                self.page.links.append(PageLink(url, LinkKind.CSS, "", ""))
        if tag in ("a", "area"):
            if tag == "a":
                while self._open:  # an <a> inside an <a> closes the first, as in browsers
                    self._close_anchor()
            href = get("href")
            if href is None:
                return
            rel = _rel(get)
            anchor = Anchor(href, squash(get("alt")) if tag == "area" else "", rel)
            link = PageLink(href, LinkKind.A, anchor.text, rel)
            self.page.anchors.append(anchor)
            self.page.links.append(link)
            if tag == "a":
                self._open.append((anchor, link, []))
        elif tag == "meta":
            _meta(self.page, get)
        elif tag == "style":
            self._style = []
        elif tag in _TAGS:
            if tag == "img" and self._open and get("alt"):
                self._open[-1][2].append(f" \0{get('alt')}")  # an image's alt, used when there is no text
            if tag == "script" and get("src"):
                self.page.has_scripts = True
            _element_links(self.page, tag, get, None)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a" and self._open:
            self._close_anchor()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            self._close_anchor()
        elif tag == "style" and self._style is not None:
            for url in css_urls("".join(self._style)):
                self.page.links.append(PageLink(url, LinkKind.CSS, "", ""))
            self._style = None

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            self._style.append(data)
        elif self._open and self.cdata_elem is None:  # script text is not anchor text
            self._open[-1][2].append(data)

    def _close_anchor(self) -> None:
        anchor, link, parts = self._open.pop()
        text = squash("".join(p for p in parts if not p.startswith(" \0")))
        if not text:  # an image link: its alt, as anchor_text does
            text = next((squash(p[2:]) for p in parts if p.startswith(" \0")), "")
        anchor.text = link.text = text


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


# Not prose: code, styles, templates, the options of a <select>
_NOT_TEXT = frozenset({"script", "style", "noscript", "template", "select"})
# What every page of a site shares rather than says: its navigation, header, footer and sidebars.
# A <header> or <footer> inside an <article> is the article's own (its title, its byline): kept.
_CHROME = frozenset({"nav", "aside", "header", "footer"})
_OWN = frozenset({"header", "footer"})
_ROLE_MAIN = etree.XPath("//*[@role='main']")


def _text_of(root: etree._Element, skip: frozenset[str]) -> str:
    """The text under ``root`` without the subtrees of the ``skip`` tags.

    A walk that skips subtrees (``iterwalk.skip_subtree``): a hundred times
    faster than an XPath testing every text node's ancestors, and no recursion
    (documents nest up to 2,048 levels).
    """
    parts: list[str] = []
    articles = 0
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, el in walk:
        tag = el.tag
        if event == "start":
            if not isinstance(tag, str) or (tag in skip and not (articles and tag in _OWN)):
                walk.skip_subtree()
                continue
            if tag == "article":
                articles += 1
            if el.text:
                parts.append(el.text)
        else:
            if tag == "article":
                articles -= 1
            if el.tail and el is not root:
                parts.append(el.tail)
    return squash(" ".join(parts), limit=200_000)


def main_text(page: Page) -> str:
    """The text a page says of its own, without the template every page of its site shares.

    The first ``<main>`` (else the first ``role="main"`` element, else the
    page's one ``<article>``, else the body), without navigation, header,
    footer, sidebars or scripts (the landmarks of
    https://html.spec.whatwg.org/#sections). A page whose main content has no
    text (a 404 page whose message sits in its ``<header>``) is read whole,
    scripts and styles aside. The landmarks come from the one pass of
    :func:`parse_html` (``Page.landmarks``); this walks one subtree.
    """
    tree = page.tree
    if tree is None:
        return ""
    root = next((el for el in page.landmarks if el.tag == "main"), None)
    if root is None:
        roles = _ROLE_MAIN(tree)
        if roles:
            root = roles[0]
        elif len(page.landmarks) == 1:  # one <article>; several are a list of teasers, not one text
            root = page.landmarks[0]
    body = tree.find("body")
    if body is None:
        body = tree
    return _text_of(root if root is not None else body, _NOT_TEXT | _CHROME) or _text_of(body, _NOT_TEXT)
