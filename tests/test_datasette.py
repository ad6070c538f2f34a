"""Datasette over a linkrot database of any name: the shipped metadata, canned queries, facets, charts, read-only."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import yaml

import linkrot
from linkrot.backlinks_import import import_file
from linkrot.items import BacklinkCheck, Link, SitemapEntry, UrlResult
from linkrot.render import CHROMIUM_FLAGS, find_chromium
from linkrot.store import Store
from linkrot.suggest import refresh_suggestions

METADATA = Path(linkrot.__file__).parent / "metadata.yml"  # the package data `linkrot explore` serves
O = "https://www.ours.test"
BROKEN_TARGET = f"{O}/products/blue-widget-2019.html"
# not `linkrot`: metadata.yml is written for that name, linkrot's plugin must apply it to any other
NAME = "acme-site"
# plugins that add a way to write to the database; none may be installed next to linkrot's Datasette
WRITE_PLUGINS = {
    "datasette-write",
    "datasette-insert",
    "datasette-upload-csvs",
    "datasette-upload-dbs",
    "datasette-edit-schema",
    "datasette-write-ui",
    "datasette-import",
    "datasette-edit-templates",
    "datasette-enrichments",
    "datasette-configure-fts",
    "datasette-auth-tokens",
}
CHROMIUM = find_chromium(None)  # the same Debian Chromium and flags the backlinks spider launches
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)


def _site_results() -> list[UrlResult]:
    """The latest crawl of www.ours.test: a broken link, a two-hop chain, a soft 404, a dead external link."""

    def page(path: str, title: str, *links: Link, **kw: Any) -> UrlResult:
        return UrlResult(
            url=f"{O}{path}",
            outcome="ok",
            is_internal=True,
            http_status=200,
            final_url=f"{O}{path}",
            content_type="text/html; charset=utf-8",
            title=title,
            h1=title,
            links=list(links),
            **{"depth": 1, **kw},
        )

    def link(target: str, text: str, internal: bool = True) -> Link:
        return Link(target if target.startswith("http") else f"{O}{target}", text, "", False, internal)

    chain = [
        {"url": f"{O}/old-widget", "status": 301, "location": "/widget"},
        {"url": f"{O}/widget", "status": 302, "location": "/products/widget"},
    ]
    return [
        page(
            "/",
            "Ours - Home",
            link("/products/widget", "Widget"),
            link("/old-widget", "Old widget"),
            link("/gone", "Gone page"),
            link("https://dead.elsewhere.test/", "Partner", internal=False),
            link("/about", "About"),
            found_via="start",
            depth=0,
        ),
        page("/about", "About us", link("/gone", "An old page"), link("/search-nothing", "Search")),
        page("/products/widget", "Widget"),
        page("/products/blue-widget.html", "Blue Widget"),
        page("/lonely", "Nobody links here", found_via="sitemap"),
        page(
            "/search-nothing",
            "Search",
            soft_404=True,
            soft_404_reason="looks like the site's 404 page",
            similarity=0.93,
        ),
        UrlResult(
            url=f"{O}/gone",
            outcome="not_found",
            is_internal=True,
            http_status=404,
            final_url=f"{O}/gone",
            depth=1,
        ),
        UrlResult(
            url=f"{O}/old-widget",
            outcome="ok",
            is_internal=True,
            http_status=200,
            final_url=f"{O}/products/widget",
            depth=1,
            chain=chain,
            hops=2,
            temp_redirect=1,
        ),
        UrlResult(
            url="https://dead.elsewhere.test/",
            outcome="dns_error",
            is_internal=False,
            error="DNSLookupError: dead.elsewhere.test",
        ),
    ]


# (referring page, target, Domain rating, verdict, link found)
BACKLINKS = [
    ("https://blog.alpha.test/review", f"{O}/products/widget", "52", "live", True),
    ("https://news.beta.test/2019/launch", BROKEN_TARGET, "61", "live", True),
    ("https://forum.gamma.test/t/42", BROKEN_TARGET, "12", "nofollow", True),
    ("https://blog.alpha.test/old-post", f"{O}/about", "52", "link_removed", False),
    ("https://links.delta.test/", f"{O}/", "30", "domain_gone", False),
    ("https://news.beta.test/missing", f"{O}/", "61", "not_found", False),
    ("https://wall.epsilon.test/p", f"{O}/", "", "blocked", False),
    ("https://blog.alpha.test/moved", f"{O}/old-widget", "52", "redirected", False),
]
OUTCOMES = {
    "domain_gone": ("dns_error", None),
    "not_found": ("not_found", 404),
    "blocked": ("client_error", 403),
}


def build_database(path: Path, tmp: Path) -> None:
    """What a site crawl, then a backlinks run (Ahrefs export) and suggestions write."""
    store = Store(path)
    run = store.start_run("site", f"{O}/", {"url": f"{O}/"})
    store.write_results(run, _site_results())
    store.write_sitemap(
        run, [SitemapEntry(f"{O}/", f"{O}/sitemap.xml"), SitemapEntry(f"{O}/lonely", f"{O}/sitemap.xml")]
    )
    store.finish_run(run, "finished", {"linkrot/status/ok": 7, "linkrot/status/not_found": 1})

    export = tmp / "ahrefs-utf8.csv"
    lines = ['"Referring page URL","Domain rating","Target URL","Anchor"']
    lines += [f'"{source}","{rating}","{target}","Acme widgets"' for source, target, rating, *_ in BACKLINKS]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_id, _ = import_file(store, str(export), site=None)
    run = store.start_run("backlinks", None, {"file": str(export)})
    store.attach_imports(run, [import_id])
    # our side of the link: each target fetched once, stored as a URL found via a backlink
    store.write_results(
        run,
        [
            UrlResult(
                url=f"{O}/",
                outcome="ok",
                is_internal=True,
                http_status=200,
                final_url=f"{O}/",
                found_via="backlink",
            ),
            UrlResult(
                url=f"{O}/products/widget",
                outcome="ok",
                is_internal=True,
                http_status=200,
                found_via="backlink",
            ),
            UrlResult(
                url=f"{O}/about", outcome="ok", is_internal=True, http_status=200, found_via="backlink"
            ),
            UrlResult(
                url=BROKEN_TARGET,
                outcome="not_found",
                is_internal=True,
                http_status=404,
                found_via="backlink",
            ),
            UrlResult(
                url=f"{O}/old-widget",
                outcome="ok",
                is_internal=True,
                http_status=200,
                hops=2,
                final_url=f"{O}/products/widget",
                found_via="backlink",
            ),
        ],
    )
    ids = {
        (r["source_url"], r["target_url"]): r["id"]
        for r in sqlite_utils.Database(store.path)["backlinks"].rows
    }
    checks = []
    for source, target, _, verdict, found in BACKLINKS:
        outcome, code = OUTCOMES.get(verdict, ("ok", 200))
        checks.append(
            BacklinkCheck(
                backlink_id=ids[(source, target)],
                status=verdict,
                reason=f"test: {verdict}",
                outcome=outcome,
                http_status=code,
                final_url=source,
                link_found=found,
                linked_url=target if found else None,
                anchor_text="Acme widgets" if found else None,
                rel="nofollow" if verdict == "nofollow" else "",
                nofollow=verdict == "nofollow",
            )
        )
    store.write_checks(run, checks)
    store.finish_run(run, "finished", {"linkrot/backlink/live": 2})
    refresh_suggestions(store, None)
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Datasette:
    def __init__(self, origin: str, db: Path) -> None:
        self.origin = origin
        self.db = db

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.origin + path, timeout=30) as response:
            return json.load(response)

    def status_of(self, path: str, method: str = "GET", body: bytes | None = None) -> int:
        request = urllib.request.Request(
            self.origin + path, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


@contextmanager
def serve(paths: list[Path], log_path: Path, *extra: str) -> Iterator[Datasette]:
    """``datasette serve PATHS`` on a free port, as ``linkrot explore`` runs it: no ``-m``, the plugin's metadata."""
    port = _free_port()
    command = [sys.executable, "-m", "datasette", "serve", *map(str, paths), *extra]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = log_path.open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = Datasette(f"http://127.0.0.1:{port}", paths[0])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.get("/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"datasette did not start: {log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def datasette(tmp_path_factory) -> Iterator[Datasette]:
    tmp = tmp_path_factory.mktemp("datasette")
    db = tmp / f"{NAME}.db"  # Datasette names it `acme-site`
    build_database(db, tmp)
    with serve([db], tmp / "datasette.log") as server:
        yield server


def _metadata() -> dict[str, Any]:
    return yaml.safe_load(METADATA.read_text(encoding="utf-8"))


def _query(datasette: Datasette, name: str, **params: Any) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in {"_shape": "array", **params}.items())
    return datasette.get(f"/{NAME}/{name}.json?{query}")


# -- the metadata itself ---------------------------------------------------------------------------


def test_every_table_and_view_is_described(tmp_path):
    Store(tmp_path / "linkrot.db").close()  # a fresh database has every table and view of the schema
    db = sqlite_utils.Database(tmp_path / "linkrot.db")
    names = sorted(db.table_names() + db.view_names())
    tables = _metadata()["databases"]["linkrot"]["tables"]
    undescribed = [n for n in names if not (tables.get(n) or {}).get("description")]
    assert not undescribed, f"add a description to linkrot/metadata.yml for {undescribed}"
    assert not set(tables) - set(names), "metadata describes tables the schema no longer has"


def test_contract_views_have_every_column_described(tmp_path):
    Store(tmp_path / "linkrot.db").close()
    db = sqlite_utils.Database(tmp_path / "linkrot.db")
    tables = _metadata()["databases"]["linkrot"]["tables"]
    for view in (
        "pages",
        "broken_links",
        "redirect_chains",
        "redirecting_links",
        "backlink_status",
        "broken_backlinks",
        "triage",
    ):
        columns = [c.name for c in db.view(view).columns]
        described = tables[view].get("columns") or {}
        assert [c for c in columns if not described.get(c)] == [], view
        assert not set(described) - set(columns), f"{view}: described columns it does not have"


def test_canned_queries_are_read_only_selects():
    queries = _metadata()["databases"]["linkrot"]["queries"]
    assert set(queries) == {
        "broken_backlinks_ranked",
        "lost_links_by_domain",
        "triage_summary",
        "status_breakdown",
        "redirect_chains_longest",
        "broken_links_by_page",
        "broken_resources_by_kind",
        "soft_404s_and_orphans",
        "broken_links_by_target",
        "redirecting_links_by_page",
        "referring_domains_over_time",
        "loss_rate_by_month",
    }
    for name, query in queries.items():
        assert not query.get("write"), name
        assert query["sql"].lstrip().lower().startswith("select"), name
        assert query.get("title") and (query.get("description") or query.get("description_html")), name


# -- served by Datasette -----------------------------------------------------------------------------


def test_broken_backlinks_ranked_honours_min_authority(datasette):
    default = _query(datasette, "broken_backlinks_ranked")
    assert [r["url"] for r in default] == [BROKEN_TARGET]
    row = default[0]
    assert (row["status"], row["referring_domains"], row["backlinks"], row["best_authority"]) == (
        404,
        2,
        2,
        61,
    )
    assert row["followed_backlinks"] == 1
    assert row["suggested_target"] == f"{O}/products/blue-widget.html" and row["suggestion_is_home"] == 0
    assert _query(datasette, "broken_backlinks_ranked", min_authority=0) == default
    assert [r["url"] for r in _query(datasette, "broken_backlinks_ranked", min_authority=61)] == [
        BROKEN_TARGET
    ]
    assert _query(datasette, "broken_backlinks_ranked", min_authority=1000) == []


def test_lost_links_by_domain(datasette):
    rows = {r["source_domain"]: r for r in _query(datasette, "lost_links_by_domain")}
    assert set(rows) == {
        "alpha.test",
        "beta.test",
        "gamma.test",
        "delta.test",
    }  # live, blocked, redirected: not lost
    assert (rows["alpha.test"]["lost"], rows["alpha.test"]["link_removed"]) == (1, 1)
    assert (rows["beta.test"]["not_found"], rows["beta.test"]["best_authority"]) == (1, 61)
    assert rows["delta.test"]["domain_gone"] == 1 and rows["gamma.test"]["nofollow"] == 1


def test_triage_summary_and_status_breakdown(datasette):
    triage = {(r["triage"], r["status"]): r["backlinks"] for r in _query(datasette, "triage_summary")}
    assert triage == {
        ("rebuild", "domain_gone"): 1,
        ("rebuild", "not_found"): 1,
        ("plumbing", "live"): 1,
        ("plumbing", "nofollow"): 1,
        ("plumbing", "redirected"): 1,
        ("reclaim", "link_removed"): 1,
        ("noise", "blocked"): 1,
        ("ok", "live"): 1,
    }
    assert [r["triage"] for r in _query(datasette, "triage_summary")][:2] == ["rebuild", "rebuild"]
    verdicts = {r["status"]: r["backlinks"] for r in _query(datasette, "status_breakdown")}
    assert verdicts == {
        "live": 2,
        "nofollow": 1,
        "link_removed": 1,
        "domain_gone": 1,
        "not_found": 1,
        "blocked": 1,
        "redirected": 1,
    }


def test_site_reports(datasette):
    chains = _query(datasette, "redirect_chains_longest")
    assert [(r["url"], r["hops"], r["final_status"], r["temp_redirect"]) for r in chains] == [
        (f"{O}/old-widget", 2, 200, 1)
    ]
    assert json.loads(chains[0]["chain"])[1]["location"] == "/products/widget"
    assert _query(datasette, "redirect_chains_longest", min_hops=3) == []
    assert len(_query(datasette, "redirect_chains_longest", min_hops=1)) == 1
    pages = {r["source_url"]: r for r in _query(datasette, "broken_links_by_page")}
    assert (pages[f"{O}/"]["broken_links"], pages[f"{O}/"]["internal"], pages[f"{O}/"]["external"]) == (
        2,
        1,
        1,
    )
    assert "https://dead.elsewhere.test/ (dns_error)" in pages[f"{O}/"]["targets"]
    assert pages[f"{O}/about"]["targets"] == f"{O}/gone (404)"
    problems = [(r["problem"], r["url"]) for r in _query(datasette, "soft_404s_and_orphans")]
    assert problems == [("soft_404", f"{O}/search-nothing"), ("orphan", f"{O}/lonely")]
    # every page that links to a broken URL, not the first one
    targets = {r["url"]: r for r in _query(datasette, "broken_links_by_target")}
    assert targets[f"{O}/gone"]["pages"] == 2
    assert sorted(targets[f"{O}/gone"]["linked_from"].split()) == [f"{O}/", f"{O}/about"]
    # the page that links to a redirect, with what to link to instead
    (edit,) = _query(datasette, "redirecting_links_by_page")
    assert (edit["source_url"], edit["links"], edit["internal"]) == (f"{O}/", 1, 1)
    assert edit["fix"] == f"{O}/old-widget -> {O}/products/widget"
    (link,) = datasette.get(f"/{NAME}/redirecting_links.json?_shape=array")
    assert (link["anchor_text"], link["hops"], link["redirects"]) == ("Old widget", 2, "301 302")


def test_metadata_is_served_with_descriptions_and_facets(datasette):
    served = datasette.get("/-/metadata.json")["databases"][NAME]["tables"]
    for name, facets in {
        "pages": {"status", "outcome"},
        "broken_links": {"status", "outcome", "kind"},
        "backlink_status": {"status", "triage", "source_domain"},
        "triage": {"triage", "status"},
        "broken_backlinks": {"status"},
    }.items():
        assert served[name]["description"]
        data = datasette.get(f"/{NAME}/{name}.json")
        assert set(data["facet_results"]) == facets, name
        assert data["rows"], f"{name} is empty in the test database"
    counts = {
        r["value"]: r["count"]
        for r in datasette.get(f"/{NAME}/backlink_status.json")["facet_results"]["status"]["results"]
    }
    assert counts["live"] == 2 and counts["link_removed"] == 1
    broken = datasette.get(f"/{NAME}/broken_backlinks.json")["facet_results"]["status"]["results"]
    assert [(r["value"], r["count"]) for r in broken] == [(404, 1)]


def test_datasette_is_read_only(datasette):
    def count() -> int:
        with sqlite3.connect(datasette.db) as conn:
            return conn.execute("SELECT count(*) FROM runs").fetchone()[0]

    before = count()
    plugins = {p["name"] for p in datasette.get("/-/plugins.json")}
    assert not plugins & WRITE_PLUGINS, plugins
    # Datasette 0.65 has no write API: these endpoints of later versions do not exist or refuse POST
    row = json.dumps({"table": "runs", "row": {"spider": "site", "started_at": "now"}}).encode()
    assert datasette.status_of(f"/{NAME}/-/create", "POST", row) == 405
    assert datasette.status_of(f"/{NAME}/runs/-/insert", "POST", row) == 404
    assert datasette.status_of(f"/{NAME}/runs/1/-/delete", "POST", b"{}") == 404
    assert datasette.status_of(f"/{NAME}", "POST", b"sql=delete+from+runs") == 405
    # arbitrary SQL stays on for reading, and is refused for writing
    assert datasette.get(f"/{NAME}.json?_shape=array&sql=select+count(*)+as+n+from+runs") == [{"n": before}]
    assert datasette.status_of(f"/{NAME}.json?sql=delete+from+runs") == 400  # "Statement must be a SELECT"
    assert (
        datasette.status_of(f"/{NAME}.json?sql=select+1;delete+from+runs") == 400
    )  # one statement at a time
    # a statement that passes the SELECT check still meets a read-only connection
    sneaky = f"/{NAME}.json?sql=with+x+as+(select+1)+delete+from+runs"
    assert datasette.status_of(sneaky) == 400
    with pytest.raises(urllib.error.HTTPError) as refused:
        datasette.get(sneaky)
    assert "readonly database" in refused.value.read().decode()
    assert count() == before


# -- charts in a real browser ------------------------------------------------------------------------


# What a chart's marks cover, in pixels: in an SVG (vega-embed's renderer here) the area of the data
# marks (bars, lines, points: role-mark), not of legend symbols, axes or grid; in a canvas the pixels
# in a chart colour (saturated: axes, grid lines and labels are grey or black).  An empty chart is 0.
COLOURED_PIXELS = """e => {
    if (e.tagName.toLowerCase() === "svg") {
        let area = 0;
        for (const p of e.querySelectorAll(".role-mark > path")) {
            const b = p.getBBox();
            area += Math.max(b.width, 1) * Math.max(b.height, 1);
        }
        return Math.round(area);
    }
    const d = e.getContext("2d").getImageData(0, 0, e.width, e.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] < 128) continue;
        if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) n++;
    }
    return n;
}"""


def open_page(datasette: Datasette, path: str, browse: Any) -> dict[str, Any]:
    """Load ``path`` in headless Chromium and let ``browse(page)`` look; returns errors and requests seen."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, Any] = {"errors": [], "requested": [], "result": None}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.on(
                "console", lambda m: seen["errors"].append(f"console: {m.text}") if m.type == "error" else None
            )
            page.on("pageerror", lambda e: seen["errors"].append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: seen["errors"].append(f"failed: {r.url} {r.failure}"))
            page.on("request", lambda r: seen["requested"].append(r.url))
            page.goto(datasette.origin + path, wait_until="networkidle")
            seen["result"] = browse(page)
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    seen["offsite"] = [
        u for u in seen["requested"] if not u.startswith(datasette.origin) and not u.startswith("data:")
    ]
    return seen


def drawn(chart: Any) -> int:
    """Coloured pixels drawn in a vega-embed chart (its canvas or SVG)."""
    return chart.locator("canvas, svg.marks").first.evaluate(COLOURED_PIXELS)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/lib/chromium/chromium or /usr/bin/chromium")
@pytest.mark.parametrize("chart", ["verdicts", "lost-by-domain"])
def test_chart_renders_offline_without_errors(datasette, chart):
    def look(page: Any) -> int:
        # datasette-dashboards fetches the chart's SQL from Datasette's JSON API, then vega-embed draws
        # a chart's own page: one .chart-container (its id is the dashboard's, not the chart's)
        page.wait_for_selector(".chart-container canvas, .chart-container svg.marks", timeout=15000)
        page.wait_for_timeout(300)
        element = page.locator(".chart-container")
        assert element.bounding_box()["width"] > 100
        return drawn(element)

    seen = open_page(datasette, f"/-/dashboards/{NAME}/{chart}", look)
    assert seen["result"] > 500, "the chart has no bars"
    assert seen["errors"] == []
    assert seen["offsite"] == [], "the chart must load nothing from a CDN"
    assert any("/-/static-plugins/datasette_dashboards/vega-lite.min.js" in u for u in seen["requested"])


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/lib/chromium/chromium or /usr/bin/chromium")
def test_chart_link_in_the_description_draws_the_chart(datasette):
    def look(page: Any) -> tuple[str, int]:
        assert page.locator("canvas, svg.marks").count() == 0  # the query page itself is a table
        page.click(".metadata-description a:text('Chart')")
        page.wait_for_selector(".chart-container canvas, .chart-container svg.marks", timeout=15000)
        page.wait_for_timeout(300)
        return page.url, drawn(page.locator(".chart-container"))

    seen = open_page(datasette, f"/{NAME}/status_breakdown", look)
    url, pixels = seen["result"]
    assert url == f"{datasette.origin}/-/dashboards/{NAME}/verdicts" and pixels > 500
    assert seen["errors"] == []
