"""Crawl traps on your own site: URL spaces that never end (calendars, session ids, faceted filters).

A calendar whose "next month" link never ends, a session id added to every
link, filters that combine without limit: each new URL looks new.  The limits
(``LINKROT_MAX_PAGES``, ``LINKROT_MAX_DEPTH``) end such a crawl anyway; this
module makes it end early and say why.  A path is a trap when more than
``LINKROT_MAX_QUERY_VARIANTS`` query strings of it were scheduled, or when its
segments repeat (``/a/b/a/b/a/b``, relative links that loop).
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

REPEATS = 3  # the same segment this many times in one path: a relative-link loop


class TrapGuard:
    def __init__(self, max_query_variants: int) -> None:
        self.max_query_variants = max_query_variants
        self.variants: Counter[str] = Counter()
        self.traps: dict[str, str] = {}  # pattern -> reason, for those reported

    def check(self, url: str) -> tuple[str, str] | None:
        """``(pattern, reason)`` when ``url`` lies in a trap and must not be scheduled, else None."""
        cut = url.find("?")
        if cut != -1 and self.max_query_variants:
            base = url[:cut]
            self.variants[base] += 1
            if self.variants[base] > self.max_query_variants:
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
