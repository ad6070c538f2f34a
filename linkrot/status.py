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
        if isinstance(cause, IgnoreRequest):
            return Status.BLOCKED
        if isinstance(cause, (CannotResolveHostError, txerror.DNSLookupError)):
            return Status.DNS_ERROR
        if isinstance(cause, (DownloadConnectionRefusedError, txerror.ConnectionRefusedError)):
            return Status.CONNECTION_REFUSED
        if isinstance(cause, (DownloadTimeoutError, txerror.TimeoutError, TimeoutError)):
            return Status.TIMEOUT
        if isinstance(cause, DownloadCancelledError) and "max size" in str(cause):
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
