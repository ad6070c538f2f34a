"""Quiet logs: an expected outcome (a refused address, a host that does not resolve, a timeout) is
data, one line at most, never a traceback.

Scrapy's robots.txt middleware logs every failed robots.txt download at ERROR
with a traceback; for a link checker a dead referring host is the common case
(its status says so), so such a record becomes one INFO line.  Errors linkrot
cannot name keep their level and traceback: those are bugs to see.

Scrapy's logging configuration opens its loggers at DEBUG whatever ``LOG_LEVEL``
says and lets the handler drop what is below it: every response made two
records ("Crawled", "Scraped from"), each with a walk up the stack, that no one
read (2 % of a backlinks check).  During a crawl the ``scrapy`` logger is set
to ``LOG_LEVEL``, so those records are not made at all.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals

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
    """An extension: installs the filter for the crawl (remove it from ``EXTENSIONS`` to see everything),
    and keeps Scrapy's loggers from making records below ``LOG_LEVEL`` while the engine runs."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        self.filter = ExpectedErrorsFilter()
        for name in _QUIETED:
            logging.getLogger(name).addFilter(self.filter)
        self.level = level
        self.scrapy_logger = logging.getLogger("scrapy")
        self.previous_level: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> QuietLogs:
        level = crawler.settings.get("LOG_LEVEL", "DEBUG")
        level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
        extension = cls(level if isinstance(level, int) else logging.NOTSET)
        crawler.signals.connect(extension.engine_started, signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signals.engine_stopped)
        return extension

    def engine_started(self) -> None:
        # only ever quieter: a logger its user set above LOG_LEVEL stays there
        if self.level > self.scrapy_logger.getEffectiveLevel():
            self.previous_level = self.scrapy_logger.level
            self.scrapy_logger.setLevel(self.level)

    def engine_stopped(self) -> None:
        if self.previous_level is not None:  # a process may run another crawl, more verbose
            self.scrapy_logger.setLevel(self.previous_level)
            self.previous_level = None
