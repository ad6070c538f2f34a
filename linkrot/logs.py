"""Quiet logs: an expected outcome (a refused address, a host that does not resolve, a timeout) is
data, one line at most, never a traceback.

Scrapy's robots.txt middleware logs every failed robots.txt download at ERROR
with a traceback; for a link checker a dead referring host is the common case
(its status says so), so such a record becomes one INFO line.  Errors linkrot
cannot name keep their level and traceback: those are bugs to see.
"""

from __future__ import annotations

import logging
from typing import Any

_QUIETED = ("scrapy.downloadermiddlewares.robotstxt",)


def is_expected(exc: BaseException) -> bool:
    """A download failure of the network or the server (data), not an error in code (a bug)."""
    module = type(exc).__module__
    return isinstance(exc, OSError) or module.startswith(("scrapy.", "twisted.", "OpenSSL.", "linkrot."))


class ExpectedErrorsFilter(logging.Filter):
    """Turns a record about an expected download failure into one INFO line without traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and exc is not None and is_expected(exc):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


class QuietLogs:
    """An extension: installs the filter for the crawl (remove it from ``EXTENSIONS`` to see everything)."""

    def __init__(self) -> None:
        self.filter = ExpectedErrorsFilter()
        for name in _QUIETED:
            logging.getLogger(name).addFilter(self.filter)

    @classmethod
    def from_crawler(cls, crawler: Any) -> QuietLogs:
        return cls()
