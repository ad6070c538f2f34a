"""Named read queries: one method per question the CLI, the report, the summary, the alerts, the
suggestions and the after-run steps ask.  Their callers never write SQL (tests/test_store.py checks).

Most read the public views (README "The database"), so they show what Datasette
shows; the history reads the tables, because its state is not public.  Rows are
plain dicts keyed by column name; lists that can be long take a ``limit``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..status import Change, Status, Triage, Verdict
from ..urls import host_of
from .base import Connection
from .schema import ERROR_OUTCOMES, LOST_VERDICTS, PAGE_KINDS, VIEWS, sql_list


def _limit(limit: int | None) -> int:
    return -1 if limit is None else int(limit)  # SQLite: a negative LIMIT is no limit


class Queries(Connection):
    """The reading half of :class:`linkrot.store.Store`."""

    def count(self, view: str, run_id: int | None = None) -> int:
        """Rows of a public view (of one run)."""
        if view not in VIEWS:
            raise KeyError(view)
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        return self._value(f"SELECT count(*) FROM [{view}] {where}", params)

    # -- the report --------------------------------------------------------------------------------

    def run_count(self) -> int:
        """Runs of any spider: none means nothing was ever crawled here."""
        return self._value("SELECT count(*) FROM runs")

    def problem_totals(self) -> dict[str, int]:
        """How much of each problem the latest crawls found (the report's summary)."""
        row = self._rows(
            f"""
            SELECT (SELECT count(*) FROM broken_backlinks) AS broken_backlinks,
                   (SELECT count(*) FROM broken_links WHERE kind IN {PAGE_KINDS}) AS broken_links,
                   (SELECT count(*) FROM broken_resources) AS broken_resources,
                   (SELECT count(*) FROM pages) AS pages,
                   (SELECT count(*) FROM redirect_chains WHERE hops >= 2 AND is_loop = 0) AS redirect_chains,
                   (SELECT count(*) FROM redirecting_links) AS redirecting_links,
                   (SELECT count(*) FROM redirecting_links WHERE is_internal = 1) AS redirecting_links_internal,
                   (SELECT count(*) FROM redirect_chains WHERE is_loop = 1) AS redirect_loops,
                   (SELECT count(*) FROM soft_404s) AS soft_404s,
                   (SELECT count(*) FROM orphans) AS orphans,
                   (SELECT count(*) FROM backlink_status) AS backlinks
            """
        )
        return row[0]

    def crawl_counts(self, run_id: int | None = None) -> dict[str, int]:
        """What the latest site crawls (or one of them) checked, each figure saying what it counts.

        ``html_pages``: URLs of the site that answered 200 with an HTML page themselves (no redirect);
        ``urls_checked``: every URL fetched or looked at (pages, files, resources, external links,
        redirect hops); ``redirects``: URLs that redirect; ``errors``: URLs that failed (a broken
        status); ``resources``: images, scripts, stylesheets... checked; ``external``: URLs of other
        sites that people follow (external resources count as resources).
        """
        run = "u.run_id = :run" if run_id is not None else "u.run_id IN (SELECT run_id FROM latest_site_runs)"
        return self._rows(
            f"""
            SELECT count(*) AS urls_checked,
                   coalesce(sum(u.is_internal = 1 AND u.is_resource = 0 AND u.hops = 0 AND u.http_status = 200
                       AND (u.content_type IS NULL OR u.content_type LIKE 'text/html%'
                            OR u.content_type LIKE 'application/xhtml%')), 0) AS html_pages,
                   coalesce(sum(u.hops > 0), 0) AS redirects,
                   coalesce(sum(u.outcome IN {ERROR_OUTCOMES}), 0) AS errors,
                   coalesce(sum(u.is_resource = 1), 0) AS resources,
                   coalesce(sum(u.is_internal = 0 AND u.is_resource = 0), 0) AS external
            FROM urls u WHERE {run}
            """,
            {"run": run_id},
        )[0]

    def verdict_counts(self) -> dict[str, int]:
        """Backlinks per verdict of their latest check; ``unchecked``: imported, never checked."""
        return self._counts("SELECT coalesce(status, 'unchecked'), count(*) FROM backlink_status GROUP BY 1")

    def triage_counts(self) -> dict[Triage, int]:
        """Checked backlinks per triage bucket."""
        rows = self._counts(
            "SELECT triage, count(*) FROM backlink_status WHERE triage IS NOT NULL GROUP BY 1"
        )
        return {Triage(k): n for k, n in rows.items()}

    def page_outcome_counts(self) -> dict[str, int]:
        """Pages of the latest site crawls per status."""
        return self._counts("SELECT outcome, count(*) FROM pages GROUP BY 1")

    def broken_backlinks(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Our dead targets that live backlinks point to, most valuable first (``broken_backlinks``)."""
        return self._rows("SELECT * FROM broken_backlinks LIMIT ?", [_limit(limit)])

    def broken_link_targets(self, limit: int | None = None, *, resources: bool = False) -> list[dict[str, Any]]:
        """Broken link targets of the latest crawls, linked from the most pages first: ``linked_from`` is
        every page that links to the target, sorted (``found_on``, the first of them).

        ``resources``: the images, scripts, stylesheets... pages load, instead of the links people follow.
        """
        kinds = f"kind {'NOT ' if resources else ''}IN {PAGE_KINDS}"
        rows = self._rows(
            f"""SELECT url, status, min(kind) AS kind, count(DISTINCT source_url) AS pages,
                      min(source_url) AS found_on, max(anchor_text) AS anchor_text,
                      json_group_array(DISTINCT source_url) AS linked_from, max(is_internal) AS is_internal
               FROM broken_links WHERE {kinds} GROUP BY url ORDER BY pages DESC, url LIMIT ?""",
            [_limit(limit)],
        )
        for row in rows:  # json_group_array's order is SQLite's whim
            row["linked_from"] = sorted(json.loads(row["linked_from"]))
        return rows

    def redirecting_links(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Links of the latest crawls to a URL that redirects and ends well (``redirecting_links``): the
        links to the site first, then by page and link."""
        return self._rows(
            """SELECT source_url, url, final_url, hops, final_status, redirects, temp_redirect, to_home,
                      is_internal, anchor_text, kind
               FROM redirecting_links ORDER BY is_internal DESC, source_url, url LIMIT ?""",
            [_limit(limit)],
        )

    def soft_404s(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Soft 404s of the latest crawls, every column of ``soft_404s`` but ``run_id``, by URL."""
        rows = self._rows("SELECT * FROM soft_404s ORDER BY url LIMIT ?", [_limit(limit)])
        for row in rows:
            row.pop("run_id", None)
        return rows

    def orphan_pages(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Sitemap URLs of the latest crawls that no page links to: ``url``, ``status``, ``title``,
        ``sitemap``."""
        return self._rows(
            "SELECT url, status, title, sitemap FROM orphans ORDER BY url LIMIT ?", [_limit(limit)]
        )

    def longest_redirect_chains(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Redirect chains of two hops or more, and loops: longest, then most linked, first."""
        return self._rows(
            """SELECT url, hops, final_status, final_url, is_loop, linked_from FROM redirect_chains
               WHERE hops >= 2 OR is_loop = 1 ORDER BY hops DESC, is_loop DESC, linked_from DESC, url
               LIMIT ?""",
            [_limit(limit)],
        )

    def lost_links_by_domain(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Backlinks lost or devalued per referring domain, with its mark; ``verdicts`` in Verdict order."""
        rows = self._rows(
            f"""SELECT s.source_domain AS domain, count(*) AS links, group_concat(DISTINCT s.status) AS verdicts,
                       max(s.authority) AS best_authority, m.mark
                FROM backlink_status s LEFT JOIN domain_marks m ON m.domain = s.source_domain
                WHERE s.status IN {sql_list(LOST_VERDICTS)} GROUP BY s.source_domain
                ORDER BY links DESC, best_authority DESC NULLS LAST, domain LIMIT ?""",
            [_limit(limit)],
        )
        order = list(Verdict)
        for row in rows:  # group_concat's order is SQLite's whim
            row["verdicts"] = sorted((Verdict(v) for v in row["verdicts"].split(",")), key=order.index)
        return rows

    def kpi_months(self, limit: int | None = 12) -> list[dict[str, Any]]:
        """The monthly KPIs (``kpi_monthly``), latest month first."""
        return self._rows("SELECT * FROM kpi_monthly ORDER BY month DESC LIMIT ?", [_limit(limit)])

    def latest_kpi_run(self) -> dict[str, Any] | None:
        """The KPIs of the latest backlinks run (``kpi_runs``); None before any."""
        rows = self._rows("SELECT * FROM kpi_runs ORDER BY run_id DESC LIMIT 1")
        return rows[0] if rows else None

    def anchor_mix(self) -> list[dict[str, Any]]:
        """The anchor-text mix of the links that stand, against the healthy ranges (``anchor_mix``)."""
        return self._rows("SELECT * FROM anchor_mix")

    def loss_spikes(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Many losses from one referring domain on one day (``loss_spikes``), biggest first."""
        return self._rows("SELECT * FROM loss_spikes LIMIT ?", [_limit(limit)])

    def latest_run_changes(self) -> list[tuple[Change, bool, int]]:
        """What the latest backlinks run changed: (change, still pending, how many), losses it confirmed
        included."""
        rows = self._conn.execute(
            f"""SELECT change, change = '{Change.LOST}' AND confirmed = 0, count(*) FROM backlink_changes
                WHERE run_id = (SELECT max(run_id) FROM backlink_checks)
                   OR confirmed_run_id = (SELECT max(run_id) FROM backlink_checks)
                GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall()
        return [(Change(change), bool(pending), n) for change, pending, n in rows]

    def disavow_marks(self) -> list[dict[str, Any]]:
        """Domains marked ``disavow`` (``domain``, ``comment``), by name."""
        return self._rows("SELECT domain, comment FROM domain_marks WHERE mark = 'disavow' ORDER BY domain")

    # -- the redirect map --------------------------------------------------------------------------

    def latest_observations(self) -> list[dict[str, Any]]:
        """The latest fetch of every URL, site crawls and backlink target checks alike:
        ``url``, ``status`` (HTTP code, else the status name), ``final_url``, ``hops``."""
        return self._rows(
            """SELECT u.url, coalesce(u.http_status, u.outcome) AS status, u.final_url, u.hops
               FROM urls u JOIN (SELECT url, max(run_id) AS run_id FROM urls GROUP BY url) m
                 ON m.url = u.url AND m.run_id = u.run_id"""
        )

    def internal_chains(self, min_hops: int = 2) -> list[dict[str, Any]]:
        """Our own redirect chains of the latest site crawl, ``chain`` as a list of hops (external
        links' chains are not ours to fix)."""
        rows = self._rows(
            "SELECT url, hops, final_url, final_status, chain FROM redirect_chains "
            "WHERE is_internal = 1 AND hops >= ? ORDER BY url",
            [min_hops],
        )
        for row in rows:
            row["chain"] = json.loads(row["chain"]) if row["chain"] else []
        return rows

    # -- suggestions ---------------------------------------------------------------------------------

    def broken_targets(self) -> list[str]:
        """Targets of ours that answer 4xx or loop while a backlink still points at them."""
        return [row["url"] for row in self.broken_backlinks()]

    def live_pages(self, host: str) -> Iterator[dict[str, Any]]:
        """Pages of the latest site crawl of ``host`` a redirect may point to (``url``, ``title``, ``h1``),
        streamed: a site of a million pages is never all in memory."""
        rows = self._db.query("SELECT url, title, h1 FROM live_pages ORDER BY url")
        return (r for r in rows if host_of(r["url"]) == host)

    # -- the site summary ------------------------------------------------------------------------------

    def latest_site_runs(self, site: str | None = None) -> list[dict[str, Any]]:
        """The latest site crawl of each site (or of ``site``): ``run_id``, ``site``."""
        where, params = ("WHERE site = ?", [site]) if site else ("", [])
        return self._rows(f"SELECT run_id, site FROM latest_site_runs {where} ORDER BY run_id", params)

    def site_run_totals(self, run_id: int) -> dict[str, int]:
        """What one site crawl found, counted (it must be the latest of its site: the views show those)."""
        return self._rows(
            f"""
            SELECT (SELECT count(*) FROM pages WHERE run_id = :run) AS pages,
                   (SELECT count(*) FROM pages WHERE run_id = :run AND outcome = '{Status.BLOCKED}') AS blocked,
                   (SELECT count(*) FROM broken_links WHERE run_id = :run AND kind IN {PAGE_KINDS})
                       AS broken_links,
                   (SELECT count(*) FROM broken_resources WHERE run_id = :run) AS broken_resources,
                   (SELECT count(*) FROM redirect_chains WHERE run_id = :run) AS redirect_chains,
                   (SELECT count(*) FROM redirect_chains WHERE run_id = :run AND is_loop = 1) AS redirect_loops,
                   (SELECT count(*) FROM redirecting_links WHERE run_id = :run) AS redirecting_links,
                   (SELECT count(*) FROM soft_404s WHERE run_id = :run) AS soft_404s,
                   (SELECT count(*) FROM orphans WHERE run_id = :run) AS orphans
            """,
            {"run": run_id},
        )[0]

    def stopped_site_runs(self) -> list[dict[str, Any]]:
        """The latest site crawls that a limit stopped: ``site``, ``run_id``, ``stopped_by``, ``not_crawled``."""
        return self._rows(
            "SELECT r.site, r.id AS run_id, r.stopped_by, r.not_crawled FROM runs r "
            "JOIN latest_site_runs l ON l.run_id = r.id WHERE r.stopped_by IS NOT NULL ORDER BY r.id"
        )

    def run_stat(self, run_id: int, name: str) -> Any:
        """One figure of a finished run's stats (``linkrot/sitemap_urls_offsite``); None when absent."""
        return self._value("SELECT json_extract(stats, ?) FROM runs WHERE id = ?", [f'$."{name}"', run_id])

    def run_limits(self, run_id: int) -> dict[str, Any] | None:
        """The limits that stopped a crawl (``stopped_by``: ``max_pages=50000,...``) and the URLs it did not
        crawl (``not_crawled``); None when nothing stopped it."""
        rows = self._rows(
            "SELECT stopped_by, not_crawled FROM runs WHERE id = ? AND stopped_by IS NOT NULL", [run_id]
        )
        return rows[0] if rows else None

    def run_broken_links(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Broken links (that people follow) of a site crawl: ``status``, ``url``, ``found_on``."""
        return self._rows(
            f"SELECT status, url, source_url AS found_on FROM broken_links WHERE run_id = ? AND kind IN {PAGE_KINDS} "
            "ORDER BY status, url LIMIT ?",
            [run_id, _limit(limit)],
        )

    def run_broken_resources(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Broken images, scripts, stylesheets... of a site crawl: ``status``, ``kind``, ``url``, ``found_on``."""
        return self._rows(
            "SELECT status, kind, url, source_url AS found_on FROM broken_resources WHERE run_id = ? "
            "ORDER BY status, kind, url LIMIT ?",
            [run_id, _limit(limit)],
        )

    def run_redirect_chains(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Redirecting URLs of a site crawl, longest first: ``hops``, ``final_status``, ``url``, ``final_url``."""
        return self._rows(
            "SELECT hops, final_status, url, final_url FROM redirect_chains WHERE run_id = ? "
            "ORDER BY hops DESC, url LIMIT ?",
            [run_id, _limit(limit)],
        )

    def run_redirecting_links(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Links of a site crawl to a URL that redirects, links to the site first: ``source_url``, ``url``,
        ``final_url``."""
        return self._rows(
            "SELECT source_url, url, final_url FROM redirecting_links WHERE run_id = ? "
            "ORDER BY is_internal DESC, source_url, url LIMIT ?",
            [run_id, _limit(limit)],
        )

    def run_soft_404s(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Soft 404s of a site crawl, one per page: ``url``, ``reason``, ``explanation`` (why, in words)."""
        return self._rows(
            "SELECT url, reason, coalesce(explanation, '') AS explanation FROM soft_404s "
            "WHERE run_id = ? ORDER BY url LIMIT ?",
            [run_id, _limit(limit)],
        )

    def run_orphans(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Sitemap URLs of a site crawl that no page links to: ``url``."""
        return self._rows(
            "SELECT url FROM orphans WHERE run_id = ? ORDER BY url LIMIT ?", [run_id, _limit(limit)]
        )

    # -- after a backlinks run: history, alerts, the Wayback Machine -----------------------------------

    def history_rows(self, run_id: int) -> list[dict[str, Any]]:
        """Each check of the run beside what was known of its backlink before (``state_*``, None when
        nothing was): the input of :func:`linkrot.history.plan`."""
        return self._rows(
            """
            SELECT c.backlink_id, c.status, c.link_found, c.nofollow, c.anchor_text, c.linked_url, c.checked_at,
                   c.rechecked, s.standing AS state_standing, s.status AS state_status,
                   s.nofollow AS state_nofollow, s.anchor_text AS state_anchor_text,
                   s.linked_url AS state_linked_url, s.pending_since AS state_pending_since,
                   s.pending_checks AS state_pending_checks, s.noise AS state_noise
            FROM backlink_checks c LEFT JOIN backlink_state s ON s.backlink_id = c.backlink_id
            WHERE c.run_id = ?
            ORDER BY c.backlink_id
            """,
            [run_id],
        )

    def run_changes(self, run_id: int) -> list[dict[str, Any]]:
        """The changes a run made: losses it confirmed, and every other change it detected, with the
        backlink's triage and the latest evidence of the link (a lost link's page no longer has it)."""
        return self._rows(
            f"""
            SELECT ch.change, ch.source_url, ch.target_url, ch.status, ch.detected_at, ch.authority,
                   ch.authority_metric, ch.source_domain, ch.backlink_id, s.reason, s.triage, s.mentions_site,
                   coalesce(ch.evidence, (SELECT evidence FROM backlink_checks k WHERE k.backlink_id = ch.backlink_id
                                          AND k.evidence IS NOT NULL ORDER BY k.run_id DESC LIMIT 1)) AS evidence
            FROM backlink_changes ch JOIN backlink_status s ON s.backlink_id = ch.backlink_id
            WHERE (ch.change = '{Change.LOST}' AND ch.confirmed_run_id = :run)
               OR (ch.change != '{Change.LOST}' AND ch.run_id = :run)
            """,
            {"run": run_id},
        )

    def wayback_candidates(self, run_id: int) -> list[str]:
        """Pages whose loss this run confirmed, and dead targets of ours, not looked up yet."""
        sql = f"""
            SELECT b.source_url FROM backlink_events e JOIN backlinks b ON b.id = e.backlink_id
            WHERE e.confirmed_run_id = ? AND e.change = '{Change.LOST}'
            UNION SELECT url FROM broken_backlinks
        """
        query = f"SELECT c.source_url FROM ({sql}) c WHERE NOT EXISTS (SELECT 1 FROM wayback w WHERE w.url = c.source_url)"
        return [row[0] for row in self._conn.execute(query, (run_id,))]

    def _counts(self, sql: str) -> dict[str, int]:
        """A ``SELECT key, count`` as a dict."""
        return {k: n for k, n in self._conn.execute(sql)}
