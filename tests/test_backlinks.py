"""Whole backlink checks against a local web of made-up hosts (``tests/web``), with real Chromium."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, check_backlinks, crawl, run_scrapy

# (referring page, target path on www.ours.test, verdict, columns of backlink_status that must hold)
CASES = [
    (
        "live.test/post.html",
        "/product.html",
        "live",
        {"anchor_text": "Acme widgets", "rel": "", "rendered": 0},
    ),
    ("live.test/variants.html", "/product.html", "live", {"target_changed": 0}),  # case, slash, fragment
    ("live.test/image.html", "/product.html", "live", {"anchor_text": "Acme logo"}),  # an image link's alt
    ("nofollow.test/rel.html", "/product.html", "nofollow", {"rel": "nofollow"}),
    ("nofollow.test/sponsored.html", "/product.html", "nofollow", {"rel": "sponsored noopener"}),
    ("nofollow.test/page-level.html", "/product.html", "nofollow", {"rel": "", "link_found": 1}),
    (
        "removed.test/post.html",
        "/product.html",
        "link_removed",
        {"link_found": 0, "rendered": 0},
    ),  # no scripts
    ("removed.test/script-text.html", "/product.html", "link_removed", {"link_found": 0, "rendered": 1}),
    ("base.test/dir/page.html", "/product.html", "live", {}),
    ("base.test/protocol.html", "/product.html", "live", {}),
    (
        "changed.test/post.html",
        "/product.html",
        "live",
        {"target_changed": 1, "linked_url": "{O}/other.html"},
    ),
    ("changed.test/bare.html", "/product.html", "live", {"target_changed": 1}),  # ours.test without www
    ("noindex.test/meta.html", "/product.html", "noindex", {"noindex": 1, "link_found": 1}),
    ("noindex.test/header.html", "/product.html", "noindex", {"noindex": 1}),
    (
        "canonical.test/post.html",
        "/product.html",
        "not_canonical",
        {"canonical_url": "http://canonical.test:{port}/elsewhere.html"},
    ),
    ("canonical.test/self/", "/product.html", "live", {}),  # a canonical to itself, without the slash
    ("moved.test/old", "/product.html", "redirected", {"link_found": 1, "http_status": 200}),
    ("moved.test/slash", "/product.html", "live", {}),  # /x -> /x/ is followed transparently
    ("notfound.test/gone.html", "/product.html", "not_found", {"http_status": 404}),
    ("notfound.test/dead", "/product.html", "not_found", {"http_status": 410}),
    ("notfound.test/loop", "/product.html", "not_found", {"outcome": "redirect_loop"}),
    (
        "blocked.test/private/page.html",
        "/product.html",
        "blocked",
        {"outcome": "blocked", "http_status": None},
    ),
    ("blocked.test/forbidden", "/product.html", "blocked", {"http_status": 403}),
    ("blocked.test/auth", "/product.html", "blocked", {"http_status": 401}),
    ("blocked.test/legal", "/product.html", "blocked", {"http_status": 451}),
    ("blocked.test/slow-down", "/product.html", "blocked", {"http_status": 429}),
    ("broken.test/oops", "/product.html", "server_error", {"http_status": 503}),
    ("broken.test/empty", "/product.html", "server_error", {"http_status": 204}),
    ("broken.test/delay?n=6", "/product.html", "server_error", {"outcome": "timeout"}),
    ("http://gone.invalid/page", "/product.html", "domain_gone", {"outcome": "dns_error"}),
    ("http://refused.test:9/page", "/product.html", "domain_gone", {"outcome": "connection_refused"}),
    ("js.test/inserted.html", "/product.html", "live", {"rendered": 1, "anchor_text": "JS widgets"}),
    ("js.test/later.html", "/product.html", "nofollow", {"rendered": 1, "rel": "ugc"}),
    ("js.test/static.html", "/product.html", "live", {"rendered": 0}),
    ("js.test/data-only.html", "/product.html", "link_removed", {"rendered": 0}),  # JSON-LD is not a script
    ("charset.test/cp1251", "/product.html", "live", {"anchor_text": "Отличные виджеты"}),
    ("charset.test/gzipped", "/product.html", "live", {"anchor_text": "compressed"}),
    ("charset.test/after-html.html", "/product.html", "live", {"anchor_text": "after the end"}),
    # our side of the link
    ("live.test/post.html", "/gone.html", "live", {"target_status": 404, "target_hops": 0}),
    (
        "live.test/post.html",
        "/old-page",
        "live",
        {"target_status": 200, "target_hops": 1, "target_final_url": "{O}/product.html"},
    ),
    ("live.test/post.html", "/loop-a", "live", {"target_status": "redirect_loop", "target_loop": 1}),
    ("live.test/post.html", "/product-2019.html", "live", {"target_status": 404}),
]


def source(case: str, port: int) -> str:
    return case if case.startswith("http") else f"http://{case.split('/')[0]}:{port}/{case.split('/', 1)[1]}"


@pytest.fixture(scope="module")
def checked(backlinks_web, tmp_path_factory):
    port = backlinks_web.port
    tmp = tmp_path_factory.mktemp("backlinks")
    export = tmp / "export.csv"
    lines = ["source_url,target_url,anchor"]
    for case, target, _, _ in CASES:
        lines.append(f"{source(case, port)},http://www.ours.test:{port}{target},x")
    lines.append(f"{source('live.test/post.html', port)},http://www.ours.test:{port}/product.html,duplicate")
    lines.append("ftp://not-http.test/file,http://www.ours.test/,bad row")
    export.write_text("\n".join(lines) + "\n")
    # a crawl of our own site first: redirect suggestions come from its live pages
    crawl(tmp / "linkrot.db", f"http://www.ours.test:{port}/", LINKROT_RESOLVE="*.test=127.0.0.1")
    return check_backlinks(
        tmp / "linkrot.db",
        f"file={export}",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        DOWNLOAD_TIMEOUT=3,
        LINKROT_RETRY_AFTER_TIMES=1,
    )


@pytest.mark.parametrize("case, target, verdict, columns", CASES, ids=[f"{c[0]} -> {c[1]}" for c in CASES])
def test_backlink_status(checked, backlinks_web, case, target, verdict, columns):
    port = backlinks_web.port
    origin = f"http://www.ours.test:{port}"
    row = checked.one("backlink_status", source_url=source(case, port), target_url=origin + target)
    assert row["status"] == verdict, row["reason"]
    for name, value in columns.items():
        if isinstance(value, str):
            value = value.replace("{O}", origin).replace("{port}", str(port))
        assert row[name] == value, (name, row)
    assert row["reason"] and row["checked_at"]
    assert row["link_found"] == (1 if verdict in ("live", "nofollow") else row["link_found"])


def test_every_imported_backlink_has_one_check(checked):
    assert checked.db["backlinks"].count == len(CASES)  # the duplicate pair became one backlink
    assert checked.db["backlink_status"].count == len(CASES)
    assert not list(checked.db.query("SELECT * FROM backlink_status WHERE status IS NULL"))
    errors = list(checked.db.query("SELECT line, reason FROM import_errors"))
    assert [e["line"] for e in errors] == [len(CASES) + 3]


def test_only_pages_that_need_it_are_rendered(checked):
    rendered = {
        r["source_url"].split("/")[2].split(":")[0] + "/" + r["source_url"].split("/", 3)[3]
        for r in checked.rows("backlink_status", rendered=1)
    }
    assert rendered == {"js.test/inserted.html", "js.test/later.html", "removed.test/script-text.html"}
    assert checked.stats["linkrot/render/done"] == 3


def test_evidence_shows_the_html_around_the_link(checked, backlinks_web):
    port = backlinks_web.port
    row = checked.one(
        "backlink_status",
        source_url=f"http://live.test:{port}/post.html",
        target_url=f"http://www.ours.test:{port}/product.html",
    )
    assert row["evidence"].startswith("We love <a href=")
    assert row["evidence"].endswith("</a> a lot, and")


def test_redirect_chain_of_the_referring_page_is_kept(checked, backlinks_web):
    port = backlinks_web.port
    row = checked.one("backlink_status", source_url=f"http://moved.test:{port}/old")
    assert row["final_url"] == f"http://moved.test:{port}/new-home.html"
    assert json.loads(row["chain"]) == [
        {
            "url": f"http://moved.test:{port}/old",
            "status": 301,
            "location": f"http://moved.test:{port}/new-home.html",
        }
    ]


def test_stats_count_every_verdict(checked):
    stats = checked.stats
    assert stats["linkrot/backlink/domain_gone"] == 2
    assert stats["linkrot/retry_after/waited"] >= 1
    assert stats["linkrot/view/backlink_status"] == len(CASES)


def test_gsc_export_checks_for_any_link_to_the_site(backlinks_web, tmp_path):
    port = backlinks_web.port
    export = tmp_path / "gsc.csv"
    export.write_text(
        "Linking page,Last crawled\n"
        f"http://changed.test:{port}/post.html,2026-09-28\n"
        f'http://removed.test:{port}/post.html,"Sep 28, 2026"\n'
        f"http://www.ours.test:{port}/other.html,2026-09-28\n"
    )
    result = check_backlinks(
        tmp_path / "x.db",
        f"file={export}",
        f"site=http://www.ours.test:{port}/",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        LINKROT_RENDER="never",
    )
    rows = {r["source_url"]: r for r in result.rows("backlink_status")}
    assert len(rows) == 2  # the row from our own site is not a backlink
    changed = rows[f"http://changed.test:{port}/post.html"]
    assert changed["status"] == "live" and changed["target_changed"] == 0
    assert changed["linked_url"] == f"http://www.ours.test:{port}/other.html"
    assert rows[f"http://removed.test:{port}/post.html"]["status"] == "link_removed"


def test_gsc_export_without_site_is_a_clear_error(tmp_path):
    export = tmp_path / "gsc.csv"
    export.write_text("Linking page\nhttp://a.test/\n")
    proc = run_scrapy(["crawl", "backlinks", "-a", f"file={export}", "-s", f"LINKROT_DB={tmp_path / 'x.db'}"])
    assert proc.returncode != 0
    assert "names no target; give your site with -a site=" in proc.stderr


def test_a_file_with_no_usable_row_names_the_file(tmp_path):
    export = tmp_path / "mystery.csv"
    export.write_text("foo,bar\n1,2\n")
    proc = run_scrapy(["crawl", "backlinks", "-a", f"file={export}", "-s", f"LINKROT_DB={tmp_path / 'x.db'}"])
    assert proc.returncode != 0
    assert "mystery.csv" in proc.stderr and "source_url" in proc.stderr


def test_a_long_list_streams_through_a_small_scheduler(backlinks_web, tmp_path):
    port = backlinks_web.port
    export = tmp_path / "many.csv"
    rows = [
        f"http://h{i % 100}.test:{port}/page-{i}.html,http://www.ours.test:{port}/product.html"
        for i in range(3000)
    ]
    export.write_text("source_url,target_url\n" + "\n".join(rows) + "\n")
    result = check_backlinks(
        tmp_path / "x.db",
        f"file={export}",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        LINKROT_RENDER="never",
        LINKROT_BACKLINKS_CONCURRENCY=16,
    )
    assert result.stats["linkrot/backlinks/queued"] == 3000
    assert result.stats["linkrot/backlink/not_found"] == 3000
    assert result.stats["linkrot/backlinks/max_scheduled"] <= 50  # never the whole list
    assert result.db["backlink_checks"].count == 3000


def test_sample_exports_import_with_what_the_vendor_knows(tmp_path):
    from conftest import ROOT

    samples = ROOT / "data" / "samples"
    import sqlite_utils

    from linkrot.backlinks_import import import_files
    from linkrot.store import Store

    store = Store(tmp_path / "x.db")
    files = [
        str(samples / name) for name in ("ahrefs-backlinks.csv", "semrush-backlinks.csv", "majestic.csv")
    ]
    ids, counts = import_files(store, files, site=None)
    db = sqlite_utils.Database(store.path)
    formats = [r["format"] for r in db["imports"].rows_where(order_by="id")]
    assert formats == ["ahrefs", "semrush", "majestic"]
    assert counts["new"] == store.backlink_count() > 0
    known = list(db["backlinks"].rows_where("authority IS NOT NULL"))
    assert {r["authority_metric"] for r in known} >= {"Domain rating"}
    assert counts["skipped"] == db["import_errors"].count > 0


@pytest.mark.parametrize(
    "case, target, bucket",
    [
        ("live.test/post.html", "/product.html", "ok"),
        ("live.test/post.html", "/gone.html", "plumbing"),  # our target is broken
        ("live.test/post.html", "/old-page", "plumbing"),  # our target redirects: one hop to fix
        ("removed.test/post.html", "/product.html", "reclaim"),
        ("nofollow.test/rel.html", "/product.html", "reclaim"),
        ("notfound.test/gone.html", "/product.html", "rebuild"),
        ("http://gone.invalid/page", "/product.html", "rebuild"),
        ("blocked.test/forbidden", "/product.html", "noise"),
        ("broken.test/oops", "/product.html", "noise"),
        ("moved.test/old", "/product.html", "noise"),
        ("canonical.test/post.html", "/product.html", "noise"),
    ],
)
def test_triage_buckets(checked, backlinks_web, case, target, bucket):
    port = backlinks_web.port
    row = checked.one(
        "backlink_status", source_url=source(case, port), target_url=f"http://www.ours.test:{port}{target}"
    )
    assert row["triage"] == bucket
    if bucket != "ok":
        assert (
            checked.one("triage", source_url=row["source_url"], target_url=row["target_url"])["triage"]
            == bucket
        )


def test_broken_backlinks_ranked_with_a_relevant_redirect_target(checked, backlinks_web):
    origin = f"http://www.ours.test:{backlinks_web.port}"
    rows = {r["url"]: r for r in checked.rows("broken_backlinks")}
    assert set(rows) == {origin + "/gone.html", origin + "/product-2019.html", origin + "/loop-a"}
    year = rows[origin + "/product-2019.html"]
    assert (year["status"], year["referring_domains"], year["backlinks"], year["followed_backlinks"]) == (
        404,
        1,
        1,
        1,
    )
    assert year["suggested_target"] == origin + "/product.html" and year["suggestion_is_home"] == 0
    assert year["confidence"] >= 0.25 and "product" in year["suggestion_reason"]
    gone = rows[origin + "/gone.html"]
    assert (
        gone["suggested_target"] == origin + "/"
        and gone["suggestion_is_home"] == 1
        and gone["confidence"] <= 0.05
    )
    assert rows[origin + "/loop-a"]["status"] == "redirect_loop"


def test_ahrefs_rows_with_a_redirect_chain_look_for_the_url_written_on_the_page(backlinks_web, tmp_path):
    """Ahrefs' Target URL is where the link ends up; the page holds the first URL of the chain."""
    port = backlinks_web.port
    header = open(ROOT / "data" / "samples" / "ahrefs-backlinks-v3-resaved.csv").readline().strip()
    columns = header.split(",")

    def row(source: str, chain: str, codes: str) -> str:
        values = dict.fromkeys(columns, "")
        values.update(
            {
                "Referring page URL": f"http://chain.test:{port}/{source}",
                "Target URL": f"http://www.ours.test:{port}/product.html",
                "Anchor": "widget",
                "Redirect Chain URLs": chain,
                "Redirect Chain status codes": codes,
                "Nofollow": "false",
                "Domain rating": "40",
            }
        )
        return ",".join(f'"{values[c]}"' for c in columns)

    old, middle = f"http://www.old-ours.test:{port}/widget", f"http://www.ours.test:{port}/old-page"
    export = tmp_path / "ahrefs.csv"
    export.write_text(
        "\n".join(
            [
                header,
                row("first-hop.html", f"{old}, {middle}", "301,301"),
                row("middle-hop.html", f"{old}, {middle}", "301,301"),
                row("gone.html", f"{old}, {middle}", "301,301"),
            ]
        )
        + "\n"
    )
    result = check_backlinks(
        tmp_path / "x.db", f"file={export}", LINKROT_RESOLVE="*.test=127.0.0.1", LINKROT_RENDER="never"
    )
    rows = {r["source_url"].rsplit("/", 1)[1]: r for r in result.rows("backlink_status")}
    assert rows["first-hop.html"]["status"] == "live"
    assert rows["first-hop.html"]["linked_url"] == old and rows["first-hop.html"]["target_changed"] == 0
    assert rows["middle-hop.html"]["status"] == "nofollow" and rows["middle-hop.html"]["linked_url"] == middle
    assert rows["gone.html"]["status"] == "link_removed"
    assert rows["first-hop.html"]["export_hops"] == 2  # the vendor's chain, beside our own target_hops
