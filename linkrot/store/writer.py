"""Every write of the store: runs and their checkpoint, crawl results, backlink imports and checks, the
check queue, and what the after-run steps derive (history, suggestions, snapshots, alerts, marks).

Writes are batched upserts in one transaction each, keyed so that a re-run or a
resumed run never duplicates rows (``INSERT OR REPLACE`` on the natural key).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ..items import BacklinkCheck, SitemapEntry, TrapEntry, UrlResult
from ..status import Change
from .base import CACHE_KIB, Connection, utcnow
from .schema import LINKS_BY_TARGET, LINKS_BY_TARGET_SQL

if TYPE_CHECKING:
    from ..history import Ledger


def _int(value: bool | None) -> int | None:
    return None if value is None else int(value)


_URL_COLUMNS = ["run_id", "url", "is_internal", "outcome", "http_status", "final_url", "found_via", "depth", "method", "content_type", "size", "elapsed_ms", "title", "h1", "canonical_url", "meta_robots", "x_robots_tag", "noindex", "nofollow", "chain", "hops", "is_loop", "temp_redirect", "to_home", "soft_404", "soft_404_reason", "similarity", "error", "fetched_at", "is_resource", "soft_404_explanation"]
_URL_SQL = (
    f"INSERT OR REPLACE INTO urls ({', '.join(_URL_COLUMNS)}) VALUES ({', '.join('?' * len(_URL_COLUMNS))})"
)
# a URL checked as a resource (HEAD, not parsed) never replaces its row as a page, which says more
_RESOURCE_SQL = _URL_SQL.replace("INSERT OR REPLACE", "INSERT OR IGNORE")
_LINK_SQL = (
    "INSERT OR IGNORE INTO links (run_id, source_url, target_url, anchor_text, rel, nofollow, is_internal, kind) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_FRAGMENT_SQL = (
    "INSERT OR IGNORE INTO link_fragments (run_id, source_url, target_url, fragment) VALUES (?, ?, ?, ?)"
)
_ANCHORS_SQL = "INSERT OR REPLACE INTO page_anchors (run_id, url, ids) VALUES (?, ?, ?)"
_SITEMAP_SQL = "INSERT OR IGNORE INTO sitemap_urls (run_id, url, sitemap) VALUES (?, ?, ?)"
_BACKLINK_COLUMNS = ["source_url", "target_url", "any_target", "target_site", "source_host", "source_domain", "anchor", "source_title", "authority", "authority_metric", "first_seen", "last_seen", "nofollow", "ugc", "sponsored", "lost_status", "extra", "source_format", "first_imported_at", "last_imported_at", "anchors", "vendor_chain", "toxic_score", "last_import_id"]
# a newer export refreshes what the vendor knows; an empty cell never erases a known fact
_KEEP_FIRST = {"first_seen", "first_imported_at", "target_site", "source_host", "source_domain"}
# One export listing a pair twice (an image link and a text link) is one backlink: the first
# listing's facts, and the JSON lists of anchors and chain entries of all its listings.
_SAME_IMPORT = "last_import_id = excluded.last_import_id"
_MERGED = {"anchors", "vendor_chain"}
_JSON_UNION = """(SELECT json_group_array(CASE type WHEN 'object' THEN json(value) ELSE value END) FROM (
    SELECT 0 AS part, key, type, value FROM json_each({c})
    UNION ALL SELECT 1, key, type, value FROM json_each(excluded.{c})
        WHERE value NOT IN (SELECT value FROM json_each({c}))
    ORDER BY part, key))"""


def _on_conflict(c: str) -> str:
    if c in _KEEP_FIRST:
        return f"{c} = coalesce({c}, excluded.{c})"
    if c in _MERGED:
        union = _JSON_UNION.format(c=c)
        return (
            f"{c} = CASE WHEN {_SAME_IMPORT} AND {c} IS NOT NULL AND excluded.{c} IS NOT NULL THEN {union} "
            f"ELSE coalesce(excluded.{c}, {c}) END"
        )
    if c in ("last_import_id", "last_imported_at"):
        return f"{c} = excluded.{c}"
    return f"{c} = CASE WHEN {_SAME_IMPORT} THEN coalesce({c}, excluded.{c}) ELSE coalesce(excluded.{c}, {c}) END"


_BACKLINK_SQL = (
    f"INSERT INTO backlinks ({', '.join(_BACKLINK_COLUMNS)}) VALUES ({', '.join('?' * len(_BACKLINK_COLUMNS))}) "
    "ON CONFLICT (source_url, target_url) DO UPDATE SET "
    + ", ".join(_on_conflict(c) for c in _BACKLINK_COLUMNS if c not in ("source_url", "target_url"))
)
_BACKLINK_IMPORT_SQL = (
    "INSERT OR IGNORE INTO backlink_imports (import_id, backlink_id, line) "
    "SELECT ?, id, ? FROM backlinks WHERE source_url = ? AND target_url = ?"
)
_CHECK_COLUMNS = ["backlink_id", "run_id", "status", "reason", "outcome", "http_status", "final_url", "chain", "hops", "link_found", "rendered", "linked_url", "anchor_text", "rel", "nofollow", "noindex", "canonical_url", "target_changed", "evidence", "error", "elapsed_ms", "checked_at", "anchor_class", "mentions_site", "rechecked"]
_CHECK_SQL = (
    f"INSERT OR REPLACE INTO backlink_checks ({', '.join(_CHECK_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CHECK_COLUMNS))})"
)
# a pending loss of a backlink: the row that a later check confirms or cancels
_PENDING_LOSS = f"backlink_id = ? AND change = '{Change.LOST}' AND confirmed = 0 AND cancelled = 0"


class Writer(Connection):
    """The writing half of :class:`linkrot.store.Store`, with the reads a spider needs to resume a run
    (its checkpoint) or to stream its check queue."""

    # -- runs ---------------------------------------------------------------

    def start_run(self, spider: str, site: str | None, args: dict[str, Any]) -> int:
        with self._conn:
            cursor = self._conn.execute(
                "INSERT INTO runs (spider, site, args, started_at) VALUES (?, ?, ?, ?)",
                (spider, site, json.dumps(args, sort_keys=True, default=str), utcnow()),
            )
        return int(cursor.lastrowid)

    def resumable_run(self, spider: str, site: str | None, args: dict[str, Any]) -> int | None:
        """The run to resume: the latest of this spider and site, if it never finished, with the same arguments.

        A run killed (SIGKILL, power loss) stays ``running``; one stopped with Ctrl-C is ``interrupted``.
        Its rows are its checkpoint: what is in the database is done, everything else is redone.
        """
        row = self._conn.execute(
            "SELECT id, state, args FROM runs WHERE spider = ? AND site IS ? ORDER BY id DESC LIMIT 1",
            (spider, site),
        ).fetchone()
        if row is None or row[1] == "finished":
            return None
        if json.loads(row[2] or "{}") != json.loads(json.dumps(args, sort_keys=True, default=str)):
            return None
        return int(row[0])

    def resume_run(self, run_id: int) -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE runs SET state = 'running', finished_at = NULL, finish_reason = NULL WHERE id = ?",
                (run_id,),
            )

    def done_urls(self, run_id: int) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT url FROM urls WHERE run_id = ?", (run_id,))}

    def iter_done_urls(self, run_id: int, batch: int = 5000) -> Iterator[tuple[str, int, int]]:
        """``(url, is_internal, is_resource)`` of what a run stored, read in batches: a resumed big crawl
        never holds them all."""
        return self._pages(
            "SELECT url, is_internal, is_resource FROM urls WHERE run_id = ? AND url > ? ORDER BY url LIMIT ?",
            run_id,
            batch,
        )

    def iter_sitemap_urls(self, run_id: int, batch: int = 5000) -> Iterator[str]:
        """The sitemap URLs a run found, read in batches (orphans are crawled from this stream)."""
        for url, _ in self._pages(
            "SELECT url, sitemap FROM sitemap_urls WHERE run_id = ? AND url > ? ORDER BY url LIMIT ?",
            run_id,
            batch,
        ):
            yield url

    def sitemap_url_count(self, run_id: int) -> int:
        return self._value("SELECT count(*) FROM sitemap_urls WHERE run_id = ?", (run_id,))

    def _pages(self, sql: str, run_id: int, batch: int) -> Iterator[tuple]:
        """Keyset pagination on ``url``: each batch is a short read, so writes go on between batches."""
        after = ""
        while rows := self._conn.execute(sql, (run_id, after, batch)).fetchall():
            yield from rows
            after = rows[-1][0]

    def pending_links(self, run_id: int, batch: int = 5000) -> Iterator[tuple[str, int | None, int]]:
        """Link targets found by a run and not fetched yet: (url, depth of the page it was found on,
        is_internal), read in batches by target URL (the scheduler orders them by depth)."""
        return self._pages(
            """
            SELECT l.target_url, min(u.depth), max(l.is_internal) FROM links l
            JOIN urls u ON u.run_id = l.run_id AND u.url = l.source_url
            WHERE l.run_id = ? AND l.target_url > ?
              AND NOT EXISTS (SELECT 1 FROM urls d WHERE d.run_id = l.run_id AND d.url = l.target_url)
            GROUP BY l.target_url ORDER BY l.target_url LIMIT ?
            """,
            run_id,
            batch,
        )

    def sitemap_entries(self, run_id: int) -> dict[str, str]:
        return dict(
            self._conn.execute("SELECT url, sitemap FROM sitemap_urls WHERE run_id = ?", (run_id,)).fetchall()
        )

    def record_limits(self, run_id: int, limits: Iterable[str]) -> None:
        """Add limits that refused pages (``max_pages=50000``) to the run's ``stopped_by``; workers of one
        shared run each add theirs."""
        limits = set(limits)
        if not limits:
            return
        with self._conn:
            known = self._value("SELECT stopped_by FROM runs WHERE id = ?", (run_id,))
            merged = sorted(limits | set(filter(None, (known or "").split(","))))
            self._conn.execute("UPDATE runs SET stopped_by = ? WHERE id = ?", (",".join(merged), run_id))

    def share_run(self, run_id: int, token: str) -> None:
        """Mark the run as this database's part of a shared crawl (the token published in Redis)."""
        with self._conn:
            self._conn.execute("UPDATE runs SET shared_token = ? WHERE id = ?", (token, run_id))

    def run_token(self, run_id: int) -> str | None:
        """The shared crawl's token of a run of this database; None when there is no such run."""
        return self._value("SELECT shared_token FROM runs WHERE id = ?", (run_id,))

    def run_state(self, run_id: int) -> str | None:
        """``running``, ``interrupted``, ``finished``; None when there is no such run."""
        return self._value("SELECT state FROM runs WHERE id = ?", (run_id,))

    def finish_run(self, run_id: int, reason: str, stats: dict[str, Any]) -> None:
        state = "finished" if reason == "finished" else "interrupted"
        with self._conn:
            self._conn.execute(
                "UPDATE runs SET finished_at = ?, state = ?, finish_reason = ?, stats = ? WHERE id = ?",
                (utcnow(), state, reason, json.dumps(stats, sort_keys=True, default=str), run_id),
            )
            # a crawl stopped by a limit: how many URLs of the site it found and never fetched
            self._conn.execute(
                """UPDATE runs SET not_crawled = (
                       SELECT count(*) FROM (
                           SELECT target_url AS url FROM links WHERE run_id = :run AND is_internal = 1
                           UNION SELECT url FROM sitemap_urls WHERE run_id = :run
                       ) f WHERE NOT EXISTS (SELECT 1 FROM urls u WHERE u.run_id = :run AND u.url = f.url))
                   WHERE id = :run AND stopped_by IS NOT NULL""",
                {"run": run_id},
            )

    # -- the index of links by target, deferred by big crawls -------------------------------

    def defer_link_index(self) -> bool:
        """Stop keeping the index of links by target while a big crawl writes; :meth:`ensure_link_index`
        builds it again, once, in key order.  True when it was there.

        Until then, views that ask "who links here" (``broken_links``, ``orphans``...) still answer, by
        scanning the run's links: slowly on a big crawl, and only while it runs."""
        with self._conn:
            there = self.has_link_index()
            self._conn.execute(f"DROP INDEX IF EXISTS {LINKS_BY_TARGET}")
        return there

    def ensure_link_index(self) -> float | None:
        """Build the index of links by target if a big crawl deferred it; the seconds it took, None when
        it was there.  SQLite sorts the links (in temporary files past a bounded buffer) and writes the
        index in order: a fraction of what keeping it row by row cost."""
        if self.has_link_index():
            return None
        started = time.monotonic()
        # SQLite's sorter takes as much memory as the page cache may hold: SQLite's default is enough
        # (measured on 2,000,000 links: 4.1 s and 18 MB, against 3.8 s and 47 MB with 16 MiB)
        self._conn.execute("PRAGMA cache_size = -2000")
        # and sorts on helper threads (measured on the links of a million-page crawl, read from the cache:
        # 29.8 s with two against 38.9 alone)
        self._conn.execute(f"PRAGMA threads = {min(os.cpu_count() or 1, 4)}")
        try:
            with self._conn:
                self._conn.execute(LINKS_BY_TARGET_SQL)
        finally:
            self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._conn.execute("PRAGMA threads = 0")
        # the index went through the write-ahead log: give its space back
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.monotonic() - started

    def has_link_index(self) -> bool:
        """Are links indexed by target (False: a big crawl deferred it, see :meth:`defer_link_index`)?"""
        return bool(self._value("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (LINKS_BY_TARGET,)))

    # -- batched writes -------------------------------------------------------

    def write_results(self, run_id: int, results: Iterable[UrlResult]) -> None:
        now = utcnow()
        url_rows: list[tuple] = []
        resource_rows: list[tuple] = []
        link_rows = []
        fragment_rows = []
        anchor_rows = []
        for r in results:
            (resource_rows if r.is_resource else url_rows).append(
                (
                    run_id,
                    r.url,
                    int(r.is_internal),
                    r.outcome,
                    r.http_status,
                    r.final_url,
                    r.found_via,
                    r.depth,
                    r.method,
                    r.content_type,
                    r.size,
                    r.elapsed_ms,
                    r.title,
                    r.h1,
                    r.canonical_url,
                    r.meta_robots,
                    r.x_robots_tag,
                    int(r.noindex),
                    int(r.nofollow),
                    json.dumps(r.chain) if r.chain else None,
                    r.hops,
                    r.is_loop,
                    r.temp_redirect,
                    r.to_home,
                    int(r.soft_404),
                    r.soft_404_reason,
                    r.similarity,
                    r.error,
                    now,
                    int(r.is_resource),
                    r.soft_404_explanation,
                )
            )
            for l in r.links:
                link_rows.append(
                    (
                        run_id,
                        r.url,
                        l.target_url,
                        l.anchor_text,
                        l.rel,
                        int(l.nofollow),
                        int(l.is_internal),
                        l.kind,
                    )
                )
                fragment_rows.extend((run_id, r.url, l.target_url, f) for f in l.fragments)
            if r.anchor_ids is not None:
                anchor_rows.append((run_id, r.url, json.dumps(sorted(r.anchor_ids))))
        # in key order: each B-tree page is visited once per batch, not once per row (links_target is
        # keyed by the target, so a page's links land all over it; measured: 4x fewer ms per page).
        # Without that index (deferred by a big crawl) the links' own key (source, target) is the one
        # to follow: measured at 200,000 pages, 0.31 ms of CPU a page written against 0.42 by target.
        url_rows.sort(key=itemgetter(1))
        link_rows.sort(key=itemgetter(2) if self.has_link_index() else itemgetter(1, 2))
        with self._conn:
            self._conn.executemany(_URL_SQL, url_rows)
            self._conn.executemany(_RESOURCE_SQL, resource_rows)
            self._conn.executemany(_LINK_SQL, link_rows)
            self._conn.executemany(_FRAGMENT_SQL, fragment_rows)
            self._conn.executemany(_ANCHORS_SQL, anchor_rows)

    def write_checks(self, run_id: int, checks: Iterable[BacklinkCheck]) -> None:
        now = utcnow()
        rows = [
            (
                c.backlink_id,
                run_id,
                c.status,
                c.reason,
                c.outcome,
                c.http_status,
                c.final_url,
                json.dumps(c.chain) if c.chain else None,
                len(c.chain),
                int(c.link_found),
                int(c.rendered),
                c.linked_url,
                c.anchor_text,
                c.rel,
                int(c.nofollow),
                int(c.noindex),
                c.canonical_url,
                int(c.target_changed),
                c.evidence,
                c.error,
                c.elapsed_ms,
                now,
                c.anchor_class,
                int(c.mentions_site),
                int(c.rechecked),
            )
            for c in checks
        ]
        with self._conn:
            self._conn.executemany(_CHECK_SQL, rows)

    def write_traps(self, run_id: int, traps: Iterable[TrapEntry]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO traps (run_id, pattern, reason, example) VALUES (?, ?, ?, ?)",
                ((run_id, t.pattern, t.reason, t.example) for t in traps),
            )

    def write_sitemap(self, run_id: int, entries: Iterable[SitemapEntry]) -> None:
        with self._conn:
            self._conn.executemany(_SITEMAP_SQL, ((run_id, e.url, e.sitemap) for e in entries))

    # -- backlink imports ---------------------------------------------------------

    def start_import(self, run_id: int | None, path: str, fmt: str, encoding: str | None) -> int:
        with self._conn:
            cursor = self._conn.execute(
                "INSERT INTO imports (run_id, path, format, encoding, imported_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, path, fmt, encoding, utcnow()),
            )
        return int(cursor.lastrowid)

    def import_backlinks(self, import_id: int, rows: Iterable[dict[str, Any]]) -> None:
        """Upsert one batch of backlinks (dicts with the ``backlinks`` columns and ``line``)."""
        now = utcnow()
        values = []
        links = []
        for row in rows:
            row = {**row, "first_imported_at": now, "last_imported_at": now, "last_import_id": import_id}
            if isinstance(row.get("extra"), dict):
                row["extra"] = json.dumps(row["extra"], sort_keys=True) if row["extra"] else None
            for name in ("anchors", "vendor_chain"):  # JSON lists; empty is unknown
                if isinstance(row.get(name), list):
                    row[name] = json.dumps(row[name], sort_keys=True) if row[name] else None
            values.append(tuple(row.get(c) for c in _BACKLINK_COLUMNS))
            links.append((import_id, row.get("line"), row["source_url"], row["target_url"]))
        with self._conn:
            self._conn.executemany(_BACKLINK_SQL, values)
            self._conn.executemany(_BACKLINK_IMPORT_SQL, links)

    def import_errors(self, import_id: int, errors: Iterable[tuple[int, str]]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO import_errors (import_id, line, reason) VALUES (?, ?, ?)",
                ((import_id, line, reason) for line, reason in errors),
            )

    def finish_import(self, import_id: int, rows: int, new: int, skipped: int) -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE imports SET rows = ?, new = ?, skipped = ? WHERE id = ?",
                (rows, new, skipped, import_id),
            )

    def attach_imports(self, run_id: int, import_ids: list[int]) -> None:
        """Imports happen before the run row exists (a bad file stops the spider first); tie them to it."""
        with self._conn:
            self._conn.executemany(
                "UPDATE imports SET run_id = ? WHERE id = ?", ((run_id, i) for i in import_ids)
            )

    def backlink_count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM backlinks").fetchone()[0]

    def queue_checks(
        self, run_id: int, import_ids: list[int] | None = None, site_key: str | None = None
    ) -> tuple[int, int]:
        """Fill the run's check queue: one entry per referring page, hosts taken in turn.

        Pages of one host are spread through the queue (round robin over hosts,
        in import order), so that a low per-host concurrency never starves the
        downloader while one big host is being worked through.  Returns the
        number of pages and of backlinks queued.
        """
        where, params = [], []
        if import_ids:
            where.append(
                f"id IN (SELECT backlink_id FROM backlink_imports WHERE import_id IN ({', '.join('?' * len(import_ids))}))"
            )
            params += import_ids
        if site_key:
            where.append("target_site = ?")
            params.append(site_key)
        sql = f"""
            INSERT OR IGNORE INTO check_queue (run_id, seq, source_url)
            SELECT ?, row_number() OVER (ORDER BY rn, first_id), source_url FROM (
                SELECT source_url, first_id,
                       row_number() OVER (PARTITION BY source_host ORDER BY first_id) AS rn
                FROM (SELECT source_url, source_host, min(id) AS first_id FROM backlinks
                      WHERE {" AND ".join(where) or "1"} GROUP BY source_url)
            )
        """
        with self._conn:
            self._conn.execute(sql, [run_id, *params])
        return self._conn.execute(
            "SELECT count(DISTINCT q.seq), count(b.id) FROM check_queue q "
            "JOIN backlinks b ON b.source_url = q.source_url WHERE q.run_id = ?",
            (run_id,),
        ).fetchone()

    def queued_pages(self, run_id: int, after: int, limit: int) -> list[tuple[int, str, list[tuple]]]:
        """The next ``limit`` referring pages of the queue after ``after``: (seq, source_url, backlinks).

        Each backlink is ``(id, target_url, any_target, standing, vendor_chain)``; ``standing`` is
        what the history knows (1 link there, 0 lost, None never seen); ``vendor_chain`` is the
        export's redirect chain (JSON, or None), for ``matching.chain_alternatives``.  Backlinks
        this run already checked (before a crash) are left out; a page may come back with none left.
        """
        rows = self._conn.execute(
            """
            SELECT q.seq, q.source_url, b.id, b.target_url, b.any_target, s.standing, b.vendor_chain,
                   EXISTS (SELECT 1 FROM backlink_checks k WHERE k.backlink_id = b.id AND k.run_id = q.run_id)
            FROM (SELECT run_id, seq, source_url FROM check_queue WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?) q
            JOIN backlinks b ON b.source_url = q.source_url
            LEFT JOIN backlink_state s ON s.backlink_id = b.id
            ORDER BY q.seq, b.id
            """,
            (run_id, after, limit),
        ).fetchall()
        pages: list[tuple[int, str, list[tuple]]] = []
        for seq, source, backlink_id, target, any_target, standing, chain, done in rows:
            if not pages or pages[-1][0] != seq:
                pages.append((seq, source, []))
            if not done:  # a resumed run: checked before the crash, not again
                pages[-1][2].append((backlink_id, target, any_target, standing, chain))
        return pages

    # -- history (the rules are linkrot.history's; these only persist its ledger) ------------------

    def save_history(self, run_id: int, ledger: Ledger) -> None:
        """Write what one run's checks changed, in one transaction: states, new events, confirmed and
        cancelled pending losses."""
        now = utcnow()
        states = [
            (
                backlink_id,
                _int(s.standing),
                s.status,
                _int(s.nofollow),
                s.anchor_text,
                s.linked_url,
                s.pending_since,
                s.pending_checks,
                s.noise,
                run_id,
                now,
            )
            for backlink_id, s in ledger.states
        ]
        events = [
            (
                backlink_id,
                run_id,
                e.change,
                e.previous_status,
                e.status,
                e.detected_at,
                int(e.confirmed),
                checked_at if e.confirmed else None,
                run_id if e.confirmed else None,
            )
            for backlink_id, e, checked_at in ledger.events
        ]
        with self._conn:
            self._conn.executemany(
                "UPDATE backlink_events SET confirmed = 1, confirmed_at = ?, confirmed_run_id = ? "
                f"WHERE {_PENDING_LOSS}",
                ((checked_at, run_id, backlink_id) for backlink_id, checked_at in ledger.confirmed),
            )
            self._conn.executemany(
                f"UPDATE backlink_events SET cancelled = 1 WHERE {_PENDING_LOSS}",
                ((backlink_id,) for backlink_id in ledger.cancelled),
            )
            self._conn.executemany(
                "INSERT INTO backlink_events (backlink_id, run_id, change, previous_status, status, detected_at, "
                "confirmed, confirmed_at, confirmed_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                events,
            )
            self._conn.executemany(
                "INSERT OR REPLACE INTO backlink_state (backlink_id, standing, status, nofollow, anchor_text, "
                "linked_url, pending_since, pending_checks, noise, run_id, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                states,
            )

    # -- after a run: suggestions, snapshots, alerts; the user's marks -------------------------------

    def save_suggestions(self, suggestions: Iterable[Any]) -> None:
        now = utcnow()
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO redirect_suggestions "
                "(url, suggested_target, confidence, reason, is_home, origin, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (s.url, s.suggested_target, s.confidence, s.reason, int(s.is_home), s.origin, now)
                    for s in suggestions
                ),
            )

    def save_wayback(self, snapshots: Iterable[Any]) -> None:
        now = utcnow()
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO wayback (url, archived, snapshot_url, snapshot_at, checked_at) "
                "VALUES (?, ?, ?, ?, ?)",
                ((s.url, int(s.archived), s.snapshot_url, s.snapshot_at, now) for s in snapshots),
            )

    def record_alerts(self, run_id: int, results: Iterable[Any], count: int) -> None:
        now = utcnow()
        with self._conn:
            self._conn.executemany(
                "INSERT INTO alerts (run_id, channel, alerts, ok, detail, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                ((run_id, r.channel, count, int(r.ok), r.detail, now) for r in results),
            )

    def mark_domain(self, domain: str, mark: str, comment: str | None) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO domain_marks (domain, mark, comment, marked_at) VALUES (?, ?, ?, ?)",
                (domain, mark, comment, utcnow()),
            )

    def unmark_domain(self, domain: str) -> bool:
        """Forget a domain's mark; False when it had none."""
        with self._conn:
            return self._conn.execute("DELETE FROM domain_marks WHERE domain = ?", (domain,)).rowcount > 0
