"""The store: schema and migrations, idempotent batched writes, the contract views, the named queries,
and no SQL anywhere else."""

from __future__ import annotations

import ast
import re
import sqlite3
import threading
import tomllib
from fnmatch import fnmatch

import pytest
import sqlite_utils
from conftest import ROOT

from linkrot.items import BacklinkCheck, Link, SitemapEntry, UrlResult
from linkrot.status import Change, Verdict
from linkrot.store import Store, schema, schema_version
from linkrot.summary import site_summary

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


def _query(store: Store, sql: str) -> list[dict]:
    """Tests read the file with sqlite-utils: the store itself has no raw-SQL door."""
    return list(sqlite_utils.Database(store.path).query(sql))


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
    broken = _query(store, "SELECT source_url, url, status, anchor_text FROM broken_links")
    assert broken == [
        {"source_url": SITE, "url": "https://www.example.com/gone", "status": 404, "anchor_text": "Gone page"}
    ]
    chain = _query(
        store, "SELECT url, hops, final_url, final_status, is_loop, chain, to_home FROM redirect_chains"
    )
    assert chain[0]["hops"] == 1 and chain[0]["to_home"] == 1 and chain[0]["final_status"] == 200
    assert '"location": "/"' in chain[0]["chain"]
    assert [r["url"] for r in _query(store, "SELECT url FROM orphans")] == ["https://www.example.com/lonely"]
    assert _query(store, "SELECT state, finish_reason FROM runs") == [
        {"state": "finished", "finish_reason": "finished"}
    ]


def test_a_deferred_link_index_is_built_once_with_the_migrations_definition(tmp_path):
    # a big crawl stops indexing links by target while it writes and builds the index when it ends
    store = Store(tmp_path / "x.db")
    fresh = _query(store, "SELECT sql FROM sqlite_master WHERE name = 'links_target'")
    run = store.start_run("site", SITE, {"url": SITE})
    assert store.defer_link_index() and not store.defer_link_index()  # True only when it was there
    store.write_results(run, _results())
    assert not _query(store, "SELECT 1 FROM sqlite_master WHERE name = 'links_target'")
    broken = "SELECT source_url, url, status FROM broken_links"
    without = _query(store, broken)  # still answered, by a scan
    assert store.ensure_link_index() is not None and store.ensure_link_index() is None
    assert _query(store, "SELECT sql FROM sqlite_master WHERE name = 'links_target'") == fresh
    assert _query(store, broken) == without == [
        {"source_url": SITE, "url": "https://www.example.com/gone", "status": 404}
    ]
    plan = " ".join(r["detail"] for r in _query(store, "EXPLAIN QUERY PLAN SELECT * FROM orphans"))
    assert "INDEX links_target (run_id=? AND target_url=?)" in plan  # who links to a URL: one look-up


def test_views_show_the_latest_run_per_site(tmp_path):
    store = Store(tmp_path / "x.db")
    first = store.start_run("site", SITE, {})
    store.write_results(first, _results())
    second = store.start_run("site", SITE, {})
    store.write_results(second, _results()[:1])
    other = store.start_run("site", "https://other.example/", {})
    store.write_results(other, [UrlResult(url="https://other.example/", outcome="ok", is_internal=True)])
    assert {r["run_id"] for r in _query(store, "SELECT run_id FROM pages")} == {second, other}
    assert store.count("pages") == 2
    assert store.latest_site_runs() == [
        {"run_id": second, "site": SITE},
        {"run_id": other, "site": "https://other.example/"},
    ]
    assert store.latest_site_runs(SITE) == [{"run_id": second, "site": SITE}]


def test_reopen_keeps_data_and_schema_version(tmp_path):
    path = tmp_path / "x.db"
    store = Store(path)
    store.write_results(store.start_run("site", SITE, {}), _results())
    store.close()
    again = Store(path)
    assert again.count("pages") == 3
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS) == schema_version(path)


