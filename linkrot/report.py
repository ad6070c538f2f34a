"""What the database says, for people: the report in four formats, the disavow file, the reads behind them.

Reads through the store's named queries (over the public views, README "The
database").  Every string shown here may come from a hostile page (anchor
texts, titles, URLs), so each format
escapes for where it is shown: control characters are dropped for the terminal,
HTML is escaped in Markdown and HTML, and the HTML page forbids scripts
outright (Content-Security-Policy) in case an escape is ever missed.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from . import charts
from .redirectmap import Seen
from .status import Change, Status, Triage, Verdict
from .summary import describe_limits, orphans_said

if TYPE_CHECKING:
    from .store import Store


def _ordered(counts: dict[str, int], order: list[str]) -> dict[str, int]:
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _change_counts(changes: list[tuple[Change, bool, int]]) -> dict[str, int]:
    """``lost (pending)`` apart from confirmed losses; every other change by its name."""
    return {f"{change} (pending)" if pending else str(change): n for change, pending, n in changes}


def gather(store: Store, top: int, suggestions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as one JSON-ready object; ``suggestions`` (fresh ones) win over the stored ones.

    The JSON holds every list the text shows, whole where the text shortens it (``linked_from``: every
    page that links to a broken URL); ``site_crawled`` and ``backlinks_checked`` say which parts apply.
    """
    runs = store.run_count()
    site_runs = store.latest_site_runs()
    totals = store.problem_totals()
    # what the crawls checked, each figure named for what it counts (no "pages" mixing redirects and 404s)
    totals.update(store.crawl_counts())
    totals["sitemap_urls"] = sum(store.sitemap_url_count(r["run_id"]) for r in site_runs)
    totals["sitemap_urls_offsite"] = sum(
        store.run_stat(r["run_id"], "linkrot/sitemap_urls_offsite") or 0 for r in site_runs
    )
    broken_backlinks = store.broken_backlinks(limit=top)
    for row in broken_backlinks:
        fresh = (suggestions or {}).get(row["url"])
        if fresh is not None:
            row.update(
                suggested_target=fresh.suggested_target,
                confidence=fresh.confidence,
                suggestion_reason=fresh.reason,
                suggestion_is_home=int(fresh.is_home),
                suggestion_origin=fresh.origin,
            )
    lost = store.lost_links_by_domain(limit=top)
    for row in lost:
        row["verdicts"] = ", ".join(row["verdicts"])
    data = {
        "runs": runs,
        "hint": None
        if runs
        else "No crawl in this database yet: scrapy crawl site -a url=https://www.example.com/",
        "site_crawled": bool(site_runs),
        "backlinks_checked": bool(totals["backlinks"]),
        "sites": [r["site"] for r in site_runs],
        "sitemap_read": bool(totals["sitemap_urls"]),
        "totals": totals,
        "verdicts": _ordered(store.verdict_counts(), list(Verdict)),
        "triage": _ordered(store.triage_counts(), list(Triage)),
        "site": _ordered(store.page_outcome_counts(), list(Status)),
        "broken_backlinks": broken_backlinks,
        "broken_links": store.broken_link_targets(limit=top),
        "broken_resources": store.broken_link_targets(limit=top, resources=True),
        "redirecting_links": store.redirecting_links(limit=top),
        "redirect_chains": store.longest_redirect_chains(limit=top),
        "soft_404s": store.soft_404s(limit=top),
        "orphans": store.orphan_pages(limit=top),
        "lost_links_by_domain": lost,
        # KPIs (article 004): monthly figures against the healthy bands, the anchor mix, loss spikes
        "kpi_monthly": store.kpi_months(limit=12),
        "kpi_latest_run": store.latest_kpi_run(),
        "anchor_mix": store.anchor_mix(),
        "loss_spikes": store.loss_spikes(limit=top),
        "changes": _change_counts(store.latest_run_changes()),
        # crawls a limit stopped: their figures are partial, and the report says so first
        "stopped": [
            {**row, "said": describe_limits(row["stopped_by"], row["not_crawled"])}
            for row in store.stopped_site_runs()
        ],
    }
    data["hints"] = hints(data)
    return data


