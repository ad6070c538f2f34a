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

from . import charts
from .redirectmap import Seen
from .status import Change, Status, Triage, Verdict
from .summary import describe_limits

if TYPE_CHECKING:
    from .store import Store


def _ordered(counts: dict[str, int], order: list[str]) -> dict[str, int]:
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _change_counts(changes: list[tuple[Change, bool, int]]) -> dict[str, int]:
    """``lost (pending)`` apart from confirmed losses; every other change by its name."""
    return {f"{change} (pending)" if pending else str(change): n for change, pending, n in changes}


def gather(store: Store, top: int, suggestions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as one JSON-ready object; ``suggestions`` (fresh ones) win over the stored ones."""
    runs = store.run_count()
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
    return {
        "runs": runs,
        "hint": None
        if runs
        else "No crawl in this database yet: scrapy crawl site -a url=https://www.example.com/",
        "totals": store.problem_totals(),
        "verdicts": _ordered(store.verdict_counts(), list(Verdict)),
        "triage": _ordered(store.triage_counts(), list(Triage)),
        "site": _ordered(store.page_outcome_counts(), list(Status)),
        "broken_backlinks": broken_backlinks,
        "broken_links": store.broken_link_targets(limit=top),
        "broken_resources": store.broken_link_targets(limit=top, resources=True),
        "redirect_chains": store.longest_redirect_chains(limit=top),
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


def has_problems(data: dict[str, Any]) -> bool:
    totals = data["totals"]
    return bool(totals["broken_backlinks"] or totals["broken_links"] or totals["broken_resources"])


# -- one table model, four formats ------------------------------------------------------


@dataclass(slots=True)
class Section:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    empty: str = "none"


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


_LABELS = {
    "broken_backlinks": "broken backlink targets",
    "broken_links": "broken links (page, link)",
    "broken_resources": "broken resources (page, image/script/stylesheet...)",
    "pages": "pages",
    "redirect_chains": "redirect chains of 2+ hops",
    "redirect_loops": "URLs in redirect loops",
    "soft_404s": "soft 404s",
    "orphans": "orphans",
    "backlinks": "backlinks",
}


def sections(data: dict[str, Any]) -> list[Section]:
    t = data["totals"]

    def counted(title: str, label: str, counts: dict[str, int]) -> Section:
        return Section(title, [label, "count"], [[k, v] for k, v in counts.items()])

    stopped = (
        [
            Section(
                "Crawls stopped at a limit",
                ["site", "run", "what happened"],
                [[r["site"], r["run_id"], r["said"]] for r in data["stopped"]],
            )
        ]
        if data.get("stopped")
        else []
    )
    return [
        *stopped,
        Section("Summary", ["what", "count"], [[_LABELS.get(k, k), v] for k, v in t.items()]),
        counted("Backlink verdicts", "verdict", data["verdicts"]),
        counted("Backlink triage", "bucket", data["triage"]),
        counted("Site crawl", "status", data["site"]),
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
        Section(
            "Broken links (site crawl)",
            ["url", "status", "pages", "found on", "anchor"],
            [
                [r["url"], r["status"], r["pages"], r["found_on"], r["anchor_text"]]
                for r in data["broken_links"]
            ],
        ),
        Section(
            "Broken resources: images, scripts, stylesheets, media (site crawl)",
            ["url", "kind", "status", "pages", "found on"],
            [[r["url"], r["kind"], r["status"], r["pages"], r["found_on"]] for r in data["broken_resources"]],
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
        if not s.rows:
            out.append(f"  {s.empty}")
            continue
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
    if has_problems(data):
        out += [
            "",
            "Next: linkrot suggest (review the targets), then linkrot redirects --format nginx|apache|netlify|csv",
        ]
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
        if not s.rows:
            out.append(f"_{s.empty}_")
            continue
        out.append("| " + " | ".join(s.columns) + " |")
        out.append("|" + "|".join("---" for _ in s.columns) + "|")
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in s.rows]
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
        "Site crawl": charts.bar_chart(
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
        if s.rows and s.title in drawings:
            out.append(drawings[s.title])
        if not s.rows:
            out.append(f"<p>{html.escape(s.empty)}</p>")
            continue
        out.append(
            "<table><thead><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in s.columns)
            + "</tr></thead><tbody>"
        )
        out += ["<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in s.rows]
        out.append("</tbody></table>")
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