def test_opening_waits_for_a_writer_instead_of_failing_to_turn_wal_on(tmp_path):
    """Two workers of a shared crawl open a new database at once: while one writes, the other's
    switch to WAL is refused at once by SQLite (no busy handler for it); it must wait and succeed."""
    path = tmp_path / "shared.db"
    sqlite_utils.Database(path)["t"].insert({"x": 1})  # a file in rollback-journal mode
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    release = threading.Timer(0.3, writer.execute, ("COMMIT",))
    release.start()
    try:
        store = Store(path)
    finally:
        release.join()
        writer.close()
    assert store.count("pages") == 0
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


# -- migrations --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", range(1, len(schema.MIGRATIONS)))
def test_an_old_database_migrates_forward(tmp_path, version):
    """A database an older linkrot left at ``version`` opens, keeps its rows and gets every later table."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number, script in enumerate(schema.MIGRATIONS[:version], start=1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    conn.execute(
        "INSERT INTO runs (id, spider, site, started_at, state) VALUES (1, 'site', ?, '2026-01-01', 'finished')",
        (SITE,),
    )
    conn.execute(
        "INSERT INTO urls (run_id, url, is_internal, outcome, http_status, fetched_at) "
        "VALUES (1, ?, 1, 'not_found', 404, '2026-01-01')",
        (SITE + "gone",),
    )
    conn.commit()
    conn.close()
    assert schema_version(path) == version

    store = Store(path)
    assert schema_version(path) == len(schema.MIGRATIONS)
    assert _query(store, "SELECT url, status, h1 FROM pages") == [
        {"url": SITE + "gone", "status": 404, "h1": None}
    ]
    assert store.site_run_totals(1)["pages"] == 1
    # the tables of the later migrations are there and writable
    store.write_traps(1, [])
    run = store.start_run("backlinks", None, {})
    store.write_checks(run, [])
    assert store.problem_totals()["backlinks"] == 0 and store.run_count() == 2


def test_migrations_are_numbered_and_shipped_with_the_package():
    names = sorted(p.name for p in (ROOT / "linkrot" / "store").glob("*.sql"))
    assert [int(n[:4]) for n in names] == list(range(1, len(schema.MIGRATIONS) + 1))
    assert all(re.fullmatch(r"\d{4}_\w+\.sql", n) for n in names)
    # an installed (non-editable) wheel holds only what pyproject declares
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "linkrot.store" in setuptools["packages"]
    globs = setuptools["package-data"]["linkrot.store"]
    assert all(any(fnmatch(n, g) for g in globs) for n in names)


def test_schema_version_of_a_file_that_is_not_linkrots(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (x)").connection.commit()
    assert schema_version(other) == 0
    assert sqlite_utils.Database(other).table_names() == ["notes"]  # looked at, not migrated


# -- no SQL outside the store -------------------------------------------------------------------

_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|REPLACE INTO|CREATE|DROP|ALTER|PRAGMA|WITH \w+ AS)\s")


def _sql_literals(source: str) -> list[tuple[int, str]]:
    """String literals (f-string parts included) that hold an SQL keyword."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value)
    ]


def test_the_sql_detector_finds_sql():
    assert _sql_literals('rows = store.query(f"SELECT * FROM [{view}] WHERE run_id = ?")')
    assert _sql_literals('conn.execute("PRAGMA user_version")')
    assert not _sql_literals('"""Select the pages to update, then delete the rest."""')


def test_no_sql_outside_the_store_package():
    files = [
        *(
            p
            for p in (ROOT / "linkrot").rglob("*.py")
            if "store" not in p.relative_to(ROOT / "linkrot").parts[:1]
        ),
        *(ROOT / "spiders").rglob("*.py"),
        *(ROOT / "pipelines").rglob("*.py"),
    ]
    assert len(files) > 20
    found = {
        f"{path.relative_to(ROOT)}:{line}": text[:60]
        for path in files
        for line, text in _sql_literals(path.read_text(encoding="utf-8"))
    }
    assert not found, f"SQL belongs in linkrot/store/ (a named query): {found}"


def test_the_store_has_no_raw_sql_door(tmp_path):
    store = Store(tmp_path / "x.db")
    assert not {"rows", "query", "execute", "conn", "db"} & set(dir(store))


# -- named queries ---------------------------------------------------------------------------------


