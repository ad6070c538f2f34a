"""The schema: numbered migrations (``NNNN_*.sql`` here, tracked in ``PRAGMA user_version``), and views.

Tables hold every run (history); the public views show the latest run of the
site spider per site and the latest check of each backlink.  A migration is
never edited once released: a change is a new file with the next number, so an
old database opened by new code migrates forward.  Views hold no data and are
recreated on every open, so they can change freely (their names and columns are
a public contract, README "The database").

Every vocabulary value a view compares with or produces comes from the enums of
:mod:`linkrot.status`, never a retyped string, so the SQL cannot drift from them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from importlib import resources

from ..anchors import HEALTHY_RANGES
from ..extract import LinkKind
from ..status import Change, Status, Triage, Verdict

_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.sql")


def _migrations() -> list[str]:
    """The migration scripts in order; their file numbers must run 1, 2, 3... without a gap."""
    # .sql files rather than strings: a released migration is frozen, a change is a new file
    folder = resources.files(__package__)
    found = sorted(
        (int(m.group(1)), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if (m := _MIGRATION_FILE.fullmatch(entry.name))
    )
    numbers = [number for number, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"linkrot/store: migrations must be numbered 1..{len(found)}, got {numbers}")
    return [script for _, script in found]


MIGRATIONS: list[str] = _migrations()

#: the index of links by target (migration 1), which every view of "who links here" needs.  A big crawl
#: stops keeping it row by row and builds it once when the run ends (``Writer.defer_link_index``): each
#: link written lands on a page of its own in it (measured on a site of 20 links a page: 188 KB written
#: per page crawled between 20,000 and 50,000 pages, 55 KB past 50,000 once it is no longer kept)
LINKS_BY_TARGET = "links_target"
LINKS_BY_TARGET_SQL = f"CREATE INDEX IF NOT EXISTS {LINKS_BY_TARGET} ON links (run_id, target_url)"


def sql_list(values: Iterable[str]) -> str:
    """``('a', 'b')``: an SQL list of vocabulary values (enum members; never user input)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


ERROR_OUTCOMES = sql_list(s for s in Status if s.is_error)
# a target of ours is broken when it answers 4xx (at the end of its chain, 429 aside) or never ends
BROKEN_TARGET = sql_list(
    [Status.NOT_FOUND, Status.CLIENT_ERROR, Status.REDIRECT_LOOP, Status.TOO_MANY_REDIRECTS]
)
TRANSIENT_VERDICTS = sql_list(v for v in Verdict if v.is_transient)
# verdicts of a backlink lost or devalued: the page or the link is gone, or the link no longer passes equity
LOST_VERDICTS = (Verdict.LINK_REMOVED, Verdict.NOT_FOUND, Verdict.DOMAIN_GONE, Verdict.NOFOLLOW)
_ANCHOR_RANGES = ", ".join(f"('{k}', {lo}, {hi})" for k, (lo, hi) in HEALTHY_RANGES.items())
_SPIKE_MIN = 3  # confirmed or pending losses from one referring domain on one day that make a spike

# one bucket per check (README "Triage"); order matters: the first that applies wins, else Triage.OK
TRIAGE_RULES: list[tuple[str, Triage]] = [
    (f"c.status IN {TRANSIENT_VERDICTS}", Triage.NOISE),
    (f"c.status IN {sql_list([Verdict.DOMAIN_GONE, Verdict.NOT_FOUND])}", Triage.REBUILD),
    (f"t.outcome IN {BROKEN_TARGET} OR t.hops > 0", Triage.PLUMBING),
    (f"c.status IN {sql_list([Verdict.REDIRECTED, Verdict.NOT_CANONICAL, Verdict.NOINDEX])}", Triage.NOISE),
    (f"c.status IN {sql_list([Verdict.LINK_REMOVED, Verdict.NOFOLLOW])}", Triage.RECLAIM),
]
_TRIAGE = (
    "CASE WHEN c.status IS NULL THEN NULL "
    + " ".join(f"WHEN {condition} THEN '{bucket}'" for condition, bucket in TRIAGE_RULES)
    + f" ELSE '{Triage.OK}' END"
)