def has_problems(data: dict[str, Any]) -> bool:
    totals = data["totals"]
    return bool(totals["broken_backlinks"] or totals["broken_links"] or totals["broken_resources"])


def hints(data: dict[str, Any]) -> list[str]:
    """What to do next, only for what the report found: a link on our pages is fixed on our pages, a
    dead page of ours that other sites link to is fixed with a redirect."""
    t = data["totals"]
    said = []
    if t["broken_links"]:
        said.append(
            'Broken links: edit the pages that link to them ("linked from"): point each link to a page '
            "that exists, or remove it."
        )
    if t["broken_resources"]:
        said.append("Broken resources: put the missing files back, or edit the pages that load them.")
    if t["redirecting_links"]:
        said.append(
            "Links to redirecting URLs: edit these pages to link straight to where the redirect ends "
            "(fix the link, not the server)."
        )
    if t["soft_404s"]:
        said.append(
            "Soft 404s: make these URLs answer 404 or 410 (or redirect them to a page that replaces them), "
            "or give them real content."
        )
    if t["broken_backlinks"]:
        said.append(
            "Broken backlinks: linkrot suggest (review the targets), then "
            "linkrot redirects --format nginx|apache|netlify|csv (the redirect map)."
        )
    return said


# -- one table model, four formats ------------------------------------------------------


@dataclass(slots=True)
class Section:
    title: str
    columns: list[str]
    rows: list[list[Any]]


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


_SHOWN_PAGES = 3  # source pages named in a cell; the JSON lists them all


def _shortener(sites: list[str]) -> Callable[[str], str]:
    """Pages of the one site crawled, shown as their paths (the JSON keeps the URLs)."""
    origins = {urlunsplit(urlsplit(site)[:2] + ("", "", "")) for site in sites}
    if len(origins) != 1:
        return lambda url: url
    origin = origins.pop()
    return lambda url: url[len(origin) :] if url.startswith(origin + "/") else url


def _pages(urls: list[str], short: Callable[[str], str]) -> str:
    """``/a.html, /b.html, /c.html and 2 more pages``."""
    named = ", ".join(short(url) for url in urls[:_SHOWN_PAGES])
    more = len(urls) - _SHOWN_PAGES
    return f"{named} and {more} more page{'s' if more > 1 else ''}" if more > 0 else named


def _summary_rows(data: dict[str, Any]) -> list[list[Any]]:
    t = data["totals"]
    rows: list[list[Any]] = []
    if data["site_crawled"]:
        rows += [
            ["HTML pages (answered 200 with a page)", t["html_pages"]],
            ["URLs checked (pages, files, resources, external)", t["urls_checked"]],
            ["redirecting URLs", t["redirects"]],
            ["URLs that failed (errors)", t["errors"]],
            ["resources checked (images, scripts, stylesheets...)", t["resources"]],
            ["external URLs checked", t["external"]],
            ["broken links (page, link)", t["broken_links"]],
            ["broken resources (page, image/script/stylesheet...)", t["broken_resources"]],
            ["links to redirecting URLs (page, link)", t["redirecting_links"]],
            ["redirect chains of 2+ hops", t["redirect_chains"]],
            ["URLs in redirect loops", t["redirect_loops"]],
            ["soft 404s", t["soft_404s"]],
            # no sitemap, no orphan to find: "0 orphans" would claim a finding
            ["orphans (in the sitemap, linked from no page)", t["orphans"]]
            if data["sitemap_read"]
            else [f"orphans: {orphans_said(0, 0, t.get('sitemap_urls_offsite', 0))}", ""],
        ]
    if data["backlinks_checked"]:
        rows += [["backlinks", t["backlinks"]], ["broken backlink targets", t["broken_backlinks"]]]
    return rows


