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

from .anchors import HEALTHY_RANGES
from .history import Check, Policy, State, transition
from .items import BacklinkCheck, SitemapEntry, TrapEntry, UrlResult
from .status import Status
from .urls import host_of

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
    # 2: backlink verification
    """
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        path TEXT NOT NULL,
        format TEXT NOT NULL,
        encoding TEXT,
        rows INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE import_errors (
        import_id INTEGER NOT NULL REFERENCES imports(id),
        line INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (import_id, line)
    ) WITHOUT ROWID;
    CREATE TABLE backlinks (
        id INTEGER PRIMARY KEY,
        source_url TEXT NOT NULL,
        target_url TEXT NOT NULL,
        any_target INTEGER NOT NULL DEFAULT 0,
        target_site TEXT NOT NULL,
        source_host TEXT NOT NULL,
        source_domain TEXT NOT NULL,
        anchor TEXT,
        source_title TEXT,
        authority REAL,
        authority_metric TEXT,
        first_seen TEXT,
        last_seen TEXT,
        nofollow INTEGER,
        ugc INTEGER,
        sponsored INTEGER,
        lost_status TEXT,
        extra TEXT,
        source_format TEXT,
        first_imported_at TEXT NOT NULL,
        last_imported_at TEXT NOT NULL,
        UNIQUE (source_url, target_url)
    );
    CREATE TABLE backlink_imports (
        import_id INTEGER NOT NULL REFERENCES imports(id),
        backlink_id INTEGER NOT NULL REFERENCES backlinks(id),
        line INTEGER,
        PRIMARY KEY (import_id, backlink_id)
    ) WITHOUT ROWID;
    CREATE TABLE backlink_checks (
        backlink_id INTEGER NOT NULL REFERENCES backlinks(id),
        run_id INTEGER NOT NULL REFERENCES runs(id),
        status TEXT NOT NULL,
        reason TEXT,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        final_url TEXT,
        chain TEXT,
        hops INTEGER NOT NULL DEFAULT 0,
        link_found INTEGER NOT NULL,
        rendered INTEGER NOT NULL DEFAULT 0,
        linked_url TEXT,
        anchor_text TEXT,
        rel TEXT,
        nofollow INTEGER NOT NULL DEFAULT 0,
        noindex INTEGER NOT NULL DEFAULT 0,
        canonical_url TEXT,
        target_changed INTEGER NOT NULL DEFAULT 0,
        evidence TEXT,
        error TEXT,
        elapsed_ms INTEGER,
        checked_at TEXT NOT NULL,
        PRIMARY KEY (backlink_id, run_id)
    ) WITHOUT ROWID;
    CREATE INDEX backlink_checks_run ON backlink_checks (run_id);
    CREATE INDEX backlinks_target_site ON backlinks (target_site);
    CREATE TABLE check_queue (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        source_url TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    """,
    # 3: repair and report
    """
    ALTER TABLE urls ADD COLUMN h1 TEXT;
    CREATE TABLE redirect_suggestions (
        url TEXT PRIMARY KEY,
        suggested_target TEXT,
        confidence REAL NOT NULL DEFAULT 0,
        reason TEXT,
        is_home INTEGER NOT NULL DEFAULT 0,
        origin TEXT NOT NULL DEFAULT 'auto',
        site_run_id INTEGER,
        computed_at TEXT NOT NULL
    );
    CREATE TABLE domain_marks (
        domain TEXT PRIMARY KEY,
        mark TEXT NOT NULL,
        comment TEXT,
        marked_at TEXT NOT NULL
    );
    """,
    # 4: monitoring over time
    """
    ALTER TABLE backlink_checks ADD COLUMN anchor_class TEXT;
    ALTER TABLE backlink_checks ADD COLUMN mentions_site INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE backlink_checks ADD COLUMN rechecked INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE backlink_state (
        backlink_id INTEGER PRIMARY KEY REFERENCES backlinks(id),
        standing INTEGER,
        status TEXT,
        nofollow INTEGER,
        anchor_text TEXT,
        linked_url TEXT,
        pending_since TEXT,
        pending_checks INTEGER NOT NULL DEFAULT 0,
        noise INTEGER NOT NULL DEFAULT 0,
        run_id INTEGER,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE backlink_events (
        id INTEGER PRIMARY KEY,
        backlink_id INTEGER NOT NULL REFERENCES backlinks(id),
        run_id INTEGER NOT NULL REFERENCES runs(id),
        change TEXT NOT NULL,
        previous_status TEXT,
        status TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        confirmed INTEGER NOT NULL DEFAULT 1,
        confirmed_at TEXT,
        confirmed_run_id INTEGER,
        cancelled INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX backlink_events_backlink ON backlink_events (backlink_id, change);
    CREATE INDEX backlink_events_confirmed ON backlink_events (confirmed_run_id);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        channel TEXT NOT NULL,
        alerts INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT,
        sent_at TEXT NOT NULL
    );
    CREATE TABLE wayback (
        url TEXT PRIMARY KEY,
        archived INTEGER NOT NULL,
        snapshot_url TEXT,
        snapshot_at TEXT,
        checked_at TEXT NOT NULL
    );
    """,
    # 5: hardening
    """
    CREATE TABLE traps (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        pattern TEXT NOT NULL,
        reason TEXT NOT NULL,
        example TEXT,
        PRIMARY KEY (run_id, pattern)
    ) WITHOUT ROWID;
    """,
    # 6: vendor exports as downloaded: every anchor listed, the vendor's redirect chain, toxic score
    """
    ALTER TABLE backlinks ADD COLUMN anchors TEXT;
    ALTER TABLE backlinks ADD COLUMN vendor_chain TEXT;
    ALTER TABLE backlinks ADD COLUMN toxic_score REAL;
    ALTER TABLE backlinks ADD COLUMN last_import_id INTEGER;
    """,
]