def _crawled(tmp_path) -> tuple[Store, int]:
    store = Store(tmp_path / "x.db")
    run = store.start_run("site", SITE, {})
    store.write_results(run, _results())
    store.write_sitemap(run, [SitemapEntry("https://www.example.com/lonely", "s.xml")])
    return store, run


def test_site_summary_counts_and_lists_what_the_latest_crawl_found(tmp_path):
    store, run = _crawled(tmp_path)
    store.write_results(run, [UrlResult(url=SITE + "private", outcome="blocked", is_internal=True)])
    assert store.site_run_totals(run) == {
        "pages": 4,
        "blocked": 1,
        "broken_links": 1,
        "broken_resources": 0,
        "redirect_chains": 1,
        "redirect_loops": 0,
        "redirecting_links": 1,
        "soft_404s": 0,
        "orphans": 1,
    }
    # each figure counts one thing: the home page is the one HTML page; the redirect, the 404 and the
    # blocked URL are URLs checked, not pages
    assert store.crawl_counts(run) == {
        "html_pages": 1,
        "urls_checked": 4,
        "redirects": 1,
        "errors": 1,
        "resources": 0,
        "external": 0,
    }
    text = site_summary(store)
    assert f"Site {SITE} (run {run})" in text
    assert "  1 HTML pages; 4 URLs checked: 1 redirecting, 1 failed, 0 resources, 0 external\n" in text
    assert (
        "1 broken links, 0 broken resources, 1 links to redirecting URLs, 1 redirecting URLs (0 in loops), "
        "0 soft 404s, 1 orphans, 1 blocked" in text
    )
    assert f"    404  {SITE}gone  {SITE}" in text  # status, url, the page it was found on
    assert f"    {SITE}  {SITE}old  {SITE}" in text  # the page, its link to a redirect, where it ends
    assert f"    1  200  {SITE}old  {SITE}" in text  # hops, final status, url, where it ends
    assert "    https://www.example.com/lonely" in text
    assert site_summary(store, "https://elsewhere.example/").startswith("No site crawl")


def test_report_lists_take_a_limit_and_keep_their_order(tmp_path):
    store, run = _crawled(tmp_path)
    more = UrlResult(
        url=SITE + "a",
        outcome="ok",
        is_internal=True,
        http_status=200,
        links=[Link(SITE + "gone", "again", "", False, True), Link(SITE + "zzz", "z", "", False, True)],
    )
    store.write_results(
        run, [more, UrlResult(url=SITE + "zzz", outcome="not_found", is_internal=True, http_status=410)]
    )
    targets = store.broken_link_targets()
    assert [(r["url"], r["pages"]) for r in targets] == [(SITE + "gone", 2), (SITE + "zzz", 1)]
    assert store.broken_link_targets(limit=1) == targets[:1]
    first = store.run_broken_links(run, limit=2)  # by status: the 404s before the 410
    assert sorted(r["found_on"] for r in first) == [SITE, SITE + "a"]
    assert {(r["status"], r["url"]) for r in first} == {(404, SITE + "gone")}
    assert store.page_outcome_counts() == {"ok": 3, "not_found": 2}


def test_redirect_map_queries(tmp_path):
    store, run = _crawled(tmp_path)
    hops = [
        {"url": SITE + "x", "status": 301, "location": SITE + "y"},
        {"url": SITE + "y", "status": 301, "location": SITE},
    ]
    store.write_results(
        run,
        [
            UrlResult(
                url=SITE + "x",
                outcome="ok",
                is_internal=True,
                http_status=200,
                final_url=SITE,
                hops=2,
                chain=hops,
            )
        ],
    )
    assert store.internal_chains() == [  # one hop is no chain to collapse; the chain is a list again
        {"url": SITE + "x", "hops": 2, "final_url": SITE, "final_status": 200, "chain": hops}
    ]
    assert [r["url"] for r in store.longest_redirect_chains()] == [SITE + "x"]  # 2+ hops or a loop
    # the latest observation of a URL wins, whichever spider made it
    later = store.start_run("backlinks", None, {})
    store.write_results(
        later, [UrlResult(url=SITE + "gone", outcome="ok", is_internal=True, http_status=200)]
    )
    seen = {r["url"]: r for r in store.latest_observations()}
    assert seen[SITE + "gone"]["status"] == 200 and seen[SITE + "old"]["hops"] == 1


