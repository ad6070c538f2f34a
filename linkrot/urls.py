"""URL handling: one normal form for every URL linkrot stores or compares.

Pure functions on strings.  ``normalize_url`` is on the hot path of the site
crawl (every href of every page goes through it), so it is memoised.

Hrefs are resolved the way browsers do, by the WHATWG URL standard
(https://url.spec.whatwg.org/), with ada (the parser of Node.js) rather than
``urljoin``: ``urljoin`` collapses ``a//b`` in relative paths and quietly turns
``http://`` or ``//////`` into the page itself, where a browser refuses them.
"""

from __future__ import annotations

import codecs
import functools
import ipaddress
import re
from typing import NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

import ada_url
from publicsuffixlist import PublicSuffixList
from w3lib.url import safe_url_string

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SCHEMES = frozenset(_DEFAULT_PORTS)

# publicsuffixlist ships its list inside the wheel: it never downloads at run time
_psl = PublicSuffixList()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986, section 5.2.4 - urljoin only does this for relative references
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if path.endswith(("/.", "/..")):
        out.append("")
    return "/".join(out) or "/"


# characters of a URL that ada's output and normalize_url() write alike: no percent sign (w3lib
# repairs a stray one), no userinfo, nothing w3lib escapes that the URL standard leaves as is (| ^ ' [ ])
_PLAIN_URL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?=&+,;!$*()")


# a URL linked again soon (navigation, a page's neighbours) is normalized once; ~290 bytes an entry,
# so the cache stays small: 262,144 entries were 72 MiB of a big crawl's memory
@functools.lru_cache(maxsize=32_768)
def normalize_url(url: str) -> str | None:
    """Return the normal form of an absolute http(s) URL, or None if it is not one.

    Lower-cased scheme and host, IDNA host, default port dropped, dot segments
    resolved, an empty path made ``/``, unsafe characters percent-encoded, the
    fragment dropped.  Query strings are kept as they are (their order can
    matter to the server).
    """
    url = url.strip()
    try:
        # w3lib leaves a URL of these characters as it is: 60 % of a miss's cost, and the rows of an export miss
        parts = urlsplit(url if _PLAIN_URL.issuperset(url) else safe_url_string(url))
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES or not parts.hostname:
            return None
        host = parts.hostname.rstrip(".")
        port = parts.port  # raises ValueError when out of range
    except ValueError:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or str(port) == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    path = parts.path or "/"
    if "/." in path:
        path = _remove_dot_segments(path)
    return urlunsplit((scheme, netloc, path, parts.query, ""))


class Target(NamedTuple):
    """Where an href leads: exactly one of ``url``, ``invalid`` or ``skipped`` is set."""

    url: str | None  # the normal form of the http(s) URL to check (no fragment)
    fragment: str | None = None  # the fragment as written (percent-escapes kept), if any
    invalid: str | None = None  # why this is no URL at all: reported as Status.INVALID_URL
    skipped: str | None = None  # not checked on purpose: "empty", "fragment", or the scheme ("mailto")


_EMPTY = Target(None, skipped="empty")
_UTF8 = frozenset({"utf-8", "utf8", "ascii", "us-ascii"})
# WHATWG "special-query percent-encode set": printable ASCII passes, except these
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"#<>'")
# what the standard trims from both ends of an href: C0 controls and the space
C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def resolve(base: str, href: str, encoding: str | None = None) -> Target:
    """Resolve ``href`` (as written in a page) against ``base`` like a browser.

    ``encoding`` is the page's: browsers percent-encode the *query* of a link
    in it (``?q=\u00fc`` is ``%FC`` on an ISO-8859-1 page), the path always in
    UTF-8.  A malformed href is reported, never repaired: ``Target.invalid``.
    """
    href = href.strip(C0_AND_SPACE)  # ada drops tabs and newlines inside
    if not href:
        return _EMPTY
    if href[0] == "#":
        return Target(None, href[1:], skipped="fragment")
    if href[0] == "/" and href[:2] != "//" and "/." not in href and href.isascii() and "\\" not in href:
        # root-relative: only the base's origin matters, and site navigation repeats (cached)
        return _root_relative(base[: _netloc_end(base)], href)
    if encoding is not None and not href.isascii() and _query_encoding(encoding) != "utf-8":
        href = _encode_query(href, encoding)
    return _resolve(base, href)


# a site's navigation (header, menus, footer) repeats on every page: a few thousand hrefs cover it;
# each entry holds ~600 bytes, so 65,536 of them were 36 MiB of a big crawl's memory for nothing
@functools.lru_cache(maxsize=4096)
def _root_relative(origin: str, href: str) -> Target:
    return _resolve(origin + "/", href)


def _already_normal(url: str) -> bool:
    """Is ``url`` (ada's output, no fragment) its own normal form?  Then normalize_url() is skipped.

    ada has already lower-cased the scheme and host, dropped the default port, resolved dot
    segments and written an empty path as ``/``; what is left to normalize_url() is a host's
    trailing dot, an empty query's ``?`` and the escapes: a URL with none of them is normal
    as it is (a property test compares the two on generated hrefs).  Big sites link mostly to
    URLs not seen before, so the cache of normal forms misses; this skips half of a miss's cost.
    """
    if url[-1] == "?" or not _PLAIN_URL.issuperset(url):
        return False
    netloc = url[url.find("//") + 2 : _netloc_end(url)]
    return not netloc.endswith(".") and ".:" not in netloc