def sections(data: dict[str, Any]) -> list[Section]:
    """The report's tables, in order; a table with nothing to say is left out (a site crawl alone shows
    no backlink tables, a backlinks check alone no site tables)."""
    short = _shortener(data.get("sites", []))

    def counted(title: str, label: str, counts: dict[str, int]) -> Section:
        return Section(title, [label, "count"], [[k, v] for k, v in counts.items()])

    stopped = Section(
        "Crawls stopped at a limit",
        ["site", "run", "what happened"],
        [[r["site"], r["run_id"], r["said"]] for r in data.get("stopped", [])],
    )
    site = [
        counted("Site crawl: URLs of the site by status", "status", data["site"]),
        Section(
            "Broken links (site crawl)",
            ["url", "status", "pages", "linked from", "anchor"],
            [
                [r["url"], r["status"], r["pages"], _pages(r["linked_from"], short), r["anchor_text"]]
                for r in data["broken_links"]
            ],
        ),
        Section(
            "Broken resources: images, scripts, stylesheets, media (site crawl)",
            ["url", "kind", "status", "pages", "loaded by"],
            [
                [r["url"], r["kind"], r["status"], r["pages"], _pages(r["linked_from"], short)]
                for r in data["broken_resources"]
            ],
        ),
        Section(
            "Links to redirecting URLs (edit the link to point where it ends)",
            ["page", "link", "redirects", "ends at", "to", "anchor"],
            [
                [
                    short(r["source_url"]),
                    r["url"],
                    r["redirects"],
                    r["final_url"],
                    "your site" if r["is_internal"] else "elsewhere",
                    r["anchor_text"],
                ]
                for r in data.get("redirecting_links", [])
            ],
        ),
        Section(
            "Redirect chains (2+ hops) and loops",
            ["url", "hops", "final status", "final url", "loop", "linked from"],
            [
                [
                    r["url"],
                    r["hops"],
                    r["final_status"],
                    r["final_url"],
                    "loop" if r["is_loop"] else "",
                    r["linked_from"],
                ]
                for r in data["redirect_chains"]
            ],
        ),
        _soft_404_section(data.get("soft_404s", [])),
        Section(
            "Orphans (in the sitemap, linked from no page)",
            ["url", "status", "title"],
            [[r["url"], r["status"], r["title"]] for r in data.get("orphans", [])],
        ),
    ]
    backlinks = [
        counted("Backlink verdicts", "verdict", data["verdicts"]),
        counted("Backlink triage", "bucket", data["triage"]),
        Section(
            "Broken backlinks (our dead pages that live links point to)",
            ["url", "status", "domains", "backlinks", "authority", "suggested target", "confidence"],
            [
                [
                    r["url"],
                    r["status"],
                    r["referring_domains"],
                    r["backlinks"],
                    _number(r["best_authority"]),
                    (r["suggested_target"] or "") + (" (home page)" if r["suggestion_is_home"] else ""),
                    f"{r['confidence']:.2f}" if r["suggested_target"] else "",
                ]
                for r in data["broken_backlinks"]
            ],
        ),
        _kpi_section(data),
        counted("Changes in the latest backlinks run", "change", data.get("changes", {})),
        Section(
            "Link loss rate per month (healthy: under 3-4% a month)",
            [
                "month",
                "referring domains",
                "growth %",
                "links live at start",
                "confirmed losses",
                "loss rate %",
                "band",
            ],
            [
                [
                    r["month"],
                    r["referring_domains"],
                    _number(r["referring_domains_growth_pct"]),
                    r["links_live_at_start"],
                    r["confirmed_losses"],
                    _number(r["loss_rate_pct"]),
                    r["loss_rate_band"],
                ]
                for r in data.get("kpi_monthly", [])
            ],
        ),
        Section(
            "Anchor-text mix (healthy: branded 40-50%, naked URL 20-25%, generic and partial 10-15%, exact 3-5%)",
            ["anchor class", "links", "share %", "healthy %", "versus healthy"],
            [
                [
                    r["anchor_class"],
                    r["links"],
                    _number(r["share_pct"]),
                    f"{r['healthy_low_pct']}-{r['healthy_high_pct']}"
                    if r["healthy_low_pct"] is not None
                    else "",
                    r["versus_healthy"] or "",
                ]
                for r in data.get("anchor_mix", [])
            ],
        ),
        Section(
            "Loss spikes (a site-wide change on their side, not separate losses)",
            ["domain", "day", "losses", "verdicts"],
            [[r["source_domain"], r["day"], r["losses"], r["statuses"]] for r in data.get("loss_spikes", [])],
        ),
        Section(
            "Lost links by referring domain",
            ["domain", "links", "verdicts", "authority", "mark"],
            [
                [r["domain"], r["links"], r["verdicts"], _number(r["best_authority"]), r["mark"]]
                for r in data["lost_links_by_domain"]
            ],
        ),
    ]
    shown = [
        stopped,
        Section("Summary", ["what", "count"], _summary_rows(data)),
        *(site if data["site_crawled"] else []),
        *(backlinks if data["backlinks_checked"] else []),
    ]
    return [s for s in shown if s.rows]


