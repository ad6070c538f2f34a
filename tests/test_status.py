"""The one status vocabulary: mappers from HTTP codes and from download failures."""

from __future__ import annotations

import ssl

import pytest
from OpenSSL import SSL
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as txerror
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from linkrot.status import Status, from_exception, from_failure, from_http


@pytest.mark.parametrize(
    "code, status",
    [
        (200, Status.OK),
        (204, Status.OK),
        (404, Status.NOT_FOUND),
        (410, Status.NOT_FOUND),
        (401, Status.CLIENT_ERROR),
        (403, Status.CLIENT_ERROR),
        (451, Status.CLIENT_ERROR),
        (429, Status.RATE_LIMITED),
        (500, Status.SERVER_ERROR),
        (503, Status.SERVER_ERROR),
        (302, Status.INVALID_RESPONSE),  # a redirect that could not be followed (no Location)
        (100, Status.INVALID_RESPONSE),
        (999, Status.INVALID_RESPONSE),
    ],
)
def test_from_http(code, status):
    assert from_http(code) is status


def _chained(outer: Exception, inner: Exception) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    "exc, status",
    [
        (CannotResolveHostError("no such host"), Status.DNS_ERROR),
        (txerror.DNSLookupError("x"), Status.DNS_ERROR),
        (DownloadConnectionRefusedError(), Status.CONNECTION_REFUSED),
        (txerror.ConnectionRefusedError(), Status.CONNECTION_REFUSED),
        (DownloadTimeoutError("took longer"), Status.TIMEOUT),
        (txerror.TimeoutError(), Status.TIMEOUT),
        (IgnoreRequest("Forbidden by robots.txt"), Status.BLOCKED),
        (ResponseDataLossError(), Status.CONNECTION_ERROR),
        (DownloadFailedError("lost"), Status.CONNECTION_ERROR),
        (ResponseNeverReceived([Failure(txerror.ConnectionLost())]), Status.CONNECTION_ERROR),
        # TLS failures arrive wrapped: Twisted puts the OpenSSL error inside the reasons list
        (
            ResponseNeverReceived([Failure(SSL.Error([("SSL routines", "", "wrong version number")]))]),
            Status.TLS_ERROR,
        ),
        (_chained(DownloadFailedError("x"), ResponseFailed([Failure(SSL.Error())])), Status.TLS_ERROR),
        (ssl.SSLError("handshake"), Status.TLS_ERROR),
        (DownloadCancelledError("larger than download max size"), Status.TOO_LARGE),
        (RuntimeError("anything else"), Status.CONNECTION_ERROR),
    ],
)
def test_from_exception(exc, status):
    assert from_exception(exc) is status


def test_from_failure_unwraps_the_failure():
    assert from_failure(Failure(DownloadTimeoutError())) is Status.TIMEOUT


def test_predicates():
    assert not Status.OK.is_error
    assert not Status.BLOCKED.is_error  # robots.txt said no: blocked, not broken
    assert Status.NOT_FOUND.is_error and not Status.NOT_FOUND.is_transient
    assert Status.TIMEOUT.is_error and Status.TIMEOUT.is_transient
    assert Status.REDIRECT_LOOP.is_error
    # the value is what SQLite stores
    assert Status("dns_error") is Status.DNS_ERROR
