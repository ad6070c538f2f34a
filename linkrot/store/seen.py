"""The seen-set of a big crawl on disk: 64-bit hashes of URLs in a scratch SQLite file.

A Python ``set`` of URL strings costs about 150 bytes per URL and never shrinks;
a million-page site with its external links holds well over a million.  Here
each URL is an 8-byte BLAKE2b hash, the rowid of a table in a file *beside* the
run's database (not in it: it is scratch, thrown away when the process ends, and
rebuilt from the run's rows when a run resumes).  Writes are batched: new hashes
wait in a set and go to disk ``batch`` at a time (200,000 hashes, about 14 MB), in one
transaction; a site smaller than that never queries the file (measured: the queries cost
a twentieth of a 20,000-page crawl's CPU).

Two URLs share a hash with probability about n²/2⁶⁵: one in 30 million for a
crawl of a million URLs.  The cost of a collision is one URL not fetched.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path


def url_hash(url: str) -> int:
    """A signed 64-bit integer, SQLite's rowid type."""
    return int.from_bytes(
        hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True
    )


class DiskSeen:
    """A set of URLs that lives on disk; ``claim`` marks several at once and says which were new."""

    def __init__(self, path: str | Path, batch: int = 200_000) -> None:
        self.path = Path(path)
        # isolation_level=None: transactions are ours (one per batch); no durability needed for scratch
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("PRAGMA cache_size = -8000")  # 8 MB of pages: the hot part of the B-tree
        self._conn.execute("CREATE TABLE IF NOT EXISTS seen (h INTEGER PRIMARY KEY)")
        self._pending: set[int] = set()
        self._batch = batch
        self._count = self._conn.execute("SELECT count(*) FROM seen").fetchone()[0]
        self._stored = self._count  # hashes on disk: none yet means no query at all (most sites)
        self._asked: tuple[frozenset[int], set[int]] | None = None  # the last known(): asked, on disk

    def __len__(self) -> int:
        return self._count

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        h = url_hash(url)
        return h in self._pending or self._on_disk([h]) != set()

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
        on_disk = self._on_disk(asked)
        # the frontier claims some of these next: what the disk said holds until the next flush
        self._asked = (frozenset(asked), on_disk) if self._stored else None
        return [h in self._pending or h in on_disk for h in hashes]

    def claim(self, urls: Sequence[str], lease: str | None = None) -> list[bool]:
        """Mark each URL seen; True for those that were not (a URL twice in ``urls``: new once)."""
        hashes = [url_hash(u) for u in urls]
        asked, self._asked = self._asked, None
        unknown = [h for h in hashes if h not in self._pending]
        if asked is not None and asked[0].issuperset(unknown):
            on_disk = asked[1]  # known() just asked the disk about every one of them: no second query
        else:
            on_disk = self._on_disk(unknown)
        new: list[bool] = []
        for h in hashes:
            fresh = h not in self._pending and h not in on_disk
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
        self._asked = None
        if not self._pending:
            return
        self._conn.execute("BEGIN")
        self._conn.executemany("INSERT OR IGNORE INTO seen (h) VALUES (?)", ((h,) for h in self._pending))
        self._conn.execute("COMMIT")
        self._stored += len(self._pending)
        self._pending.clear()

    def close(self) -> None:
        self._conn.close()
        self.path.unlink(missing_ok=True)

    def _on_disk(self, hashes: list[int]) -> set[int]:
        found: set[int] = set()
        if not self._stored:
            return found
        for start in range(
            0, len(hashes), 500
        ):  # SQLite's bound-parameter limit is far above; keep queries short
            part = hashes[start : start + 500]
            sql = f"SELECT h FROM seen WHERE h IN ({', '.join('?' * len(part))})"
            found.update(row[0] for row in self._conn.execute(sql, part))
        return found
