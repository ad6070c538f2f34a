"""Crawl traps on your own site: URL spaces that never end (calendars, session ids, faceted filters).

A calendar whose "next month" link never ends, a session id added to every
link, filters that combine without limit: each new URL looks new.  The limits
(``LINKROT_MAX_PAGES``, ``LINKROT_MAX_DEPTH``) end such a crawl anyway; this
module makes it end early and say why.  A path is a trap when more than
``LINKROT_MAX_QUERY_VARIANTS`` query strings of it were scheduled, or when its
segments repeat (``/a/b/a/b/a/b``, relative links that loop).

The query strings of each path are counted in a fixed 4 MiB (:class:`QueryCounts`), not in a
dict that would hold every path of a million-page site.
"""

from __future__ import annotations

from array import array
from collections import Counter
from urllib.parse import urlsplit

REPEATS = 3  # the same segment this many times in one path: a relative-link loop


class QueryCounts:
    """How many query strings of each path were scheduled, in fixed memory: a count-min sketch.

    ``rows`` arrays of ``width`` counters; a path adds one to a counter of each row, chosen by its
    hash, and its count is the least of them.  A count is never under the truth (no trap missed)
    and over it only where other paths share all its counters; raising only the least ones
    (conservative update) keeps that small: 1.6 on average, 3 at most, for a path never seen after a
    million others (measured), where a trap takes ``LINKROT_MAX_QUERY_VARIANTS`` (1,000).
    """

    def __init__(self, width: int = 1 << 18, rows: int = 4) -> None:
        self.width = width
        self.rows = [array("I", bytes(4 * width)) for _ in range(rows)]

    def add(self, key: str) -> int:
        """Count one more query string of ``key``; its count so far."""
        first, step = hash(key), hash((key, 1)) | 1
        slots = [(first + i * step) % self.width for i in range(len(self.rows))]
        count = min(row[slot] for row, slot in zip(self.rows, slots)) + 1
        for row, slot in zip(self.rows, slots):
            row[slot] = max(row[slot], count)  # conservative update: only the least counters rise
        return count

    @property
    def nbytes(self) -> int:
        return sum(row.itemsize * len(row) for row in self.rows)


class TrapGuard:
    def __init__(self, max_query_variants: int) -> None:
        self.max_query_variants = max_query_variants
        self.variants = QueryCounts()
        self.traps: dict[str, str] = {}  # pattern -> reason, for those reported

    def check(self, url: str) -> tuple[str, str] | None:
        """``(pattern, reason)`` when ``url`` lies in a trap and must not be scheduled, else None."""
        cut = url.find("?")
        if cut != -1 and self.max_query_variants:
            base = url[:cut]
            if self.variants.add(base) > self.max_query_variants:
                return f"{base}?…", f"more than {self.max_query_variants} query strings of one path"
        if url.count("/") <= 2 * REPEATS + 2:  # most URLs: too short to repeat, skip the parse
            return None
        path = urlsplit(url).path
        if path.count("/") > 2 * REPEATS:
            segments = Counter(s for s in path.split("/") if s)
            segment, count = segments.most_common(1)[0] if segments else ("", 0)
            if count >= REPEATS:
                return (
                    f"{url.split(segment, 1)[0]}{segment}/…",
                    f"the segment {segment!r} repeats {count} times",
                )
        return None

    def is_new(self, pattern: str, reason: str) -> bool:
        if pattern in self.traps:
            return False
        self.traps[pattern] = reason
        return True