_ERROR_OUTCOMES = ", ".join(f"'{s.value}'" for s in Status if s.is_error)
# a target of ours is broken when it answers 4xx (at the end of its chain, 429 aside) or never ends
_BROKEN_TARGET = "('not_found', 'client_error', 'redirect_loop', 'too_many_redirects')"
_ANCHOR_RANGES = ", ".join(f"('{k}', {lo}, {hi})" for k, (lo, hi) in HEALTHY_RANGES.items())
_SPIKE_MIN = 3  # confirmed or pending losses from one referring domain on one day that make a spike
# one bucket per check (README "Triage"); order matters: the first that applies wins
_TRIAGE = f"""CASE
            WHEN c.status IS NULL THEN NULL
            WHEN c.status IN ('blocked', 'server_error') THEN 'noise'
            WHEN c.status IN ('domain_gone', 'not_found') THEN 'rebuild'
            WHEN t.outcome IN {_BROKEN_TARGET} OR t.hops > 0 THEN 'plumbing'
            WHEN c.status IN ('redirected', 'not_canonical', 'noindex') THEN 'noise'
            WHEN c.status IN ('link_removed', 'nofollow') THEN 'reclaim'
            ELSE 'ok'
        END"""

_VIEWS: dict[str, str] = {
    "latest_site_runs": """
        SELECT max(id) AS run_id, site FROM runs WHERE spider = 'site' GROUP BY site
    """,
    "pages": """
        SELECT u.url, coalesce(u.http_status, u.outcome) AS status, u.final_url, u.content_type,
               u.title, u.canonical_url, u.noindex, u.depth, u.outcome, u.http_status, u.nofollow, u.h1,
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
    "backlink_status": f"""
        SELECT b.source_url, b.target_url, c.status, c.http_status, c.link_found, c.rendered, c.linked_url,
               c.anchor_text, c.rel, c.noindex, c.canonical_url, c.target_changed,
               coalesce(t.http_status, t.outcome) AS target_status, t.final_url AS target_final_url,
               t.hops AS target_hops, b.vendor_chain AS export_chain,
               (SELECT max(json_extract(value, '$.hop')) + 1 FROM json_each(b.vendor_chain)) AS export_hops,
               t.is_loop AS target_loop, t.outcome AS target_outcome,
               c.checked_at, c.reason, c.nofollow, c.anchor_class, c.mentions_site, c.rechecked, c.outcome, c.final_url, c.hops, c.chain, c.evidence, c.error,
               b.any_target, b.target_site, b.source_host, b.source_domain, b.anchor AS export_anchor, b.source_title,
               b.anchors AS export_anchors, b.authority, b.authority_metric, b.first_seen, b.last_seen,
               b.lost_status AS export_lost_status, b.toxic_score, b.source_format, b.id AS backlink_id, c.run_id,
               {_TRIAGE} AS triage
        FROM backlinks b
        LEFT JOIN backlink_checks c ON c.backlink_id = b.id
            AND c.run_id = (SELECT max(run_id) FROM backlink_checks WHERE backlink_id = b.id)
        LEFT JOIN urls t ON t.run_id = c.run_id AND t.url = b.target_url
    """,
    "triage": """
        SELECT triage, status, source_url, target_url, reason, target_status, target_final_url, target_hops,
               authority, source_domain, anchor_text, rel, link_found, checked_at, run_id
        FROM backlink_status WHERE triage IS NOT NULL AND triage != 'ok'
    """,
    "broken_backlinks": f"""
        SELECT s.target_url AS url, s.target_status AS status, count(DISTINCT s.source_domain) AS referring_domains,
               count(*) AS backlinks, max(s.authority) AS best_authority,
               sum(s.status = 'live') AS followed_backlinks,
               g.suggested_target, coalesce(g.confidence, 0) AS confidence, g.reason AS suggestion_reason,
               coalesce(g.is_home, 0) AS suggestion_is_home, g.origin AS suggestion_origin,
               s.target_final_url AS final_url, s.target_hops AS hops, s.target_outcome AS outcome,
               max(s.checked_at) AS checked_at, w.snapshot_url AS archived_snapshot, w.snapshot_at AS archived_at
        FROM backlink_status s
        LEFT JOIN redirect_suggestions g ON g.url = s.target_url
        LEFT JOIN wayback w ON w.url = s.target_url
        WHERE s.link_found = 1 AND s.target_outcome IN {_BROKEN_TARGET}
        GROUP BY s.target_url
        ORDER BY referring_domains DESC, best_authority DESC NULLS LAST, backlinks DESC, url
    """,
    "backlink_changes": """
        SELECT b.source_url, b.target_url, e.change, e.previous_status, e.status, e.detected_at, e.confirmed,
               e.confirmed_at, c.reason, c.evidence, c.anchor_text, c.rel, c.mentions_site, b.authority,
               b.authority_metric, b.source_domain, e.backlink_id, e.run_id, e.confirmed_run_id, e.id AS event_id,
               w.snapshot_url AS archived_snapshot, w.snapshot_at AS archived_at
        FROM backlink_events e
        JOIN backlinks b ON b.id = e.backlink_id
        LEFT JOIN wayback w ON w.url = b.source_url
        LEFT JOIN backlink_checks c ON c.backlink_id = e.backlink_id AND c.run_id = e.run_id
        WHERE e.cancelled = 0
    """,
    "kpi_runs": """
        SELECT r.id AS run_id, r.started_at, substr(r.started_at, 1, 7) AS month,
               count(c.backlink_id) AS checked,
               sum(c.link_found) AS links_live,
               count(DISTINCT CASE WHEN c.link_found = 1 THEN b.source_domain END) AS referring_domains,
               sum(c.status = 'live') AS followed,
               sum(c.link_found = 1 AND c.nofollow = 1) AS nofollowed,
               round(1.0 * sum(c.status = 'live') / nullif(sum(c.link_found), 0), 3) AS follow_ratio,
               sum(c.status IN ('blocked', 'server_error')) AS noise,
               (SELECT count(*) FROM backlink_events e WHERE e.run_id = r.id AND e.change = 'new') AS new_links,
               (SELECT count(*) FROM backlink_events e
                WHERE e.confirmed_run_id = r.id AND e.change = 'lost' AND e.cancelled = 0) AS confirmed_losses,
               (SELECT round(avg(best), 1) FROM (
                   SELECT max(b2.authority) AS best FROM backlink_checks c2 JOIN backlinks b2 ON b2.id = c2.backlink_id
                   WHERE c2.run_id = r.id AND c2.link_found = 1 AND b2.authority IS NOT NULL GROUP BY b2.source_domain
               )) AS avg_domain_authority
        FROM runs r
        JOIN backlink_checks c ON c.run_id = r.id
        JOIN backlinks b ON b.id = c.backlink_id
        WHERE r.spider = 'backlinks'
        GROUP BY r.id
    """,
    "kpi_monthly": """
        WITH months AS (
            SELECT month, min(run_id) AS first_run, max(run_id) AS last_run FROM kpi_runs GROUP BY month
        ), figures AS (
            SELECT m.month,
                   (SELECT links_live FROM kpi_runs WHERE run_id = m.first_run) AS links_live_at_start,
                   (SELECT referring_domains FROM kpi_runs WHERE run_id = m.last_run) AS referring_domains,
                   (SELECT follow_ratio FROM kpi_runs WHERE run_id = m.last_run) AS follow_ratio,
                   (SELECT avg_domain_authority FROM kpi_runs WHERE run_id = m.last_run) AS avg_domain_authority,
                   (SELECT count(*) FROM backlink_events e WHERE e.change = 'lost' AND e.confirmed = 1
                       AND e.cancelled = 0 AND substr(e.confirmed_at, 1, 7) = m.month) AS confirmed_losses,
                   (SELECT count(*) FROM backlink_events e WHERE e.change = 'new'
                       AND substr(e.detected_at, 1, 7) = m.month) AS new_links
            FROM months m
        )
        SELECT month, referring_domains,
               referring_domains - lag(referring_domains) OVER (ORDER BY month) AS referring_domains_growth,
               round(100.0 * (referring_domains - lag(referring_domains) OVER (ORDER BY month))
                     / nullif(lag(referring_domains) OVER (ORDER BY month), 0), 1) AS referring_domains_growth_pct,
               links_live_at_start, new_links, confirmed_losses,
               round(100.0 * confirmed_losses / nullif(links_live_at_start, 0), 2) AS loss_rate_pct,
               CASE WHEN links_live_at_start IS NULL OR links_live_at_start = 0 THEN NULL
                    WHEN 100.0 * confirmed_losses / links_live_at_start < 3 THEN 'healthy (under 3-4% a month)'
                    WHEN 100.0 * confirmed_losses / links_live_at_start <= 5 THEN 'watch (3-5%)'
                    ELSE 'reclamation problem (over 5%)' END AS loss_rate_band,
               follow_ratio, avg_domain_authority
        FROM figures ORDER BY month
    """,
    "anchor_mix": f"""
        WITH ranges(anchor_class, healthy_low_pct, healthy_high_pct) AS (VALUES {_ANCHOR_RANGES}),
        mix AS (
            SELECT coalesce(anchor_class, 'other') AS anchor_class, count(*) AS links
            FROM backlink_status WHERE link_found = 1 GROUP BY 1
        )
        SELECT m.anchor_class, m.links, round(100.0 * m.links / (SELECT sum(links) FROM mix), 1) AS share_pct,
               r.healthy_low_pct, r.healthy_high_pct,
               CASE WHEN r.anchor_class IS NULL THEN NULL
                    WHEN 100.0 * m.links / (SELECT sum(links) FROM mix) > r.healthy_high_pct THEN 'above'
                    WHEN 100.0 * m.links / (SELECT sum(links) FROM mix) < r.healthy_low_pct THEN 'below'
                    ELSE 'in range' END AS versus_healthy
        FROM mix m LEFT JOIN ranges r ON r.anchor_class = m.anchor_class
        ORDER BY m.links DESC
    """,
    "loss_spikes": f"""
        SELECT b.source_domain, substr(e.detected_at, 1, 10) AS day, count(*) AS losses,
               group_concat(DISTINCT e.status) AS statuses,
               'many links lost at once: a site-wide change on their side (redesign, policy), not separate losses'
                   AS diagnosis
        FROM backlink_events e JOIN backlinks b ON b.id = e.backlink_id
        WHERE e.change = 'lost' AND e.cancelled = 0
        GROUP BY b.source_domain, day HAVING count(*) >= {_SPIKE_MIN}
        ORDER BY losses DESC
    """,
    "crawl_traps": """
        SELECT t.pattern, t.reason, t.example, t.run_id
        FROM traps t JOIN latest_site_runs r ON t.run_id = r.run_id
    """,
    "live_pages": """
        SELECT p.url, p.title, p.h1, p.depth, p.run_id, r.site
        FROM pages p JOIN latest_site_runs r ON p.run_id = r.run_id
        WHERE p.http_status = 200 AND p.noindex = 0 AND p.hops = 0 AND p.soft_404 = 0
          AND (p.content_type IS NULL OR p.content_type LIKE 'text/html%' OR p.content_type LIKE 'application/xhtml%')
          AND (p.canonical_url IS NULL OR p.canonical_url = p.url)
    """,
}


def _int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_URL_COLUMNS = (
    "run_id url is_internal outcome http_status final_url found_via depth method content_type "
    "size elapsed_ms title h1 canonical_url meta_robots x_robots_tag noindex nofollow chain hops "
    "is_loop temp_redirect to_home soft_404 soft_404_reason similarity error fetched_at"
).split()
_URL_SQL = (
    f"INSERT OR REPLACE INTO urls ({', '.join(_URL_COLUMNS)}) VALUES ({', '.join('?' * len(_URL_COLUMNS))})"
)
_LINK_SQL = (
    "INSERT OR IGNORE INTO links (run_id, source_url, target_url, anchor_text, rel, nofollow, is_internal) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SITEMAP_SQL = "INSERT OR IGNORE INTO sitemap_urls (run_id, url, sitemap) VALUES (?, ?, ?)"
_BACKLINK_COLUMNS = (
    "source_url target_url any_target target_site source_host source_domain anchor source_title authority "
    "authority_metric first_seen last_seen nofollow ugc sponsored lost_status extra source_format "
    "first_imported_at last_imported_at anchors vendor_chain toxic_score last_import_id"
).split()
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
_CHECK_COLUMNS = (
    "backlink_id run_id status reason outcome http_status final_url chain hops link_found rendered linked_url "
    "anchor_text rel nofollow noindex canonical_url target_changed evidence error elapsed_ms checked_at "
    "anchor_class mentions_site rechecked"
).split()
_CHECK_SQL = (
    f"INSERT OR REPLACE INTO backlink_checks ({', '.join(_CHECK_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CHECK_COLUMNS))})"
)


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

    def resumable_run(self, spider: str, site: str | None, args: dict[str, Any]) -> int | None:
        """The run to resume: the latest of this spider and site, if it never finished, with the same arguments.

        A run killed (SIGKILL, power loss) stays ``running``; one stopped with Ctrl-C is ``interrupted``.
        Its rows are its checkpoint: what is in the database is done, everything else is redone.
        """
        row = self.conn.execute(
            "SELECT id, state, args FROM runs WHERE spider = ? AND site IS ? ORDER BY id DESC LIMIT 1",
            (spider, site),
        ).fetchone()
        if row is None or row[1] == "finished":
            return None
        if json.loads(row[2] or "{}") != json.loads(json.dumps(args, sort_keys=True, default=str)):
            return None
        return int(row[0])

    def resume_run(self, run_id: int) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET state = 'running', finished_at = NULL, finish_reason = NULL WHERE id = ?",
                (run_id,),
            )

    def done_urls(self, run_id: int) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT url FROM urls WHERE run_id = ?", (run_id,))}

    def pending_links(self, run_id: int) -> list[tuple[str, int | None, int]]:
        """Link targets found by a run and not fetched yet: (url, depth of the page it was found on, is_internal)."""
        return self.conn.execute(
            """
            SELECT l.target_url, min(u.depth), max(l.is_internal) FROM links l
            JOIN urls u ON u.run_id = l.run_id AND u.url = l.source_url
            WHERE l.run_id = ? AND NOT EXISTS (SELECT 1 FROM urls d WHERE d.run_id = l.run_id AND d.url = l.target_url)
            GROUP BY l.target_url ORDER BY min(u.depth), l.target_url
            """,
            (run_id,),
        ).fetchall()

    def sitemap_entries(self, run_id: int) -> dict[str, str]:
        return dict(
            self.conn.execute("SELECT url, sitemap FROM sitemap_urls WHERE run_id = ?", (run_id,)).fetchall()
        )

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
                )
            )
            link_rows.extend(
                (run_id, r.url, l.target_url, l.anchor_text, l.rel, int(l.nofollow), int(l.is_internal))
                for l in r.links
            )
        with self.conn:
            self.conn.executemany(_URL_SQL, url_rows)
            self.conn.executemany(_LINK_SQL, link_rows)

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
        with self.conn:
            self.conn.executemany(_CHECK_SQL, rows)

    def write_traps(self, run_id: int, traps: Iterable[TrapEntry]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO traps (run_id, pattern, reason, example) VALUES (?, ?, ?, ?)",
                ((run_id, t.pattern, t.reason, t.example) for t in traps),
            )

    def write_sitemap(self, run_id: int, entries: Iterable[SitemapEntry]) -> None:
        with self.conn:
            self.conn.executemany(_SITEMAP_SQL, ((run_id, e.url, e.sitemap) for e in entries))

    # -- backlink imports ---------------------------------------------------------

    def start_import(self, run_id: int | None, path: str, fmt: str, encoding: str | None) -> int:
        with self.conn:
            cursor = self.conn.execute(
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
        with self.conn:
            self.conn.executemany(_BACKLINK_SQL, values)
            self.conn.executemany(_BACKLINK_IMPORT_SQL, links)

    def import_errors(self, import_id: int, errors: Iterable[tuple[int, str]]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO import_errors (import_id, line, reason) VALUES (?, ?, ?)",
                ((import_id, line, reason) for line, reason in errors),
            )

    def finish_import(self, import_id: int, rows: int, new: int, skipped: int) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE imports SET rows = ?, new = ?, skipped = ? WHERE id = ?",
                (rows, new, skipped, import_id),
            )

    def attach_imports(self, run_id: int, import_ids: list[int]) -> None:
        """Imports happen before the run row exists (a bad file stops the spider first); tie them to it."""
        with self.conn:
            self.conn.executemany(
                "UPDATE imports SET run_id = ? WHERE id = ?", ((run_id, i) for i in import_ids)
            )

    def backlink_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM backlinks").fetchone()[0]

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
        with self.conn:
            self.conn.execute(sql, [run_id, *params])
        return self.conn.execute(
            "SELECT count(DISTINCT q.seq), count(b.id) FROM check_queue q "
            "JOIN backlinks b ON b.source_url = q.source_url WHERE q.run_id = ?",
            (run_id,),
        ).fetchone()

    def queued_pages(
        self, run_id: int, after: int, limit: int, *, with_chain: bool = False
    ) -> list[tuple[int, str, list[tuple]]]:
        """The next ``limit`` referring pages of the queue after ``after``: (seq, source_url, backlinks).

        Each backlink is ``(id, target_url, any_target, standing)``; ``standing`` is what the
        history knows (1 link there, 0 lost, None never seen).  With ``with_chain`` a fifth
        field follows: the vendor's redirect chain (``backlinks.vendor_chain`` JSON, or None),
        for ``matching.chain_alternatives``.  Backlinks this run already checked (before a
        crash) are left out; a page may come back with none left.
        """
        rows = self.conn.execute(
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
        pages: list[tuple[int, str, list[tuple[int, str, int]]]] = []
        for seq, source, backlink_id, target, any_target, standing, chain, done in rows:
            if not pages or pages[-1][0] != seq:
                pages.append((seq, source, []))
            if not done:  # a resumed run: checked before the crash, not again
                backlink = (backlink_id, target, any_target, standing)
                pages[-1][2].append((*backlink, chain) if with_chain else backlink)
        return pages

    # -- history --------------------------------------------------------------------

    def apply_history(self, run_id: int, policy: Policy) -> dict[str, int]:
        """Turn this run's checks into changes (``backlink_changes``) and new states; returns counts."""
        rows = self.conn.execute(
            """
            SELECT c.backlink_id, c.status, c.link_found, c.nofollow, c.anchor_text, c.linked_url, c.checked_at,
                   c.rechecked, s.standing, s.status, s.nofollow, s.anchor_text, s.linked_url, s.pending_since,
                   s.pending_checks, s.noise
            FROM backlink_checks c LEFT JOIN backlink_state s ON s.backlink_id = c.backlink_id
            WHERE c.run_id = ?
            """,
            (run_id,),
        ).fetchall()
        now = utcnow()
        states, inserts, confirms, cancels = [], [], [], []
        counts: dict[str, int] = {"noise": 0}
        for row in rows:
            backlink_id = row[0]
            check = Check(
                row[1], bool(row[2]), bool(row[3]), row[4], row[5], row[6], 2 if row[7] and not row[2] else 1
            )
            before = State(
                standing=None if row[8] is None else bool(row[8]),
                status=row[9],
                nofollow=None if row[10] is None else bool(row[10]),
                anchor_text=row[11],
                linked_url=row[12],
                pending_since=row[13],
                pending_checks=row[14] or 0,
                noise=row[15] or 0,
            )
            outcome = transition(before, check, policy)
            counts["noise"] += outcome.noise
            after = outcome.state
            states.append(
                (
                    backlink_id,
                    _int(after.standing),
                    after.status,
                    _int(after.nofollow),
                    after.anchor_text,
                    after.linked_url,
                    after.pending_since,
                    after.pending_checks,
                    after.noise,
                    run_id,
                    now,
                )
            )
            for change in outcome.changes:
                key = f"{change.change}/{change.action}" if change.change == "lost" else change.change
                counts[key] = counts.get(key, 0) + 1
                if change.action == "confirm":
                    confirms.append((check.checked_at, run_id, backlink_id))
                elif change.action == "cancel":
                    cancels.append((backlink_id,))
                else:
                    inserts.append(
                        (
                            backlink_id,
                            run_id,
                            change.change,
                            change.previous_status,
                            change.status,
                            change.detected_at,
                            int(change.confirmed),
                            check.checked_at if change.confirmed else None,
                            run_id if change.confirmed else None,
                        )
                    )
        pending = "backlink_id = ? AND change = 'lost' AND confirmed = 0 AND cancelled = 0"
        with self.conn:
            self.conn.executemany(
                f"UPDATE backlink_events SET confirmed = 1, confirmed_at = ?, confirmed_run_id = ? WHERE {pending}",
                confirms,
            )
            self.conn.executemany(f"UPDATE backlink_events SET cancelled = 1 WHERE {pending}", cancels)
            self.conn.executemany(
                "INSERT INTO backlink_events (backlink_id, run_id, change, previous_status, status, detected_at, "
                "confirmed, confirmed_at, confirmed_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO backlink_state (backlink_id, standing, status, nofollow, anchor_text, "
                "linked_url, pending_since, pending_checks, noise, run_id, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                states,
            )
        return counts

    # -- repair -------------------------------------------------------------------

    def broken_targets(self) -> list[str]:
        """Targets of ours that answer 4xx or loop while a backlink still points at them."""
        return [row[0] for row in self.conn.execute("SELECT url FROM broken_backlinks")]

    def live_pages(self, host: str) -> list[dict[str, Any]]:
        """Pages of the latest site crawl of ``host`` a redirect may point to."""
        return [
            r
            for r in self.rows("SELECT url, title, h1 FROM live_pages ORDER BY url")
            if host_of(r["url"]) == host
        ]

    def save_suggestions(self, suggestions: Iterable[Any]) -> None:
        now = utcnow()
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO redirect_suggestions "
                "(url, suggested_target, confidence, reason, is_home, origin, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (s.url, s.suggested_target, s.confidence, s.reason, int(s.is_home), s.origin, now)
                    for s in suggestions
                ),
            )

    def wayback_candidates(self, run_id: int) -> list[str]:
        """Pages whose loss this run confirmed, and dead targets of ours, not looked up yet."""
        sql = """
            SELECT b.source_url FROM backlink_events e JOIN backlinks b ON b.id = e.backlink_id
            WHERE e.confirmed_run_id = ? AND e.change = 'lost'
            UNION SELECT url FROM broken_backlinks
        """
        query = f"SELECT c.source_url FROM ({sql}) c WHERE NOT EXISTS (SELECT 1 FROM wayback w WHERE w.url = c.source_url)"
        return [row[0] for row in self.conn.execute(query, (run_id,))]

    def save_wayback(self, snapshots: Iterable[Any]) -> None:
        now = utcnow()
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO wayback (url, archived, snapshot_url, snapshot_at, checked_at) "
                "VALUES (?, ?, ?, ?, ?)",
                ((s.url, int(s.archived), s.snapshot_url, s.snapshot_at, now) for s in snapshots),
            )

    def record_alerts(self, run_id: int, results: Iterable[Any], count: int) -> None:
        now = utcnow()
        with self.conn:
            self.conn.executemany(
                "INSERT INTO alerts (run_id, channel, alerts, ok, detail, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                ((run_id, r.channel, count, int(r.ok), r.detail, now) for r in results),
            )

    def mark_domain(self, domain: str, mark: str, comment: str | None) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO domain_marks (domain, mark, comment, marked_at) VALUES (?, ?, ?, ?)",
                (domain, mark, comment, utcnow()),
            )

    def unmark_domain(self, domain: str) -> bool:
        """Forget a domain's mark; False when it had none."""
        with self.conn:
            return self.conn.execute("DELETE FROM domain_marks WHERE domain = ?", (domain,)).rowcount > 0

    # -- reading ------------------------------------------------------------------

    def count(self, view: str, run_id: int | None = None) -> int:
        if view not in _VIEWS:
            raise KeyError(view)
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        return self.conn.execute(f"SELECT count(*) FROM [{view}] {where}", params).fetchone()[0]

    def rows(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params if isinstance(params, dict) else tuple(params)))