def _backlinks(store: Store, links: list[tuple[str, str, float | None]]) -> dict[str, int]:
    """Import backlinks (source, registrable domain, authority) to our home page; their ids by source."""
    store.import_backlinks(
        store.start_import(None, "x.csv", "plain", "utf-8"),
        [
            {
                "source_url": source,
                "target_url": SITE,
                "target_site": "example.com",
                "source_host": source.split("/")[2],
                "source_domain": domain,
                "authority": authority,
                "line": i + 2,
                "any_target": 0,
            }
            for i, (source, domain, authority) in enumerate(links)
        ],
    )
    return {r["source_url"]: r["id"] for r in sqlite_utils.Database(store.path)["backlinks"].rows}


def test_lost_links_by_domain_and_the_marks(tmp_path):
    store = Store(tmp_path / "x.db")
    ids = _backlinks(
        store,
        [
            ("https://a.spam.test/1", "spam.test", 5),
            ("https://b.spam.test/2", "spam.test", 7),
            ("https://c.spam.test/3", "spam.test", None),
            ("https://good.test/", "good.test", 60),
            ("https://gone.test/", "gone.test", 30),
        ],
    )
    run = store.start_run("backlinks", None, {})
    verdicts = {
        "https://a.spam.test/1": "nofollow",
        "https://b.spam.test/2": "link_removed",
        "https://c.spam.test/3": "nofollow",
        "https://good.test/": "live",
        "https://gone.test/": "domain_gone",
    }
    store.write_checks(
        run,
        [
            BacklinkCheck(ids[s], v, "", "ok", 200, link_found=v in ("live", "nofollow"))
            for s, v in verdicts.items()
        ],
    )
    store.mark_domain("spam.test", "disavow", "link farm")
    store.mark_domain("gone.test", "watch", None)
    lost = store.lost_links_by_domain()
    assert [(r["domain"], r["links"], r["best_authority"], r["mark"]) for r in lost] == [
        ("spam.test", 3, 7, "disavow"),
        ("gone.test", 1, 30, "watch"),
    ]
    assert lost[0]["verdicts"] == [Verdict.NOFOLLOW, Verdict.LINK_REMOVED]  # Verdict order, not SQLite's
    assert store.lost_links_by_domain(limit=1) == lost[:1]
    assert store.disavow_marks() == [{"domain": "spam.test", "comment": "link farm"}]
    assert store.verdict_counts() == {"nofollow": 2, "link_removed": 1, "live": 1, "domain_gone": 1}


def test_latest_run_changes_tell_pending_losses_apart(tmp_path):
    from linkrot import history
    from linkrot.history import Policy

    store = Store(tmp_path / "x.db")
    ids = _backlinks(store, [("https://a.test/", "a.test", 10), ("https://b.test/", "b.test", 20)])
    for verdicts in (("live", "live"), ("link_removed", "live")):
        run = store.start_run("backlinks", None, {})
        store.write_checks(
            run,
            [
                BacklinkCheck(i, v, "", "ok", 200, link_found=v == "live")
                for i, v in zip(ids.values(), verdicts)
            ],
        )
        history.apply(store, run, Policy(confirm_checks=2))
    assert store.latest_run_changes() == [(Change.LOST, True, 1)]  # pending: only one removal verdict so far
    assert store.run_changes(run) == []  # a pending loss alerts nobody yet
    run = store.start_run("backlinks", None, {})
    store.write_checks(run, [BacklinkCheck(ids["https://a.test/"], "link_removed", "gone", "ok", 200)])
    history.apply(store, run, Policy(confirm_checks=2))
    assert store.latest_run_changes() == [(Change.LOST, False, 1)]
    (change,) = store.run_changes(run)
    assert (change["change"], change["source_url"], change["reason"]) == ("lost", "https://a.test/", "gone")
    assert store.wayback_candidates(run) == ["https://a.test/"]