def _resolve(base: str, href: str) -> Target:
    try:
        joined = ada_url.join_url(base, href)
    except ValueError:
        return Target(None, invalid=_why_invalid(href))
    scheme = joined[: joined.find(":")]
    if scheme not in _SCHEMES:
        return Target(None, skipped=scheme)
    url, _, fragment = joined.partition("#")
    normal = url if _already_normal(url) else normalize_url(url)
    if normal is None:  # ada accepted what linkrot cannot request: say why rather than drop it
        return Target(None, invalid="not a valid http(s) URL")
    return Target(normal, fragment if "#" in joined else None)


def _query_encoding(encoding: str) -> str:
    # UTF-16 pages encode URLs in UTF-8 (https://url.spec.whatwg.org/#concept-url-parser, step "encoding")
    name = encoding.lower().replace("_", "-")
    return "utf-8" if name in _UTF8 or name.startswith("utf-16") else name


def _html_escape_for_url(exc: UnicodeError) -> tuple[str, int]:
    # the standard's "encode" with an HTML fallback: a character the page's encoding lacks
    # becomes "&#NNNN;", itself percent-encoded (https://url.spec.whatwg.org/#concept-urlencoded-byte-serializer)
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start : exc.end]
    return "".join(f"%26%23{ord(ch)}%3B" for ch in text), exc.end


codecs.register_error("linkrot-url", _html_escape_for_url)


def _encode_query(href: str, encoding: str) -> str:
    """Percent-encode the query of ``href`` in the page's encoding, as browsers do."""
    head, hash_, fragment = href.partition("#")
    path, question, query = head.partition("?")
    if not question or query.isascii():
        return href
    try:
        query = quote(query, safe=_QUERY_SAFE, encoding=_query_encoding(encoding), errors="linkrot-url")
    except LookupError:  # an encoding Python does not know: UTF-8, as ada would
        return href
    return f"{path}?{query}{hash_}{fragment}"


def _why_invalid(href: str) -> str:
    """A short reason for an href the URL standard rejects (for the report, not for logic)."""
    try:
        parts = urlsplit(href)
        if parts.netloc:
            parts.port  # noqa: B018 - raises ValueError when the port is out of range or not a number
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        return "invalid port" if "port" in str(exc).lower() else "invalid host"
    if parts.scheme.lower() in _SCHEMES or href.startswith(("//", "\\\\")):
        return "no host" if not parts.hostname else "invalid host"
    return "not a valid URL"


def document_base(document_url: str, base_href: str | None) -> str:
    """The URL relative links of a page resolve against: its ``<base href>``, or the page's own URL.

    A ``<base href>`` is itself relative to the page; one that is malformed or
    not http(s) is ignored, as browsers do (https://html.spec.whatwg.org/#frozen-base-url).
    """
    if base_href:
        try:
            joined = ada_url.join_url(document_url, base_href.strip(C0_AND_SPACE))
        except ValueError:
            return document_url
        if joined.startswith(("http:", "https:")):
            return joined
    return document_url


def absolute_url(base: str, href: str) -> str | None:
    """Resolve ``href`` against ``base`` and normalize it (None if not http(s), or malformed)."""
    return resolve(base, href).url


def _netloc_end(url: str) -> int:
    start = url.find("//") + 2
    end = len(url)
    for sep in "/?#":
        found = url.find(sep, start)
        if found != -1 and found < end:
            end = found
    return end


def host_of(url: str) -> str:
    """The network location of a URL (host, and port when not default, without userinfo)."""
    return url[url.find("//") + 2 : _netloc_end(url)].rpartition("@")[2].lower()


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # urlsplit's idea of a scheme


def download_slot(url: str) -> str:
    """Scrapy's download slot of a URL, ``urlparse(url).hostname or ""``, without parsing the rest.

    For a URL of a request (absolute, already escaped by Scrapy): the host, lower-cased, without
    userinfo, port or the brackets of an IPv6 address."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    if url[start : start + 2] != "//":  # no network location (data:, mailto:...)
        return ""
    host = url[start + 2 : _netloc_end(url)].rpartition("@")[2]
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    else:
        host = host.partition(":")[0]
    name, percent, zone = host.partition("%")
    return name.lower() + percent + zone


def hostname_of(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".")


def registrable_domain(host: str) -> str:
    """The registrable domain (eTLD+1) of a host name, offline; IPs stay as they are."""
    host = host.lower().rstrip(".").strip("[]")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _psl.privatesuffix(host) or host


class Scope:
    """Which URLs belong to the site being crawled.

    Same host (and port) by default, any scheme; with ``subdomains`` every host
    under the same registrable domain.
    """

    def __init__(self, start_url: str, *, subdomains: bool = False) -> None:
        self.netloc = host_of(start_url)
        self.domain = registrable_domain(hostname_of(start_url))
        self.subdomains = subdomains
        self._cache: dict[str, bool] = {}

    def is_internal(self, url: str) -> bool:
        netloc = host_of(url)
        if netloc == self.netloc:
            return True
        if not self.subdomains:
            return False
        known = self._cache.get(netloc)
        if known is None:
            known = self._cache[netloc] = registrable_domain(hostname_of(url)) == self.domain
        return known
