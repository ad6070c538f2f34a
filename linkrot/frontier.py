"""The frontier of a site crawl: which URLs are new, and which limits say no.

Pure bookkeeping, no Scrapy: the seen-set, the page budget
(``LINKROT_MAX_PAGES``), the depth limit (``LINKROT_MAX_DEPTH``) and the
crawl-trap guard (``linkrot.traps``).  Each refusal is counted under
``linkrot/limit/<name>``; a limit that stops the crawl is reported once, when
it first bites, so a truncated crawl is never silent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableSet
from dataclasses import dataclass
from typing import Any

from .config import SiteConfig
from .items import Link, TrapEntry
from .traps import TrapGuard

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Admission:
    url: str
    depth: int | None
    internal: bool
    resource: bool = False  # checked (HEAD, then GET if refused), never parsed nor crawled


class Frontier:
    def __init__(self, config: SiteConfig, stats: Any, seen: MutableSet[str] | None = None) -> None:
        self.config = config
        self.stats = stats
        self.seen: MutableSet[str] = seen if seen is not None else set()
        self.pages = 0  # pages of the site scheduled (the budget of LINKROT_MAX_PAGES)
        self.traps = TrapGuard(config.max_query_variants)
        self.pending_traps: list[TrapEntry] = []
        # pages of the site seen so far only as a resource (a canonical <link>, an image link): a
        # link people follow to one of them still makes it crawled as a page
        self.resource_only: set[str] = set()

    def is_new(self, url: str) -> bool:
        return url not in self.seen

    def wants(self, link: Link) -> bool:
        """A link not scheduled yet, or a page of the site so far only checked as a resource."""
        return link.target_url not in self.seen or (link.is_page and link.target_url in self.resource_only)

    def mark(self, url: str, *, page: bool = False) -> None:
        self.seen.add(url)
        if page:
            self.pages += 1

    def restore(self, done: Iterable[str], is_internal: Callable[[str], bool]) -> None:
        """Resume: what an unfinished run stored is done (its pages count in the budget)."""
        for url in done:
            self.mark(url, page=is_internal(url))
        self.stats.set_value("linkrot/resume/done", len(self.seen))
        logger.info(
            "linkrot: %d URLs already done; the links found and not fetched yet come next", len(self.seen)
        )

    def budget_left(self) -> bool:
        if self.config.max_pages and self.pages >= self.config.max_pages:
            if self._first("max_pages"):
                logger.warning(
                    "linkrot: stopped at LINKROT_MAX_PAGES (%s pages): new pages of the site are not "
                    "crawled; `-a max_pages=0` lifts the limit",
                    f"{self.config.max_pages:,}",
                )
            return False
        return True

    def admit(self, link: Link, depth: int | None) -> Admission | None:
        """Schedule a newly found link, or None when an option, a limit or a trap says no."""
        cfg = self.config
        child = None if depth is None else depth + 1
        url = link.target_url
        if not link.is_internal and not cfg.check_external:
            return None
        if not link.is_page:
            self.mark(url)
            if link.is_internal:
                self.resource_only.add(url)
            return Admission(url, child, link.is_internal, resource=True)
        if not link.is_internal:
            self.mark(url)
            return Admission(url, child, False)
        if cfg.max_depth and child is not None and child > cfg.max_depth:
            if self._first("max_depth"):
                # once per crawl: every page past the limit is not a trap of its own (the count is a stat)
                self.report_trap(
                    url.split("?")[0] + ("?…" if "?" in url else ""),
                    f"deeper than LINKROT_MAX_DEPTH ({cfg.max_depth}) clicks from the start",
                    url,
                )
            return None
        if not self.budget_left():
            return None
        trap = self.traps.check(url)
        if trap is not None:
            self.stats.inc_value("linkrot/limit/trap")
            self.report_trap(*trap, url)
            return None
        self.resource_only.discard(url)
        self.mark(url, page=True)
        return Admission(url, child, True)

    def _first(self, limit: str) -> bool:
        """Count a refusal by a limit; True the first time (the user is told then, once)."""
        self.stats.inc_value(f"linkrot/limit/{limit}")
        return self.stats.get_value(f"linkrot/limit/{limit}") == 1

    def report_trap(self, pattern: str, reason: str, example: str) -> None:
        if self.traps.is_new(pattern, reason):
            logger.warning("linkrot: crawl trap? %s: %s; not following more of it", pattern, reason)
            self.pending_traps.append(TrapEntry(pattern, reason, example))

    def take_traps(self) -> list[TrapEntry]:
        traps, self.pending_traps = self.pending_traps, []
        return traps
