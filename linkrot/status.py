"""The one status vocabulary of linkrot.

Every fetch, by every spider, ends in exactly one :class:`Status`.  Its value is
what SQLite stores.  Two pure mappers produce it: :func:`from_http` for an
answer and :func:`from_failure` for a download that never produced one.  A
broken link is data, not an exception (compare lychee's ``Status`` type).
"""

from __future__ import annotations

import enum
import ssl
from typing import Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from twisted.internet import error as txerror
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

try:  # pyOpenSSL is a Scrapy dependency; guard anyway, the mapper must not fail
    from OpenSSL.SSL import Error as OpenSSLError
except ImportError:  # pragma: no cover
    OpenSSLError = ssl.SSLError


class Status(enum.StrEnum):
    """Outcome of fetching one URL, after following its redirects."""

    # -- answered ---------------------------------------------------------
    OK = "ok"  # 2xx
    NOT_FOUND = "not_found"  # 404 or 410: the page is gone
    CLIENT_ERROR = "client_error"  # any other 4xx (401, 403, 451, ...)
    RATE_LIMITED = "rate_limited"  # 429: the server asked us to slow down
    SERVER_ERROR = "server_error"  # 5xx
    INVALID_RESPONSE = "invalid_response"  # 1xx, a 3xx without Location, unknown codes
    # -- redirects --------------------------------------------------------
    REDIRECT_LOOP = "redirect_loop"  # a hop leads back to a URL of the chain
    TOO_MANY_REDIRECTS = "too_many_redirects"  # the chain exceeds the hop limit
    # -- never answered ---------------------------------------------------
    DNS_ERROR = "dns_error"  # the host name does not resolve
    CONNECTION_REFUSED = "connection_refused"  # nothing listens on the port
    TIMEOUT = "timeout"  # no (complete) answer within DOWNLOAD_TIMEOUT
    TLS_ERROR = "tls_error"  # handshake or certificate failure
    CONNECTION_ERROR = "connection_error"  # reset, lost, or truncated mid-answer
    TOO_LARGE = "too_large"  # the body exceeds DOWNLOAD_MAXSIZE
    # -- not fetched on purpose -------------------------------------------
    BLOCKED = "blocked"  # robots.txt disallows it (or policy forbids it)
    UNSUPPORTED = "unsupported"  # not an http(s) URL, or not a valid one
    # -- never requested --------------------------------------------------
    # the href is not a URL a browser could follow (``http://``, ``http://host]``, port 99999,
    # ``//////``): the author's mistake, reported with the raw href, never "fixed" into another URL
    INVALID_URL = "invalid_url"

    @property
    def is_ok(self) -> bool:
        return self is Status.OK

    @property
    def is_error(self) -> bool:
        """A broken link: the target does not deliver a page."""
        return self not in _NOT_ERRORS

    @property
    def is_transient(self) -> bool:
        """Might well succeed on a re-check: measurement noise, not rot."""
        return self in _TRANSIENT


_NOT_ERRORS = frozenset({Status.OK, Status.BLOCKED, Status.UNSUPPORTED})
_TRANSIENT = frozenset(
    {
        Status.RATE_LIMITED,
        Status.SERVER_ERROR,
        Status.TIMEOUT,
        Status.CONNECTION_ERROR,
        Status.TLS_ERROR,
    }
)

#: statuses whose answer is a redirect hop (meta refresh is handled separately)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
#: temporary redirects: a chain holding one of these does not pass equity reliably
TEMPORARY_REDIRECT_CODES = frozenset({302, 303, 307})


def from_http(code: int) -> Status:
    """Map a final HTTP status code (not a followed redirect) to a Status."""
    if 200 <= code < 300:
        return Status.OK
    if code in (404, 410):
        return Status.NOT_FOUND
    if code == 429:
        return Status.RATE_LIMITED
    if 400 <= code < 500:
        return Status.CLIENT_ERROR
    if 500 <= code < 600:
        return Status.SERVER_ERROR
    return Status.INVALID_RESPONSE


def _causes(exc: BaseException) -> list[Any]:
    """The exception, its chained causes and the reasons Twisted wraps inside."""
    seen: list[Any] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        item = getattr(item, "value", item)  # a twisted Failure
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(getattr(item, "reasons", None) or [])
        todo.append(item.__cause__ or item.__context__)
    return seen