def _soft_404_section(rows: list[dict[str, Any]]) -> Section:
    """Every column the ``soft_404s`` view has, the known ones first (the classifier may add some)."""
    known = ["url", "reason", "explanation", "similarity", "variants", "title"]
    have = rows[0] if rows else {}
    columns = [c for c in known if c in have or not rows] + [c for c in have if c not in known and c != "depth"]
    return Section(
        'Soft 404s (answer 200, look like the site\'s "not found" page)',
        columns,
        [[_number(r.get(c)) for c in columns] for r in rows],
    )


def _kpi_section(data: dict[str, Any]) -> Section:
    run = data.get("kpi_latest_run")
    rows = []
    if run:
        rows = [
            ["referring domains (distinct registrable domains linking)", run["referring_domains"], ""],
            ["links live", run["links_live"], ""],
            ["follow ratio", _number(run["follow_ratio"]), "70-80% followed is typical"],
            [
                "average authority of linking domains",
                _number(run["avg_domain_authority"]),
                "40+ in competitive niches",
            ],
            ["new links / confirmed losses", f"{run['new_links']} / {run['confirmed_losses']}", ""],
            ["noise (blocked, server errors)", run["noise"], "re-checked, never counted as losses"],
        ]
    return Section("Backlink KPIs (latest run)", ["KPI", "value", "healthy"], rows)


_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)], " ")


def clean(value: Any) -> str:
    """One line of printable text: a hostile anchor must not move the cursor or recolour the terminal."""
    text = "" if value is None else str(value)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).translate(_BIDI)
    return re.sub(r" {2,}", " ", text).strip()


def render_text(data: dict[str, Any], database: str) -> str:
    if data["hint"]:
        return data["hint"] + "\n"
    out = [f"linkrot report: {database}"]
    for s in sections(data):
        out += ["", s.title]
        cells = [[clean(c) for c in row] for row in [s.columns, *s.rows]]
        cells = [[c if len(c) <= 100 else c[:99] + "…" for c in row] for row in cells]
        widths = [max(len(row[i]) for row in cells) for i in range(len(s.columns))]
        numeric = [
            all(isinstance(r[i], (int, float)) or r[i] in (None, "") for r in s.rows)
            for i in range(len(widths))
        ]
        for row in cells:
            line = "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric))
            out.append("  " + line.rstrip())
    if data.get("hints"):
        out += ["", "Next:", *(f"  - {clean(hint)}" for hint in data["hints"])]
    return "\n".join(out) + "\n"


def _md(value: Any) -> str:
    text = html.escape(clean(value), quote=False).replace("\\", "\\\\")
    for char in "|[]`":
        text = text.replace(char, "\\" + char)
    return text


def render_markdown(data: dict[str, Any], database: str) -> str:
    if data["hint"]:
        return data["hint"] + "\n"
    out = [f"# linkrot report: {_md(database)}"]
    for s in sections(data):
        out += ["", f"## {s.title}", ""]
        out.append("| " + " | ".join(s.columns) + " |")
        out.append("|" + "|".join("---" for _ in s.columns) + "|")
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in s.rows]
    if data.get("hints"):
        out += ["", "## Next", "", *(f"- {_md(hint)}" for hint in data["hints"])]
    return "\n".join(out) + "\n"


def _html_cell(value: Any) -> str:
    text = html.escape("" if value is None else str(value))
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return f'<a href="{text}" rel="nofollow noreferrer">{text}</a>'
    return text


_CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
    "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}td{word-break:break-all}"
    "svg.chart{display:block;margin:.5em 0 1em;max-width:100%;height:auto}"
)
_LOST = {"link_removed", "not_found", "domain_gone"}
_RETRY = {"rate_limited", "timeout", "blocked", "server_error"}


