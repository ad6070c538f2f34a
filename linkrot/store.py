"""The SQLite store: the only module that knows table names, keys and views.

Tables hold every run (history); the public views show the latest run of the
site spider per site.  Writes are batched upserts keyed by (run, url), so a
re-run or a resumed run never duplicates rows.  Schema changes are numbered
migrations tracked in ``PRAGMA user_version``; views are recreated on open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from .items import SitemapEntry, UrlResult
from .status import Status

DEFAULT_DB = "data/linkrot.db"

_MIGRATIONS: list[str] = [
    # 1: the site crawl
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        spider TEXT NOT NULL,
        site TEXT,
        args TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        state TEXT NOT NULL DEFAULT 'running',
        finish_reason TEXT,
        stats TEXT
    );
    CREATE TABLE urls (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        url TEXT NOT NULL,
        is_internal INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        final_url TEXT,
        found_via TEXT,
        depth INTEGER,
        method TEXT,
        content_type TEXT,
        size INTEGER,
        elapsed_ms INTEGER,
        title TEXT,
        canonical_url TEXT,
        meta_robots TEXT,
        x_robots_tag TEXT,
        noindex INTEGER NOT NULL DEFAULT 0,
        nofollow INTEGER NOT NULL DEFAULT 0,
        chain TEXT,
        hops INTEGER NOT NULL DEFAULT 0,
        is_loop INTEGER NOT NULL DEFAULT 0,
        temp_redirect INTEGER NOT NULL DEFAULT 0,
        to_home INTEGER NOT NULL DEFAULT 0,
        soft_404 INTEGER NOT NULL DEFAULT 0,
        soft_404_reason TEXT,
        similarity REAL,
        error TEXT,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (run_id, url)
    ) WITHOUT ROWID;
    CREATE TABLE links (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        source_url TEXT NOT NULL,
        target_url TEXT NOT NULL,
        anchor_text TEXT,
        rel TEXT,
        nofollow INTEGER NOT NULL DEFAULT 0,
        is_internal INTEGER NOT NULL,
        PRIMARY KEY (run_id, source_url, target_url)
    ) WITHOUT ROWID;
    CREATE INDEX links_target ON links (run_id, target_url);
    CREATE TABLE sitemap_urls (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        url TEXT NOT NULL,
        sitemap TEXT,
        PRIMARY KEY (run_id, url)
    ) WITHOUT ROWID;
    """,
]

_ERROR_OUTCOMES = ", ".join(f"'{s.value}'" for s in Status if s.is_error)