# a URL without its query string (stored URLs have no fragment)
_WITHOUT_QUERY = "CASE WHEN instr(u.url, '?') THEN substr(u.url, 1, instr(u.url, '?') - 1) ELSE u.url END"

# links people follow (the rest are resources a page loads: images, scripts, stylesheets...)
PAGE_KINDS = sql_list([LinkKind.A, LinkKind.FRAME])

VIEWS: dict[str, str] = {
    "latest_site_runs": """
        SELECT max(id) AS run_id, site FROM runs WHERE spider = 'site' GROUP BY site
    """,
    "pages": """
        SELECT u.url, coalesce(u.http_status, u.outcome) AS status, u.final_url, u.content_type,
               u.title, u.canonical_url, u.noindex, u.depth, u.outcome, u.http_status, u.nofollow, u.h1,
               u.meta_robots, u.x_robots_tag, u.size, u.elapsed_ms, u.hops, u.soft_404,
               u.chain, u.found_via, u.error, u.fetched_at, u.run_id
        FROM urls u JOIN latest_site_runs r ON u.run_id = r.run_id
        WHERE u.is_internal = 1 AND u.is_resource = 0
    """,
    "broken_links": f"""
        SELECT l.source_url, l.target_url AS url, coalesce(u.http_status, u.outcome) AS status,
               l.anchor_text, l.rel, l.is_internal, u.outcome, u.final_url, u.hops, u.error, l.run_id,
               l.kind
        FROM links l
        JOIN latest_site_runs r ON l.run_id = r.run_id
        JOIN urls u ON u.run_id = l.run_id AND u.url = l.target_url
        WHERE u.outcome IN {ERROR_OUTCOMES}
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
    # a link whose target redirects and ends well: fix the link (point it where the chain ends), not the
    # server; a target that redirects into an error is a broken link, listed in broken_links instead
    "redirecting_links": f"""
        SELECT l.source_url, l.target_url AS url, u.final_url, u.hops,
               coalesce(u.http_status, u.outcome) AS final_status,
               (SELECT group_concat(CASE WHEN json_extract(h.value, '$.via') IS NULL
                                         THEN json_extract(h.value, '$.status')
                                         ELSE json_extract(h.value, '$.via') END, ' ')
                FROM json_each(u.chain) h) AS redirects,
               u.temp_redirect, u.to_home, l.is_internal, l.anchor_text, l.rel, l.kind, u.outcome, u.chain,
               l.run_id
        FROM links l
        JOIN latest_site_runs r ON l.run_id = r.run_id
        JOIN urls u ON u.run_id = l.run_id AND u.url = l.target_url
        WHERE u.hops > 0 AND u.outcome NOT IN {ERROR_OUTCOMES}
    """,
    # one row per page: the URLs that differ only in their query string are one page, named by the
    # first of them (SQLite takes the other columns from the row min() picks), their number in variants
    "soft_404s": f"""
        SELECT min(u.url) AS url, u.title, u.soft_404_reason AS reason, u.similarity, u.depth, u.run_id,
               u.soft_404_explanation AS explanation, count(*) AS variants
        FROM urls u JOIN latest_site_runs r ON u.run_id = r.run_id
        WHERE u.soft_404 = 1
        GROUP BY u.run_id, {_WITHOUT_QUERY}
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
    "triage": f"""
        SELECT triage, status, source_url, target_url, reason, target_status, target_final_url, target_hops,
               authority, source_domain, anchor_text, rel, link_found, checked_at, run_id
        FROM backlink_status WHERE triage IS NOT NULL AND triage != '{Triage.OK}'
    """,
    "broken_backlinks": f"""
        SELECT s.target_url AS url, s.target_status AS status, count(DISTINCT s.source_domain) AS referring_domains,
               count(*) AS backlinks, max(s.authority) AS best_authority,
               sum(s.status = '{Verdict.LIVE}') AS followed_backlinks,
               g.suggested_target, coalesce(g.confidence, 0) AS confidence, g.reason AS suggestion_reason,
               coalesce(g.is_home, 0) AS suggestion_is_home, g.origin AS suggestion_origin,
               s.target_final_url AS final_url, s.target_hops AS hops, s.target_outcome AS outcome,
               max(s.checked_at) AS checked_at, w.snapshot_url AS archived_snapshot, w.snapshot_at AS archived_at
        FROM backlink_status s
        LEFT JOIN redirect_suggestions g ON g.url = s.target_url
        LEFT JOIN wayback w ON w.url = s.target_url
        WHERE s.link_found = 1 AND s.target_outcome IN {BROKEN_TARGET}
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
    "kpi_runs": f"""
        SELECT r.id AS run_id, r.started_at, substr(r.started_at, 1, 7) AS month,
               count(c.backlink_id) AS checked,
               sum(c.link_found) AS links_live,
               count(DISTINCT CASE WHEN c.link_found = 1 THEN b.source_domain END) AS referring_domains,
               sum(c.status = '{Verdict.LIVE}') AS followed,
               sum(c.link_found = 1 AND c.nofollow = 1) AS nofollowed,
               round(1.0 * sum(c.status = '{Verdict.LIVE}') / nullif(sum(c.link_found), 0), 3) AS follow_ratio,
               sum(c.status IN {TRANSIENT_VERDICTS}) AS noise,
               (SELECT count(*) FROM backlink_events e WHERE e.run_id = r.id AND e.change = '{Change.NEW}')
                   AS new_links,
               (SELECT count(*) FROM backlink_events e
                WHERE e.confirmed_run_id = r.id AND e.change = '{Change.LOST}' AND e.cancelled = 0)
                   AS confirmed_losses,
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
    "kpi_monthly": f"""
        WITH months AS (
            SELECT month, min(run_id) AS first_run, max(run_id) AS last_run FROM kpi_runs GROUP BY month
        ), figures AS (
            SELECT m.month,
                   (SELECT links_live FROM kpi_runs WHERE run_id = m.first_run) AS links_live_at_start,
                   (SELECT referring_domains FROM kpi_runs WHERE run_id = m.last_run) AS referring_domains,
                   (SELECT follow_ratio FROM kpi_runs WHERE run_id = m.last_run) AS follow_ratio,
                   (SELECT avg_domain_authority FROM kpi_runs WHERE run_id = m.last_run) AS avg_domain_authority,
                   (SELECT count(*) FROM backlink_events e WHERE e.change = '{Change.LOST}' AND e.confirmed = 1
                       AND e.cancelled = 0 AND substr(e.confirmed_at, 1, 7) = m.month) AS confirmed_losses,
                   (SELECT count(*) FROM backlink_events e WHERE e.change = '{Change.NEW}'
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
        WHERE e.change = '{Change.LOST}' AND e.cancelled = 0
        GROUP BY b.source_domain, day HAVING count(*) >= {_SPIKE_MIN}
        ORDER BY losses DESC
    """,
    "broken_resources": f"""
        SELECT b.source_url, b.url, b.status, b.kind, b.is_internal, b.outcome, b.final_url, b.error, b.run_id
        FROM broken_links b WHERE b.kind NOT IN {PAGE_KINDS}
    """,
    "broken_fragments": """
        SELECT f.source_url, f.target_url AS url, f.fragment, l.anchor_text, l.kind, f.run_id
        FROM link_fragments f
        JOIN latest_site_runs r ON f.run_id = r.run_id
        JOIN page_anchors a ON a.run_id = f.run_id AND a.url = f.target_url
        LEFT JOIN links l ON l.run_id = f.run_id AND l.source_url = f.source_url AND l.target_url = f.target_url
        WHERE NOT EXISTS (SELECT 1 FROM json_each(a.ids) WHERE value = f.fragment)
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


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to the latest migration, each in its own transaction; then recreate the views."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            # IMMEDIATE: workers of a shared crawl open a new database together; one migrates, the others wait
            conn.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if conn.execute("PRAGMA user_version").fetchone()[0] < number:
                raise
            # another process applied this migration between our look at the version and our turn
    conn.execute("BEGIN IMMEDIATE")  # the views, replaced in one transaction: no reader sees them half made
    for name in reversed(list(VIEWS)):
        conn.execute(f"DROP VIEW IF EXISTS [{name}]")
    for name, sql in VIEWS.items():
        conn.execute(f"CREATE VIEW [{name}] AS {sql}")
    conn.commit()
