"""What a crawl process costs besides its pages, kept small: start-up, the garbage collector, exit.

A check of a static referring page costs about 2 ms of CPU; a backlink export of
5,000 rows is checked in about 12 s, of which 1.5 s went to none of its pages, and
0.4 s of the rest to the garbage collector (measured with py-spy and ``gc.callbacks``):

* Python's exit examined every object left for cycles, the tens of thousands of
  functions, classes and modules imported at start-up included: 0.3 s after the
  last page.  :class:`LongLived` freezes the objects that live until the end
  (``gc.freeze``) once the engine runs and again at exit, so the collector's
  full passes and Python's exit skip them;
* Scrapy 2.19's stats collector looks up every attribute through a shim that
  warns about a deprecated argument (an exception per lookup, a dozen stats
  per page: 3 % of a check).  :class:`StatsCollector` is Scrapy's memory
  collector without it;
* Scrapy imports every component of its lists and their defaults before the
  component can say it is turned off: the remote-control extension brought
  in aiohttp, the cookies middleware tldextract and requests (0.16 s of a
  1.1 s start).  :class:`SkipDisabled` takes those two out of the defaults
  while their setting is off.
"""

from __future__ import annotations

import atexit
import gc
from typing import Any

from scrapy import signals
from scrapy.statscollectors import MemoryStatsCollector

_exit_freeze = False


class LongLived:
    """An extension: the objects alive when the engine starts are left out of garbage collection.

    What exists when the engine starts (modules, settings, components, the
    spider) lives until the crawl ends; the collector's full passes need not
    walk it again and again.  When the engine stops, the objects go back to
    the collector (a process may run another crawl and drop this one), and at
    exit everything is frozen again: Python's exit need not look for cycles
    in memory the operating system reclaims anyway.
    """

    def __init__(self, crawler: Any) -> None:
        crawler.signals.connect(self.engine_started, signals.engine_started)
        crawler.signals.connect(self.engine_stopped, signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LongLived:
        global _exit_freeze
        if not _exit_freeze:
            atexit.register(gc.freeze)
            _exit_freeze = True
        return cls(crawler)

    def engine_started(self) -> None:
        gc.freeze()

    def engine_stopped(self) -> None:
        gc.unfreeze()


class StatsCollector(MemoryStatsCollector):
    """Scrapy's default stats collector, without the per-attribute shim of 2.19.

    The shim only warns when a caller passes the deprecated ``spider``
    argument; the methods take and ignore it all the same.
    """

    __getattribute__ = object.__getattribute__


class SkipDisabled:
    """An add-on: a component its setting turns off is left out of Scrapy's defaults, so it is never imported.

    Scrapy 2.19 loads every path of a component list and of its ``_BASE``
    defaults to compare them, before a component can say it is off.  While the
    setting is off and the user's list does not name the component, it is
    dropped from the defaults; ``-s REMOTE_CONTROL_ENABLED=1`` or
    ``-s COOKIES_ENABLED=1`` brings it back, as in Scrapy.
    """

    # (the setting that turns it on, the list it is in, the component as Scrapy's defaults name it)
    COMPONENTS = (
        ("REMOTE_CONTROL_ENABLED", "EXTENSIONS", "scrapy.extensions.remote_control.RemoteControl"),
        (
            "COOKIES_ENABLED",
            "DOWNLOADER_MIDDLEWARES",
            "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        ),
    )

    def update_settings(self, settings: Any) -> None:
        for flag, name, path in self.COMPONENTS:
            base = settings.getdict(f"{name}_BASE")
            if settings.getbool(flag) or path not in base or path in settings.getdict(name):
                continue
            del base[path]
            settings.set(f"{name}_BASE", base, settings.getpriority(f"{name}_BASE") or 0)