_VIEWS: dict[str, str] = {
    "latest_site_runs": """
        SELECT max(id) AS run_id, site FROM runs WHERE spider = 'site' GROUP BY site
    """,
    "pages": """
        SELECT u.url, coalesce(u.http_status, u.outcome) AS status, u.final_url, u.content_type,
               u.title, u.canonical_url, u.noindex, u.depth, u.outcome, u.http_status, u.nofollow,
               u.meta_robots, u.x_robots_tag, u.size, u.elapsed_ms, u.hops, u.soft_404,
               u.chain, u.found_via, u.error, u.fetched_at, u.run_id
        FROM urls u JOIN latest_site_runs r ON u.run_id = r.run_id
        WHERE u.is_internal = 1
    """,
    "broken_links": f"""
        SELECT l.source_url, l.target_url AS url, coalesce(u.http_status, u.outcome) AS status,
               l.anchor_text, l.rel, l.is_internal, u.outcome, u.final_url, u.hops, u.error, l.run_id
        FROM links l
        JOIN latest_site_runs r ON l.run_id = r.run_id
        JOIN urls u ON u.run_id = l.run_id AND u.url = l.target_url
        WHERE u.outcome IN ({_ERROR_OUTCOMES})
    """,
    "redirect_chains": """
        SELECT u.url, u.hops, u.final_url, coalesce(u.http_status, u.outcome) AS final_status,
               u.is_loop, u.chain, u.temp_redirect, u.to_home, u.is_internal, u.outcome,
               (SELECT count(*) FROM links l WHERE l.run_id = u.run_id AND l.target_url = u.url)
                   AS linked_from,
               u.run_id
        FROM urls u JOIN latest_site_runs r ON u.run_id = r.run_id
        WHERE u.hops > 0
    """,
    "soft_404s": """
        SELECT u.url, u.title, u.soft_404_reason AS reason, u.similarity, u.depth, u.run_id
        FROM urls u JOIN latest_site_runs r ON u.run_id = r.run_id
        WHERE u.soft_404 = 1
    """,
    "orphans": """
        SELECT s.url, s.sitemap, coalesce(u.http_status, u.outcome) AS status, u.title, s.run_id
        FROM sitemap_urls s
        JOIN latest_site_runs r ON s.run_id = r.run_id
        LEFT JOIN urls u ON u.run_id = s.run_id AND u.url = s.url
        WHERE NOT EXISTS (
            SELECT 1 FROM links l
            WHERE l.run_id = s.run_id AND l.target_url = s.url AND l.source_url != s.url
        )
        AND coalesce(u.found_via, 'sitemap') != 'start'
    """,
}


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_URL_COLUMNS = (
    "run_id url is_internal outcome http_status final_url found_via depth method content_type "
    "size elapsed_ms title canonical_url meta_robots x_robots_tag noindex nofollow chain hops "
    "is_loop temp_redirect to_home soft_404 soft_404_reason similarity error fetched_at"
).split()
_URL_SQL = (
    f"INSERT OR REPLACE INTO urls ({', '.join(_URL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_URL_COLUMNS))})"
)
_LINK_SQL = (
    "INSERT OR IGNORE INTO links (run_id, source_url, target_url, anchor_text, rel, nofollow, is_internal) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SITEMAP_SQL = "INSERT OR IGNORE INTO sitemap_urls (run_id, url, sitemap) VALUES (?, ?, ?)"


class Store:
    """A linkrot database: open (creating and migrating it), then write in batches."""

    def __init__(self, path: str | Path = DEFAULT_DB) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(str(path))
        self.conn: sqlite3.Connection = self.db.conn
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.migrate()

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            self.conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        for name in reversed(list(_VIEWS)):
            self.conn.execute(f"DROP VIEW IF EXISTS [{name}]")
        for name, sql in _VIEWS.items():
            self.conn.execute(f"CREATE VIEW [{name}] AS {sql}")
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    # -- runs ---------------------------------------------------------------

    def start_run(self, spider: str, site: str | None, args: dict[str, Any]) -> int:
        with self.conn:
            cursor = self.conn.execute(
                "INSERT INTO runs (spider, site, args, started_at) VALUES (?, ?, ?, ?)",
                (spider, site, json.dumps(args, sort_keys=True, default=str), utcnow()),
            )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, reason: str, stats: dict[str, Any]) -> None:
        state = "finished" if reason == "finished" else "interrupted"
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, state = ?, finish_reason = ?, stats = ? WHERE id = ?",
                (utcnow(), state, reason, json.dumps(stats, sort_keys=True, default=str), run_id),
            )

    # -- batched writes -------------------------------------------------------

    def write_results(self, run_id: int, results: Iterable[UrlResult]) -> None:
        now = utcnow()
        url_rows = []
        link_rows = []
        for r in results:
            url_rows.append(
                (
                    run_id, r.url, int(r.is_internal), r.outcome, r.http_status, r.final_url,
                    r.found_via, r.depth, r.method, r.content_type, r.size, r.elapsed_ms, r.title,
                    r.canonical_url, r.meta_robots, r.x_robots_tag, int(r.noindex), int(r.nofollow),
                    json.dumps(r.chain) if r.chain else None, r.hops, r.is_loop, r.temp_redirect,
                    r.to_home, int(r.soft_404), r.soft_404_reason, r.similarity, r.error, now,
                )
            )
            link_rows.extend(
                (run_id, r.url, l.target_url, l.anchor_text, l.rel, int(l.nofollow), int(l.is_internal))
                for l in r.links
            )
        with self.conn:
            self.conn.executemany(_URL_SQL, url_rows)
            self.conn.executemany(_LINK_SQL, link_rows)

    def write_sitemap(self, run_id: int, entries: Iterable[SitemapEntry]) -> None:
        with self.conn:
            self.conn.executemany(_SITEMAP_SQL, ((run_id, e.url, e.sitemap) for e in entries))

    # -- reading ------------------------------------------------------------------

    def count(self, view: str, run_id: int | None = None) -> int:
        if view not in _VIEWS:
            raise KeyError(view)
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        return self.conn.execute(f"SELECT count(*) FROM [{view}] {where}", params).fetchone()[0]

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, tuple(params)))
