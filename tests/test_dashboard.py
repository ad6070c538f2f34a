"""The link-health dashboard in Datasette, on databases not named linkrot.db, drawn in headless Chromium.

The database is a real crawl of the demo site (``demo_crawl``) plus three backlinks runs written
through the Store a week apart, so every chart has something to draw: verdicts, confirmed losses
per week, losses by referring domain, crawl statuses, redirect chains, referring domains per run.
It is called ``example.com.db``: Datasette routes that name at ``/example~2Ecom``, which is what
datasette-dashboards' JavaScript gets wrong without linkrot's plugin.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from test_datasette import CHROMIUM, Datasette, drawn, open_page, serve

from linkrot.backlinks_import import import_file
from linkrot.history import Policy
from linkrot.history import apply as apply_history
from linkrot.items import BacklinkCheck
from linkrot.store import Store

NAME = "example.com"
ROUTE = "example~2Ecom"  # Datasette's tilde-encoding of a name with a dot
# (referring page, verdict in runs 1, 2, 3): losses confirmed in week 2 (two) and week 3 (one)
REFERRERS = [
    ("https://blog.alpha.test/review", "live", "live", "live"),
    ("https://blog.alpha.test/old-post", "live", "link_removed", "link_removed"),
    ("https://news.beta.test/launch", "live", "not_found", "not_found"),
    ("https://forum.gamma.test/t/42", "live", "live", "nofollow"),
    ("https://links.delta.test/", "live", "live", "domain_gone"),
    ("https://wall.epsilon.test/p", "live", "blocked", "blocked"),
]
RUN_DAYS = ["2025-03-04T10:00:00", "2025-03-11T10:00:00", "2025-03-18T10:00:00"]
CHARTS = [
    "verdicts",
    "losses",
    "lost-by-domain",
    "crawl-statuses",
    "redirect-lengths",
    "referring-domains",
    "loss-rate",
]
OUTCOMES = {
    "not_found": ("not_found", 404),
    "domain_gone": ("dns_error", None),
    "blocked": ("client_error", 403),
}


def add_backlinks_runs(path: Path, origin: str, tmp: Path) -> None:
    """An export of six backlinks to the crawled site, checked in three runs a week apart."""
    export = tmp / "export.csv"
    rows = [f'"{source}","40","{origin}/","Demo site"' for source, *_ in REFERRERS]
    export.write_text('"Referring page URL","Domain rating","Target URL","Anchor"\n' + "\n".join(rows) + "\n")
    store = Store(path)
    import_id, _ = import_file(store, str(export), site=None)
    db = sqlite_utils.Database(path)
    ids = {r["source_url"]: r["id"] for r in db.query("SELECT id, source_url FROM backlinks")}
    for i, day in enumerate(RUN_DAYS):
        run = store.start_run("backlinks", None, {"file": str(export)})
        store.attach_imports(run, [import_id])
        checks = []
        for source, *verdicts in REFERRERS:
            verdict = verdicts[i]
            outcome, code = OUTCOMES.get(verdict, ("ok", 200))
            found = verdict in ("live", "nofollow")
            checks.append(
                BacklinkCheck(
                    backlink_id=ids[source],
                    status=verdict,
                    reason=f"test: {verdict}",
                    outcome=outcome,
                    http_status=code,
                    final_url=source,
                    link_found=found,
                    linked_url=f"{origin}/" if found else None,
                    nofollow=verdict == "nofollow",
                )
            )
        store.write_checks(run, checks)
        # the runs happened a week apart: date them before history reads checked_at
        with db.conn:
            db.execute("UPDATE backlink_checks SET checked_at = ? WHERE run_id = ?", (day, run))
            db.execute("UPDATE runs SET started_at = ? WHERE id = ?", (day, run))
        apply_history(store, run, Policy(confirm_checks=1))  # a removal counts as lost at once
        store.finish_run(run, "finished", {})
    store.close()


@pytest.fixture(scope="module")
def served(demo_crawl, demo_server, tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("dashboard")
    db = tmp / f"{NAME}.db"
    shutil.copy(demo_crawl.db.conn.execute("PRAGMA database_list").fetchone()[2], db)
    add_backlinks_runs(db, demo_server.origin, tmp)
    shop = tmp / "shop.db"  # a second linkrot database served at the same time
    shutil.copy(db, shop)
    notes = tmp / "notes.db"  # another program's database: left alone
    sqlite3.connect(notes).execute("CREATE TABLE notes (body TEXT)").connection.commit()
    with serve([db, shop, notes], tmp / "datasette.log") as server:
        yield server


def _one(db: Path, sql: str) -> Any:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_every_linkrot_database_gets_its_metadata_and_dashboard(served: Datasette):
    meta = served.get("/-/metadata.json")
    assert set(meta["databases"]) == {NAME, "shop"}  # not notes
    boards = meta["plugins"]["datasette-dashboards"]
    assert set(boards) == {NAME, "shop"}
    assert {c["db"] for c in boards["shop"]["charts"].values()} == {"shop"}
    assert meta["databases"][NAME]["tables"]["pages"]["description"]
    assert 'href="-/dashboards/example.com"' in meta["databases"][NAME]["description_html"]
    # the canned queries answer under the database's own route
    verdicts = served.get(f"/{ROUTE}/status_breakdown.json?_shape=array")
    assert {r["status"]: r["backlinks"] for r in verdicts} == {
        "live": 1,
        "link_removed": 1,
        "not_found": 1,
        "nofollow": 1,
        "domain_gone": 1,
        "blocked": 1,
    }
    assert served.status_of(f"/-/dashboards/{NAME}") == 200
    assert served.status_of("/-/dashboards/notes") == 404
    # the raw name datasette-dashboards' JavaScript asks for reaches the database
    losses = served.get(
        f"/{NAME}.json?_shape=array&sql="
        + "select+count(*)+as+n+from+backlink_changes+where+change='lost'+and+confirmed=1"
    )
    assert losses == [{"n": 3}]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/lib/chromium/chromium or /usr/bin/chromium")
def test_dashboard_draws_every_chart_offline(served: Datasette):
    def look(page: Any) -> dict[str, Any]:
        for chart in CHARTS:
            page.wait_for_selector(f"#chart-{chart} canvas, #chart-{chart} svg.marks", timeout=20000)
        page.wait_for_timeout(500)  # vega-embed draws after the data arrives
        metrics = {
            slug: page.locator(f"#chart-{slug} p").inner_text()
            for slug in ("pages", "broken-links", "broken-backlinks", "lost-links")
        }
        return {"pixels": {c: drawn(page.locator(f"#chart-{c}")) for c in CHARTS}, "metrics": metrics}

    seen = open_page(served, f"/-/dashboards/{NAME}", look)
    pixels = seen["result"]["pixels"]
    assert all(n > 300 for n in pixels.values()), f"charts without marks: {pixels}"
    db = served.db
    assert seen["result"]["metrics"] == {
        "pages": str(_one(db, "SELECT count(*) FROM pages")),
        "broken-links": str(_one(db, "SELECT count(*) FROM broken_links")),
        "broken-backlinks": str(_one(db, "SELECT count(*) FROM broken_backlinks")),
        "lost-links": "4",  # link_removed, not_found, nofollow, domain_gone
    }
    assert seen["errors"] == []
    assert seen["offsite"] == [], "the dashboard must load nothing from a CDN"


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/lib/chromium/chromium or /usr/bin/chromium")
def test_a_database_without_data_draws_empty_charts_without_errors(tmp_path):
    db = tmp_path / "fresh-site.db"
    Store(db).close()  # every table and view, no rows
    with serve([db], tmp_path / "datasette.log") as server:

        def look(page: Any) -> dict[str, int]:
            page.wait_for_selector("#chart-verdicts canvas, #chart-verdicts svg.marks", timeout=20000)
            page.wait_for_timeout(500)
            return {c: drawn(page.locator(f"#chart-{c}")) for c in ("verdicts", "crawl-statuses")}

        seen = open_page(server, "/-/dashboards/fresh-site", look)
    assert seen["result"] == {"verdicts": 0, "crawl-statuses": 0}  # the pixel count sees no marks
    assert seen["errors"] == []
