"""The frontier of a site crawl: which URLs are new, and which limits say no.

Pure bookkeeping, no Scrapy: the seen-set, the page budget
(``LINKROT_MAX_PAGES``), the depth limit (``LINKROT_MAX_DEPTH``) and the
crawl-trap guard (``linkrot.traps``).  Each refusal is counted under
``linkrot/limit/<name>``; a limit that stops the crawl is reported once, when
it first bites, so a truncated crawl is never silent, and :meth:`Frontier.limits`
names the limits that bit for the run's row.

The seen-set is anything with ``known(urls)`` and ``claim(urls)`` (see
:class:`Seen`): a set in memory (tests, small crawls), hashes on disk
(:class:`linkrot.store.DiskSeen`, a big crawl in bounded memory) or a Redis set
shared by several workers (:class:`linkrot.scale.RedisSeen`).  ``claim`` marks
URLs and says which were new: with Redis it is ``SADD``, true for exactly one
worker, so a URL is scheduled once over all of them.  The links of a page are
asked about together: with Redis, one round trip for the page (known, and claimed when nothing
can refuse them), another only for links a limit or the trap guard must weigh first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableSet, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .config import SiteConfig
from .items import Link, TrapEntry
from .traps import TrapGuard

logger = logging.getLogger(__name__)


class Seen(Protocol):
    def known(self, urls: Sequence[str]) -> list[bool]: ...
    # ``lease``: the shared crawl's request whose answer made the claims (undone if its worker dies)
    def claim(self, urls: Sequence[str], lease: str | None = None) -> list[bool]: ...


class MemorySeen:
    """A seen-set in a Python set (what :class:`Frontier` uses unless given another)."""

    def __init__(self, urls: MutableSet[str] | None = None) -> None:
        self.urls: MutableSet[str] = urls if urls is not None else set()

    def __len__(self) -> int:
        return len(self.urls)

    def __contains__(self, url: object) -> bool:
        return url in self.urls

    def known(self, urls: Sequence[str]) -> list[bool]:
        return [u in self.urls for u in urls]

    def claim(self, urls: Sequence[str], lease: str | None = None) -> list[bool]:
        new = []
        for url in urls:
            fresh = url not in self.urls
            if fresh:
                self.urls.add(url)
            new.append(fresh)
        return new


# A URL of the site seen as a resource (an image, a canonical <link>: checked, never parsed) is
# claimed under a key of its own: a link people follow to it still has it crawled as a page, and a
# URL crawled as a page is not checked again as a resource.  No set of such URLs is held in memory,
# and every worker of a shared crawl sees the same claims.  No URL or href starts with a control
# character (they are stripped), so the key is never a URL's.
_AS_RESOURCE = "\x00resource "


def seen_key(url: str, internal_resource: bool) -> str:
    """The key under which the seen-set holds ``url``."""
    return _AS_RESOURCE + url if internal_resource else url


@dataclass(slots=True)
class Admission:
    url: str
    depth: int | None
    internal: bool
    resource: bool = False  # checked (HEAD, then GET if refused), never parsed nor crawled


class Frontier:
    def __init__(
        self,
        config: SiteConfig,
        stats: Any,
        seen: Seen | MutableSet[str] | None = None,
        count_pages: Callable[[int], int] | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.seen: Seen = seen if hasattr(seen, "claim") else MemorySeen(seen)  # type: ignore[arg-type]
        self.pages = 0  # pages of the site scheduled (the budget of LINKROT_MAX_PAGES), over all workers
        # adds n pages to the budget's count and returns the total; shared by the workers of a scaled crawl
        self._count_pages = count_pages or self._count_locally
        if count_pages is not None:  # a worker joining a crawl starts from the pages scheduled so far
            self.pages = count_pages(0)
        self.traps = TrapGuard(config.max_query_variants)
        self.pending_traps: list[TrapEntry] = []

    def _count_locally(self, n: int) -> int:
        return self.pages + n

    def is_new(self, url: str) -> bool:
        return not self.seen.known([url])[0]

    def claim(self, url: str, *, page: bool = False, lease: str | None = None) -> bool:
        """Mark ``url`` seen; True when it was new (with Redis: new to every worker).

        ``lease``: in a shared crawl, the request whose answer this claim comes from; if its
        worker dies before that answer's results are written, the claim is undone with the lease.
        """
        new = self.seen.claim([url], lease=lease)[0]
        if new and page:
            self.pages = self._count_pages(1)
        return new

    def restore(self, done: Iterable[tuple[str, bool, bool]]) -> None:
        """Resume: what an unfinished run stored is done, ``(url, internal, resource)`` each (its pages
        count in the budget)."""
        urls = pages = 0
        chunk: list[str] = []
        for url, internal, resource in done:
            chunk.append(seen_key(url, internal and resource))
            urls += 1
            pages += bool(internal and not resource)
            if len(chunk) >= 5000:
                self.seen.claim(chunk)
                chunk = []
        self.seen.claim(chunk)
        self.pages = self._count_pages(pages) if pages else self.pages
        self.stats.set_value("linkrot/resume/done", urls)
        logger.info("linkrot: %d URLs already done; the links found and not fetched yet come next", urls)

    def budget_left(self, more: int = 0) -> bool:
        if self.config.max_pages and self.pages + more >= self.config.max_pages:
            if self._first("max_pages"):
                logger.warning(
                    "linkrot: stopped at LINKROT_MAX_PAGES (%s pages): new pages of the site are not "
                    "crawled; `-a max_pages=0` lifts the limit",
                    f"{self.config.max_pages:,}",
                )
            return False
        return True

    def admit_all(
        self, links: Sequence[Link], depth: int | None, lease: str | None = None
    ) -> list[Admission]:
        """The links of one page to schedule: new ones that no option, limit or trap refuses.

        Asks the seen-set which links are known, weighs the new ones one by one, and claims those
        admitted together: a refused link is not marked, so a shorter path to it may still come.  A
        shared seen-set is also asked to claim, in the same round trip, the links that no limit or
        trap could refuse on this page (:meth:`_sure`).
        """
        cfg = self.config
        child = None if depth is None else depth + 1
        unique = [
            link
            for link in {link.target_url: link for link in links}.values()
            if link.is_internal or cfg.check_external
        ]
        urls = [link.target_url for link in unique]
        both = getattr(self.seen, "known_or_claim", None)
        if both is not None:  # a shared seen-set (linkrot.scale.RedisSeen): one round trip for the page
            sure = self._sure(unique, child)
            pages_of = [link.is_internal and link.is_page for link in unique]
            known, claimed, total = both(urls, sure, pages_of, lease)
        else:  # in this process: asking twice costs nothing worth saving
            sure, known, claimed, total = [None] * len(urls), self.seen.known(urls), [False] * len(urls), None
        admitted: list[Admission | None] = [None] * len(unique)  # in the page's order
        candidates: list[tuple[int, Admission]] = []
        claimed_pages = pages = 0  # pages of the site admitted with the question; and with the candidates
        for i, (link, is_known, new, key) in enumerate(zip(unique, known, claimed, sure)):
            if is_known:
                continue
            url = link.target_url
            if key is not None:  # claimed with the question: admitted when new to every worker
                if new:
                    admitted[i] = Admission(url, child, link.is_internal, resource=not link.is_page)
                    claimed_pages += link.is_internal and link.is_page
                continue
            if not link.is_page:  # a resource: checked once, never parsed, never a page of the budget
                candidates.append((i, Admission(url, child, link.is_internal, resource=True)))
                continue
            if not link.is_internal:
                candidates.append((i, Admission(url, child, False)))
                continue
            if cfg.max_depth and child is not None and child > cfg.max_depth:
                if self._first("max_depth"):
                    # once per crawl: every page past the limit is not a trap of its own (the count is a stat)
                    self.report_trap(
                        url.split("?")[0] + ("?…" if "?" in url else ""),
                        f"deeper than LINKROT_MAX_DEPTH ({cfg.max_depth}) clicks from the start",
                        url,
                    )
                continue
            if not self.budget_left(claimed_pages + pages):
                continue
            trap = self.traps.check(url)
            if trap is not None:
                self.stats.inc_value("linkrot/limit/trap")
                self.report_trap(*trap, url)
                continue
            candidates.append((i, Admission(url, child, True)))
            pages += 1
        if total is not None:
            self.pages = total
        elif claimed_pages:
            self.pages = self._count_pages(claimed_pages)
        if candidates:
            keys = [seen_key(c.url, c.resource and c.internal) for _, c in candidates]
            pages = 0
            for (i, c), new in zip(candidates, self.seen.claim(keys, lease=lease)):
                if new:
                    admitted[i] = c
                    pages += c.internal and not c.resource
            if pages:
                self.pages = self._count_pages(pages)
        return [a for a in admitted if a is not None]

    def _sure(self, links: Sequence[Link], child: int | None) -> list[str | None]:
        """For each link, the key to claim it under when it is new, if nothing could refuse it on this
        page: a resource or another site's page, or a page of the site within the depth limit, with
        no query string (the trap guard counts those as they come) and no repeating path, while the
        page budget holds all of them; None for the others."""
        cfg = self.config
        internal_pages = sum(link.is_internal and link.is_page for link in links)
        room = not cfg.max_pages or self.pages + internal_pages < cfg.max_pages
        deep = bool(cfg.max_depth and child is not None and child > cfg.max_depth)
        keys: list[str | None] = []
        for link in links:
            url = link.target_url
            if not link.is_page:
                keys.append(seen_key(url, link.is_internal))
            elif not link.is_internal or (
                room and not deep and "?" not in url and self.traps.check(url) is None
            ):
                keys.append(url)
            else:
                keys.append(None)
        return keys

    def limits(self) -> list[str]:
        """The limits that refused pages of the site, as ``name=value`` (the run row's ``stopped_by``)."""
        return [
            f"{name}={value}"
            for name, value in (("max_pages", self.config.max_pages), ("max_depth", self.config.max_depth))
            if self.stats.get_value(f"linkrot/limit/{name}")
        ]

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
