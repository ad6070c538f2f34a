"""The seen-set of a big crawl in bounded memory: 64-bit hashes of URLs, packed, then on disk.

A Python ``set`` of URL strings costs about 150 bytes per URL and never shrinks;
a million-page site with its external links holds well over a million.  Here
each URL is an 8-byte BLAKE2b hash.  New hashes wait in a set (``batch`` at a
time: 200,000 hashes, about 14 MB), then are merged into one sorted array of
8 bytes a hash (9 MB for a million-page site), searched by bisection.  Past
``memory`` hashes in the array (8,000,000: 64 MB) they go to the rowid of a
table in a scratch SQLite file *beside* the run's database (not in it: thrown
away when the process ends, rebuilt from the run's rows when a run resumes),
and the array starts again.  Querying that file for every page's links cost a
twentieth of a crawl's CPU; a crawl of fewer URLs than ``memory`` never does.

Two URLs share a hash with probability about n²/2⁶⁵: one in 30 million for a
crawl of a million URLs.  The cost of a collision is one URL not fetched.
"""

from __future__ import annotations

import hashlib
import sqlite3
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from pathlib import Path


def url_hash(url: str) -> int:
    """A signed 64-bit integer, SQLite's rowid type."""
    return int.from_bytes(
        hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True
    )


class DiskSeen:
    """A set of URLs in bounded memory; ``claim`` marks several at once and says which were new."""

    def __init__(self, path: str | Path, batch: int = 200_000, memory: int = 8_000_000) -> None:
        self.path = Path(path)
        # isolation_level=None: transactions are ours (one per batch); no durability needed for scratch
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("PRAGMA cache_size = -8000")  # 8 MB of pages: the hot part of the B-tree
        self._conn.execute("CREATE TABLE IF NOT EXISTS seen (h INTEGER PRIMARY KEY)")
        self._pending: set[int] = set()
        self._batch = batch
        self._sorted = array("q")  # the hashes flushed from _pending, sorted: up to `memory` of them
        self._buckets = array("q")  # where each value of a hash's top bits starts in it (_keep)
        self._memory = memory
        self._count = self._conn.execute("SELECT count(*) FROM seen").fetchone()[0]
        self._stored = self._count  # hashes on disk: none yet means no query at all (most sites)
        self._asked: tuple[frozenset[int], set[int]] | None = None  # the last known(): asked, found

    def __len__(self) -> int:
        return self._count

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        h = url_hash(url)
        return h in self._pending or self._flushed([h]) != set()

    def __iter__(self):  # a MutableSet must iterate; hashes cannot be turned back into URLs
        raise TypeError("DiskSeen holds hashes of URLs: it cannot list them")

    def add(self, url: str) -> None:
        self.claim([url])

    def discard(self, url: str) -> None:  # never needed by a crawl: a URL seen stays seen
        raise TypeError("DiskSeen never forgets a URL")

    def known(self, urls: Sequence[str]) -> list[bool]:
        """Whether each URL was seen, in one query."""
        hashes = [url_hash(u) for u in urls]
        asked = [h for h in hashes if h not in self._pending]
        found = self._flushed(asked)
        # the frontier claims some of these next: what was found holds until the next flush
        self._asked = (frozenset(asked), found) if self._stored or self._sorted else None
        return [h in self._pending or h in found for h in hashes]

    def claim(self, urls: Sequence[str], lease: str | None = None) -> list[bool]:
        """Mark each URL seen; True for those that were not (a URL twice in ``urls``: new once)."""
        hashes = [url_hash(u) for u in urls]
        asked, self._asked = self._asked, None
        unknown = [h for h in hashes if h not in self._pending]
        if asked is not None and asked[0].issuperset(unknown):
            found = asked[1]  # known() just looked every one of them up: not again
        else:
            found = self._flushed(unknown)
        new: list[bool] = []
        for h in hashes:
            fresh = h not in self._pending and h not in found
            if fresh:
                self._pending.add(h)
                self._count += 1
            new.append(fresh)
        if len(self._pending) >= self._batch:
            self.flush()
        return new

    def update(self, urls: Iterable[str]) -> int:
        """Mark many URLs seen (a resumed run's done URLs); returns how many were new."""
        added, chunk = 0, []
        for url in urls:
            chunk.append(url)
            if len(chunk) >= self._batch:
                added += sum(self.claim(chunk))
                chunk = []
        return added + (sum(self.claim(chunk)) if chunk else 0)

    def flush(self) -> None:
        """Merge the waiting hashes into the sorted array, or, past ``memory`` hashes, write all to disk."""
        self._asked = None
        if not self._pending:
            return
        new = sorted(self._pending)
        if len(self._sorted) + len(new) <= self._memory:
            self._keep(_merged(self._sorted, new))
        else:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR IGNORE INTO seen (h) VALUES (?)", ((h,) for h in self._sorted))
            self._conn.executemany("INSERT OR IGNORE INTO seen (h) VALUES (?)", ((h,) for h in new))
            self._conn.execute("COMMIT")
            self._stored += len(self._sorted) + len(new)
            self._keep(array("q"))
        self._pending.clear()

    def _keep(self, packed: array) -> None:
        """The sorted array to search from now on, and its buckets (none for an empty one: never searched)."""
        self._sorted = packed
        self._buckets = _buckets(packed) if packed else array("q")

    def close(self) -> None:
        self._conn.close()
        self.path.unlink(missing_ok=True)

    def _flushed(self, hashes: list[int]) -> set[int]:
        """Those of ``hashes`` in the sorted array or on disk."""
        packed, buckets, found, rest = self._sorted, self._buckets, set(), []
        if packed:
            for h in hashes:
                # bisection within the hash's bucket: 4 steps instead of 20 at a million hashes
                top = (h >> _SHIFT) + _BUCKETS // 2
                end = buckets[top + 1]
                i = bisect_left(packed, h, buckets[top], end)
                if i < end and packed[i] == h:
                    found.add(h)
                else:
                    rest.append(h)
        else:
            rest = hashes
        if not self._stored or not rest:
            return found
        for start in range(
            0, len(rest), 500
        ):  # SQLite's bound-parameter limit is far above; keep queries short
            part = rest[start : start + 500]
            sql = f"SELECT h FROM seen WHERE h IN ({', '.join('?' * len(part))})"
            found.update(row[0] for row in self._conn.execute(sql, part))
        return found


_BITS = 16  # the sorted array is cut in 2**16 buckets by the hashes' top bits
_BUCKETS = 1 << _BITS
_SHIFT = 64 - _BITS


def _buckets(packed: array) -> array:
    """Where each bucket starts in the sorted array (``_BUCKETS + 1`` offsets, the last one its end).

    The hashes are uniform, so a bucket holds ``len / 65536`` of them: looking one up bisects
    a handful instead of the whole array (each step boxes an int: they were most of the lookup)."""
    low = -(1 << 63)
    step = 1 << _SHIFT
    return array("q", (bisect_left(packed, low + b * step) for b in range(_BUCKETS))) + array("q", [len(packed)])


def _merged(packed: array, new: list[int]) -> array:
    """The sorted array with the sorted ``new`` hashes (none of them in it) merged in.

    Runs of the old array are copied as slices (in C); Python steps once per new hash.
    """
    if not packed:
        return array("q", new)
    out = array("q")
    start = 0
    for h in new:
        i = bisect_left(packed, h, start)
        out.extend(packed[start:i])
        out.append(h)
        start = i
    out.extend(packed[start:])
    return out
