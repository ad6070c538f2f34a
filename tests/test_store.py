"""The store: schema, idempotent batched writes, the contract views."""

from __future__ import annotations

import sqlite3

from linkrot.items import Link, SitemapEntry, UrlResult
from linkrot.store import _MIGRATIONS, Store

SITE = "https://www.example.com/"


def _results() -> list[UrlResult]:
    home = UrlResult(
        url=SITE,
        outcome="ok",
        is_internal=True,
        http_status=200,
        final_url=SITE,
        found_via="start",
        depth=0,
        title="Home",
        links=[
            Link("https://www.example.com/gone", "Gone page", "", False, True),
            Link("https://www.example.com/old", "Old", "nofollow", True, True),
        ],
    )
    gone = UrlResult(
        url="https://www.example.com/gone", outcome="not_found", is_internal=True, http_status=404, depth=1
    )
    old = UrlResult(
        url="https://www.example.com/old",
        outcome="ok",
        is_internal=True,
        http_status=200,
        depth=1,
        final_url=SITE,
        hops=1,
        to_home=1,
        chain=[{"url": "https://www.example.com/old", "status": 301, "location": "/"}],
    )
    return [home, gone, old]


def test_views_and_rerun_without_duplicates(tmp_path):
    store = Store(tmp_path / "x.db")
    run = store.start_run("site", SITE, {"url": SITE})
    store.write_results(run, _results())
    store.write_results(run, _results())  # a resumed run writes the same facts again
    store.write_sitemap(
        run, [SitemapEntry(SITE, "s.xml"), SitemapEntry("https://www.example.com/lonely", "s.xml")]
    )
    store.finish_run(run, "finished", {"linkrot/pages": 3})
    assert store.count("pages") == 3
    broken = store.rows("SELECT source_url, url, status, anchor_text FROM broken_links")
    assert broken == [
        {"source_url": SITE, "url": "https://www.example.com/gone", "status": 404, "anchor_text": "Gone page"}
    ]
    chain = store.rows(
        "SELECT url, hops, final_url, final_status, is_loop, chain, to_home FROM redirect_chains"
    )
    assert chain[0]["hops"] == 1 and chain[0]["to_home"] == 1 and chain[0]["final_status"] == 200
    assert '"location": "/"' in chain[0]["chain"]
    assert [r["url"] for r in store.rows("SELECT url FROM orphans")] == ["https://www.example.com/lonely"]
    assert store.rows("SELECT state, finish_reason FROM runs") == [
        {"state": "finished", "finish_reason": "finished"}
    ]


def test_views_show_the_latest_run_per_site(tmp_path):
    store = Store(tmp_path / "x.db")
    first = store.start_run("site", SITE, {})
    store.write_results(first, _results())
    second = store.start_run("site", SITE, {})
    store.write_results(second, _results()[:1])
    other = store.start_run("site", "https://other.example/", {})
    store.write_results(other, [UrlResult(url="https://other.example/", outcome="ok", is_internal=True)])
    assert {r["run_id"] for r in store.rows("SELECT run_id FROM pages")} == {second, other}
    assert store.count("pages") == 2


def test_reopen_keeps_data_and_schema_version(tmp_path):
    path = tmp_path / "x.db"
    store = Store(path)
    store.write_results(store.start_run("site", SITE, {}), _results())
    store.close()
    again = Store(path)
    assert again.count("pages") == 3
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(_MIGRATIONS)