def _html_charts(data: dict[str, Any]) -> dict[str, str]:
    """Inline SVG charts keyed by the title of the section they head (the dashboard's charts, offline)."""

    def verdict_colour(verdict: str) -> str:
        if verdict == "live":
            return charts.GREEN
        return charts.RED if verdict in _LOST else charts.BLUE if verdict == "unchecked" else charts.AMBER

    def status_colour(status: str) -> str:
        return charts.GREEN if status == "ok" else charts.AMBER if status in _RETRY else charts.RED

    lengths: dict[str, int] = {}
    for r in sorted(data["redirect_chains"], key=lambda r: (bool(r["is_loop"]), r["hops"])):
        key = "loop" if r["is_loop"] else f"{r['hops']} hops"
        lengths[key] = lengths.get(key, 0) + 1
    monthly = sorted(data.get("kpi_monthly", []), key=lambda r: r["month"])
    return {
        "Backlink verdicts": charts.bar_chart(
            "Backlink verdicts", [charts.Bar(k, v, verdict_colour(k)) for k, v in data["verdicts"].items()]
        ),
        "Site crawl: URLs of the site by status": charts.bar_chart(
            "Pages of the latest crawl, by status",
            [charts.Bar(k, v, status_colour(k)) for k, v in data["site"].items()],
        ),
        "Redirect chains (2+ hops) and loops": charts.bar_chart(
            "Redirect chains listed below, by length",
            [charts.Bar(k, v, charts.RED if k == "loop" else charts.AMBER) for k, v in lengths.items()],
        ),
        "Link loss rate per month (healthy: under 3-4% a month)": charts.time_series(
            "Confirmed backlink losses per month", [(r["month"], r["confirmed_losses"] or 0) for r in monthly]
        ),
        "Lost links by referring domain": charts.bar_chart(
            "Backlinks lost or devalued, by referring domain",
            [charts.Bar(r["domain"], r["links"], charts.RED) for r in data["lost_links_by_domain"]],
        ),
    }


def render_html(data: dict[str, Any], database: str) -> str:
    title = f"linkrot report: {html.escape(database)}"
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # the page shows strings from hostile pages: no script may run, whatever slips through
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    if data["hint"]:
        out.append(f"<p>{html.escape(data['hint'])}</p>")
    drawings = {} if data["hint"] else _html_charts(data)
    for s in [] if data["hint"] else sections(data):
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.title in drawings:
            out.append(drawings[s.title])
        out.append(
            "<table><thead><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in s.columns)
            + "</tr></thead><tbody>"
        )
        out += ["<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in s.rows]
        out.append("</tbody></table>")
    if not data["hint"] and data.get("hints"):
        out += [
            "<h2>Next</h2>",
            "<ul>",
            *(f"<li>{html.escape(hint)}</li>" for hint in data["hints"]),
            "</ul>",
        ]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_json(data: dict[str, Any], database: str) -> str:
    return json.dumps({"database": database, **data}, indent=2) + "\n"


RENDERERS: dict[str, Callable[[dict[str, Any], str], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
}


# -- the disavow file -------------------------------------------------------------------


def disavow_file(marks: list[dict[str, Any]], today: str) -> str:
    """Google's disavow format: ``#`` comments and ``domain:`` lines (one per marked registrable domain)."""
    lines = [f"# linkrot disavow file, {today}"]
    if not marks:
        lines.append("# No domain is marked disavow yet: linkrot mark DOMAIN --as disavow --comment WHY")
    for mark in marks:
        # every line of a multi-line comment stays a comment: an unprefixed line would be read as a rule
        lines += [f"# {line}".rstrip() for line in (mark["comment"] or "").splitlines()]
        lines.append(f"domain:{mark['domain']}")
    return "\n".join(lines) + "\n"


# -- reads behind the commands -----------------------------------------------------------------


def seen_urls(store: Store) -> dict[str, Seen]:
    """The latest observation of every URL (site crawls and backlink target checks alike)."""
    return {r["url"]: Seen(r["status"], r["final_url"], r["hops"] or 0) for r in store.latest_observations()}
