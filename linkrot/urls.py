"""URL handling: one normal form for every URL linkrot stores or compares.

Pure functions on strings.  ``normalize_url`` is on the hot path of the site
crawl (every href of every page goes through it), so it is memoised.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urljoin, urlsplit, urlunsplit

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


@functools.lru_cache(maxsize=262_144)
def normalize_url(url: str) -> str | None:
    """Return the normal form of an absolute http(s) URL, or None if it is not one.

    Lower-cased scheme and host, IDNA host, default port dropped, dot segments
    resolved, an empty path made ``/``, unsafe characters percent-encoded, the
    fragment dropped.  Query strings are kept as they are (their order can
    matter to the server).
    """
    url = url.strip()
    try:
        parts = urlsplit(safe_url_string(url))
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


def absolute_url(base: str, href: str) -> str | None:
    """Resolve ``href`` against ``base`` and normalize it (None if not http(s))."""
    href = href.strip()
    if not href or href[0] == "#":
        return None
    if href[0] == "/" and href[:2] != "//" and "/." not in href:
        # root-relative: only the base's origin matters, and site navigation repeats
        return _root_relative(base[: _netloc_end(base)], href)
    try:
        joined = urljoin(base, href)
    except ValueError:
        return None
    return normalize_url(joined)


@functools.lru_cache(maxsize=262_144)
def _root_relative(origin: str, href: str) -> str | None:
    return normalize_url(origin + href)


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