def from_exception(exc: BaseException) -> Status:
    """Map a download failure (Scrapy, Twisted or stdlib exception) to a Status."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, (OpenSSLError, ssl.SSLError)):
            return Status.TLS_ERROR
    for cause in causes:
        # a body over DOWNLOAD_MAXSIZE, while downloading or while decompressing (a gzip bomb);
        # the decompression middleware reports the latter as IgnoreRequest, which is not "blocked"
        if "DOWNLOAD_MAXSIZE" in str(cause) or type(cause).__name__ == "_DecompressionMaxSizeExceeded":
            return Status.TOO_LARGE
    for cause in causes:
        if isinstance(cause, IgnoreRequest):
            return Status.BLOCKED
        if isinstance(cause, (CannotResolveHostError, txerror.DNSLookupError)):
            return Status.DNS_ERROR
        if isinstance(cause, (DownloadConnectionRefusedError, txerror.ConnectionRefusedError)):
            return Status.CONNECTION_REFUSED
        if isinstance(cause, (DownloadTimeoutError, txerror.TimeoutError, TimeoutError)):
            return Status.TIMEOUT
        if isinstance(cause, DownloadCancelledError):
            # Scrapy cancels a download for one reason: its body passed DOWNLOAD_MAXSIZE (the
            # announced size carries a message, a chunked stream that grows past it does not)
            return Status.TOO_LARGE
        if isinstance(cause, (UnsupportedURLSchemeError, ValueError)):
            return Status.UNSUPPORTED
    for cause in causes:
        if isinstance(
            cause,
            (
                DownloadFailedError,
                ResponseDataLossError,
                ResponseFailed,
                ResponseNeverReceived,
                txerror.ConnectionLost,
                txerror.ConnectionDone,
                ConnectionError,
            ),
        ):
            return Status.CONNECTION_ERROR
    return Status.CONNECTION_ERROR


def from_failure(failure: Any) -> Status:
    """Map a Twisted ``Failure`` (what an errback receives) to a Status."""
    return from_exception(failure.value)


class Verdict(enum.StrEnum):
    """The state of one backlink on its referring page; the first that applies wins.

    The order of the members is the precedence: a page that cannot be reached
    says nothing about the link, a noindex page outranks a nofollow link, and
    ``link_removed`` is only said of a page that answered and was read.
    """

    DOMAIN_GONE = "domain_gone"  # DNS failure or connection refused
    BLOCKED = "blocked"  # robots.txt, or 401/403/429/451/another 4xx: the link may well be there
    SERVER_ERROR = "server_error"  # 5xx, timeout, TLS, too large, or an answer without a page
    NOT_FOUND = "not_found"  # the referring page answers 404/410, or its redirects loop or never end
    REDIRECTED = "redirected"  # the referring URL now redirects to a different page
    NOINDEX = "noindex"  # the page carries noindex (meta robots or X-Robots-Tag)
    NOT_CANONICAL = "not_canonical"  # the page's canonical points to a different URL
    NOFOLLOW = "nofollow"  # link found, but rel nofollow/ugc/sponsored or page-level nofollow
    LIVE = "live"  # link found and followed
    LINK_REMOVED = "link_removed"  # the page answered 200 and holds no link to the target or its site

    @property
    def is_transient(self) -> bool:
        """Measurement noise: says nothing about whether the link still stands."""
        return self in (Verdict.BLOCKED, Verdict.SERVER_ERROR)


#: how a referring page that did not answer with a page turns into a verdict
_FETCH_VERDICTS = {
    Status.DNS_ERROR: Verdict.DOMAIN_GONE,
    Status.CONNECTION_REFUSED: Verdict.DOMAIN_GONE,
    Status.BLOCKED: Verdict.BLOCKED,
    Status.CLIENT_ERROR: Verdict.BLOCKED,
    Status.RATE_LIMITED: Verdict.BLOCKED,
    Status.NOT_FOUND: Verdict.NOT_FOUND,
    Status.REDIRECT_LOOP: Verdict.NOT_FOUND,
    Status.TOO_MANY_REDIRECTS: Verdict.NOT_FOUND,
}


def fetch_verdict(outcome: Status, code: int | None) -> Verdict | None:
    """The verdict when the fetch alone decides it (None: the page answered; read it)."""
    if outcome is Status.OK:
        # a 2xx without a document (204 No Content, 205) is "an answer not covered"
        return Verdict.SERVER_ERROR if code in (204, 205) else None
    return _FETCH_VERDICTS.get(outcome, Verdict.SERVER_ERROR)


class Triage(enum.StrEnum):
    """What to do about a backlink, from its latest check (column ``triage`` of ``backlink_status``).

    The member order is the order of the report (most actionable first); which
    bucket a check falls in is decided in the store's view, from these members
    and :class:`Verdict` (README "Triage"), the first rule that applies winning.
    """

    RECLAIM = "reclaim"  # the page is live, the link was removed or made nofollow: outreach
    PLUMBING = "plumbing"  # our side: the target is broken, loops or redirects: fix with a redirect
    REBUILD = "rebuild"  # the referring page or its domain is gone: replace the equity elsewhere
    NOISE = "noise"  # blocked, 5xx, or redirected/noindex/not canonical: re-check before acting
    OK = "ok"  # live and followed, our target healthy: nothing to do


class Change(enum.StrEnum):
    """What changed between two consecutive checks of a backlink (column ``change`` of ``backlink_changes``)."""

    NEW = "new"  # the first check that finds the link
    LOST = "lost"  # the link is gone; pending (confirmed = 0) until it holds on a re-check
    RECOVERED = "recovered"  # the link is back after a confirmed loss
    NOFOLLOW = "nofollow"  # follow -> nofollow, ugc or sponsored
    FOLLOWED = "followed"  # nofollow, ugc or sponsored -> follow
    ANCHOR_CHANGED = "anchor_changed"  # another anchor text
    TARGET_CHANGED = "target_changed"  # the link now points to another URL of ours
