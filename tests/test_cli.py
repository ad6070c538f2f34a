"""The ``linkrot`` command line: redirect maps, report, suggestions, disavow, explore; its docs and exit codes."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import click
import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import ROOT

from linkrot import cli as cli_module
from linkrot.cli import cli
from linkrot.items import BacklinkCheck, Link, UrlResult
from linkrot.redirectmap import Redirect, Seen, check, path_rules, render
from linkrot.store import Store
from linkrot.urls import host_of, registrable_domain

S = "https://www.ours.test"
HOSTILE = "<script>alert(1)</script>"


def _page(path: str, title: str, *links: Link, **kw) -> UrlResult:
    return UrlResult(
        url=S + path,
        outcome="ok",
        is_internal=True,
        http_status=200,
        final_url=S + path,
        title=title,
        h1=title,
        content_type="text/html",
        depth=1,
        links=list(links),
        **kw,
    )


def _hop(path: str, location: str, status: int = 301) -> dict:
    return {"url": S + path, "status": status, "location": location}


def _link(path: str, anchor: str = "") -> Link:
    return Link(path if path.startswith("http") else S + path, anchor, "", False, True)


def site_crawl(store: Store) -> None:
    """Home, two live pages, a chain of 2 hops, a loop, a 404 (linked with a hostile anchor)."""
    run = store.start_run("site", S + "/", {"url": S + "/"})
    chain = [_hop("/chain-start", "/chain-mid"), _hop("/chain-mid", "/chain-end")]
    loop = [_hop("/loop-a", "/loop-b"), _hop("/loop-b", "/loop-a")]
    store.write_results(
        run,
        [
            _page(
                "/",
                "Ours - Home",
                _link("/widgets/blue-widget"),
                _link("/about"),
                _link("/chain-start", "Offer"),
                _link("/loop-a"),
                _link("/missing", HOSTILE),
                _link(f"/{HOSTILE}", "x"),
                found_via="start",
            ),
            _page("/widgets/blue-widget", "Blue Widget"),
            _page("/about", "About us"),
            UrlResult(
                url=S + "/chain-start",
                outcome="ok",
                is_internal=True,
                http_status=200,
                final_url=S + "/chain-end",
                chain=chain,
                hops=2,
            ),
            UrlResult(
                url=S + "/chain-mid",
                outcome="ok",
                is_internal=True,
                http_status=200,
                final_url=S + "/chain-end",
                chain=chain[1:],
                hops=1,
                found_via="redirect",
            ),
            _page("/chain-end", "Spring offer", found_via="redirect"),
            UrlResult(
                url=S + "/loop-a",
                outcome="redirect_loop",
                is_internal=True,
                final_url=S + "/loop-b",
                chain=loop,
                hops=2,
                is_loop=1,
            ),
            UrlResult(
                url=S + "/loop-b",
                outcome="redirect_loop",
                is_internal=True,
                final_url=S + "/loop-b",
                chain=loop[1:],
                hops=1,
                is_loop=1,
                found_via="redirect",
            ),
            UrlResult(url=S + "/missing", outcome="not_found", is_internal=True, http_status=404),
            UrlResult(url=f"{S}/{HOSTILE}", outcome="not_found", is_internal=True, http_status=404),
        ],
    )
    store.finish_run(run, "finished", {})


BACKLINKS = [  # source, target path, authority, verdict, link found, nofollow
    ("https://blog.friend.test/post", "/widgets/blue-widget-2019", 40, "live", True, False),
    ("https://news.other.test/a", "/widgets/blue-widget-2019", 55, "live", True, False),
    ("https://forum.third.test/t/1", "/careers/2017-internship", 20, "live", True, False),
    ("https://www.spam.co.uk/links", "/about", 5, "link_removed", False, False),
    ("https://dir.links.test/list", "/", 10, "nofollow", True, True),
]


def backlinks_run(store: Store) -> None:
    """Live backlinks to two dead pages of ours (one with a related live page), a removed and a nofollow link."""
    run = store.start_run("backlinks", None, {})
    imported = store.start_import(run, "export.csv", "plain", "utf-8")
    store.import_backlinks(
        imported,
        [
            {
                "source_url": src,
                "target_url": S + path,
                "any_target": 0,
                "target_site": "ours.test",
                "source_host": host_of(src),
                "source_domain": registrable_domain(host_of(src)),
                "authority": authority,
                "line": i + 2,
            }
            for i, (src, path, authority, *_) in enumerate(BACKLINKS)
        ],
    )
    ids = {r["source_url"]: r["id"] for r in sqlite_utils.Database(store.path)["backlinks"].rows}
    store.write_checks(
        run,
        [
            BacklinkCheck(
                ids[src],
                verdict,
                "why",
                "ok",
                200,
                src,
                link_found=found,
                nofollow=nofollow,
                anchor_text=HOSTILE if found else None,
            )
            for src, _, _, verdict, found, nofollow in BACKLINKS
        ],
    )
    store.write_results(
        run,
        [
            UrlResult(
                url=S + "/widgets/blue-widget-2019",
                outcome="not_found",
                is_internal=True,
                http_status=404,
                found_via="backlink",
            ),
            UrlResult(
                url=S + "/careers/2017-internship",
                outcome="not_found",
                is_internal=True,
                http_status=404,
                found_via="backlink",
            ),
            UrlResult(
                url=S + "/about", outcome="ok", is_internal=True, http_status=200, found_via="backlink"
            ),
            UrlResult(url=S + "/", outcome="ok", is_internal=True, http_status=200, found_via="backlink"),
        ],
    )
    store.finish_run(run, "finished", {})


@pytest.fixture
def db(tmp_path) -> str:
    path = tmp_path / "linkrot.db"
    store = Store(path)
    site_crawl(store)
    backlinks_run(store)
    store.close()
    return str(path)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- redirects ------------------------------------------------------------------------------

NGINX = """\
# linkrot redirect map: 3 redirects.
# Include this file in the http block; in each server block of the site add:
#     if ($linkrot_redirect) { return 301 $linkrot_redirect; }
map $request_uri $linkrot_redirect {
    "/widgets/blue-widget-2019" "/widgets/blue-widget";
    "/chain-start" "/chain-end";
    "/chain-mid" "/chain-end";
}
"""


def test_redirects_nginx_refuses_the_home_page_fallback(db):
    result = run("redirects", "--db", db, "--format", "nginx")
    assert result.stdout == NGINX
    assert result.stderr.splitlines() == [
        f"refused: home-page fallback: {S}/careers/2017-internship -> {S}/ (--allow-home to accept it, or add an "
        + "override)"
    ]
    assert result.exit_code == 2


def test_redirects_allow_home_completes_the_map(db):
    result = run("redirects", "--db", db, "--format", "netlify", "--allow-home")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == (
        "# linkrot redirect map: 4 redirects.\n"
        "/widgets/blue-widget-2019  /widgets/blue-widget  301\n"
        "/careers/2017-internship  /  301\n"
        "/chain-start  /chain-end  301\n"
        "/chain-mid  /chain-end  301\n"
    )


def test_redirects_csv_has_absolute_urls_kinds_and_confidence(db):
    result = run("redirects", "--db", db, "--format", "csv", "--min-confidence", "0.5")
    lines = result.stdout.splitlines()
    assert lines[0] == "from_url,to_url,status,kind,confidence,reason"
    assert lines[1].startswith(f"{S}/widgets/blue-widget-2019,{S}/widgets/blue-widget,301,backlink,")
    assert lines[2:] == [
        f"{S}/chain-start,{S}/chain-end,301,chain,1.00,collapses a chain of 2 hops",
        f"{S}/chain-mid,{S}/chain-end,301,chain,1.00,intermediate hop of {S}/chain-start",
    ]
    assert result.exit_code == 2  # the home-page fallback is still refused


def test_redirects_fix_an_override_that_points_into_a_chain(db, tmp_path):
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(f"from_url,to_url,note\n{S}/careers/2017-internship,{S}/chain-start,jobs moved\n")
    result = run("redirects", "--db", db, "--format", "apache", "--overrides", str(overrides))
    assert result.stderr.splitlines() == [
        f"fixed: {S}/careers/2017-internship -> {S}/chain-end "
        + f"(its target {S}/chain-start redirects: {S}/chain-start -> {S}/chain-end)"
    ]
    assert "RedirectMatch 301 ^/careers/2017-internship$ /chain-end\n" in result.stdout
    assert result.exit_code == 0


@pytest.mark.parametrize(
    "target, refusal",
    [
        ("/missing", f"refused: broken target: {S}/careers/2017-internship -> {S}/missing (404)"),
        ("/loop-a", f"refused: broken target: {S}/careers/2017-internship -> {S}/loop-a (redirect_loop)"),
        ("/careers/2017-internship", f"refused: redirects to itself: {S}/careers/2017-internship"),
    ],
)
def test_redirects_refuse_an_override_to_a_broken_target(db, tmp_path, target, refusal):
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(f"from_url,to_url\n{S}/careers/2017-internship,{S}{target}\n")
    result = run("redirects", "--db", db, "--format", "nginx", "--overrides", str(overrides))
    assert result.stderr.splitlines() == [refusal]
    assert "careers" not in result.stdout
    assert result.exit_code == 2


def test_redirects_bad_usage_and_bad_files(db, tmp_path):
    assert run("redirects", "--db", db).exit_code == 3  # --format is required
    assert run("redirects", "--db", db, "--format", "yaml").exit_code == 3
    assert run("redirects", "--db", db, "--format", "csv", "--min-confidence", "2").exit_code == 3
    missing = run("redirects", "--db", db, "--format", "csv", "--overrides", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 3 and "no file at" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("old,new\n")
    result = run("redirects", "--db", db, "--format", "csv", "--overrides", str(bad))
    assert result.exit_code == 1
    assert (
        result.stderr.count("\n") == 1
        and result.stderr.startswith("Error: ")
        and "from_url,to_url" in result.stderr
    )


# -- the pure map: checks and formats ---------------------------------------------------------

A, B, C, D = (f"{S}/{name}" for name in "abcd")
HOME = f"{S}/"


def _r(src: str, dst: str | None, **kw) -> Redirect:
    return Redirect(src, dst, kw.pop("kind", "backlink"), **kw)


@pytest.mark.parametrize(
    "name, candidates, seen, options, expected, messages",
    [
        ("clean", [_r(A, B)], {B: Seen(200)}, {}, [(A, B)], []),
        (
            "unknown target is kept",
            [_r(A, "https://elsewhere.test/x")],
            {},
            {},
            [(A, "https://elsewhere.test/x")],
            [],
        ),
        (
            "target redirects: fixed",
            [_r(A, B)],
            {B: Seen(200, C, 2)},
            {},
            [(A, C)],
            [f"fixed: {A} -> {C} (its target {B} redirects: {B} -> {C})"],
        ),
        (
            "target is a from of the map: fixed",
            [_r(A, B), _r(B, C, kind="chain")],
            {C: Seen(200)},
            {},
            [(A, C), (B, C)],
            [f"fixed: {A} -> {C} (its target {B} redirects: {B} -> {C})"],
        ),
        (
            "cycle in the map",
            [_r(A, B), _r(B, A)],
            {},
            {},
            [],
            [f"refused: loop: {A} -> {B} -> {A}", f"refused: loop: {B} -> {A} -> {B}"],
        ),
        (
            "cycle through the crawl",
            [_r(A, B)],
            {B: Seen(404, A, 1)},
            {},
            [],
            [f"refused: loop: {A} -> {B} -> {A}"],
        ),
        (
            "self after normalisation",
            [_r(A, f"{S}:443/a#top")],
            {},
            {},
            [],
            [f"refused: redirects to itself: {A}"],
        ),
        ("broken target", [_r(A, B)], {B: Seen(410)}, {}, [], [f"refused: broken target: {A} -> {B} (410)"]),
        (
            "target redirects to a 404",
            [_r(A, B)],
            {B: Seen(404, C, 1)},
            {},
            [],
            [f"refused: broken target: {A} -> {C} (404)"],
        ),
        (
            "nothing to redirect to",
            [_r(A, None, reason="no page")],
            {},
            {},
            [],
            [f"refused: nothing to redirect to: {A} (no page)"],
        ),
        (
            "home refused",
            [_r(A, HOME, is_home=True)],
            {},
            {},
            [],
            [f"refused: home-page fallback: {A} -> {HOME} (--allow-home to accept it, or add an override)"],
        ),
        ("home allowed", [_r(A, HOME, is_home=True)], {}, {"allow_home": True}, [(A, HOME)], []),
        (
            "low confidence",
            [_r(A, B, confidence=0.3)],
            {},
            {"min_confidence": 0.5},
            [],
            [f"refused: confidence 0.30 below 0.50: {A} -> {B}"],
        ),
        ("first reason wins", [_r(A, B), _r(A, C, kind="chain")], {}, {}, [(A, B)], []),
        ("not http", [_r("ftp://x.test/a", B)], {}, {}, [], ["refused: not an http(s) URL: ftp://x.test/a"]),
    ],
)
def test_check_the_map(name, candidates, seen, options, expected, messages):
    result = check(candidates, seen, **options)
    assert [(r.from_url, r.to_url) for r in result.redirects] == expected, name
    assert [*result.fixed, *result.refused] == messages, name


KNOWN = [
    Redirect(f"{S}/old-widget", f"{S}/widgets/blue", "backlink", 0.62, "shares 'blue'"),
    Redirect(
        f"{S}/product.php?id=7&lang=en", f"{S}/widgets/blue", "backlink", 1.0, '=HYPERLINK("http://x.test")'
    ),
    Redirect(f"{S}/caf%C3%A9%20menu", "https://shop.ours.test/menu", "chain", 1.0, "-1+2"),
    Redirect(f"{S}/old", f"http://{S[8:]}/cost$1", "chain", 1.0, "@sum\ttab"),
]
GOLDEN = {
    "nginx": """\
# linkrot redirect map: 4 redirects.
# Include this file in the http block; in each server block of the site add:
#     if ($linkrot_redirect) { return 301 $linkrot_redirect; }
map $request_uri $linkrot_redirect {
    "/old-widget" "/widgets/blue";
    "/product.php?id=7&lang=en" "/widgets/blue";
    "/caf%C3%A9%20menu" "https://shop.ours.test/menu";
    "/old" "http://www.ours.test/cost%241";
}
""",
    "apache": """\
# linkrot redirect map: 4 redirects (mod_alias; with a query string, mod_rewrite).
RedirectMatch 301 ^/old-widget$ /widgets/blue
RedirectMatch 301 ^/caf\\xC3\\xA9\\x20menu$ https://shop.ours.test/menu
RedirectMatch 301 ^/old$ http://www.ours.test/cost%241
RewriteEngine On
RewriteCond %{QUERY_STRING} ^id=7&lang=en$
RewriteRule ^/?product\\.php$ /widgets/blue [R=301,L,QSD,NE]
""",
    "netlify": """\
# linkrot redirect map: 4 redirects.
/old-widget  /widgets/blue  301
/product.php  id=7  lang=en  /widgets/blue  301
/caf%C3%A9%20menu  https://shop.ours.test/menu  301
/old  http://www.ours.test/cost$1  301
""",
    "csv": f"""\
from_url,to_url,status,kind,confidence,reason
{S}/old-widget,{S}/widgets/blue,301,backlink,0.62,shares 'blue'
{S}/product.php?id=7&lang=en,{S}/widgets/blue,301,backlink,1.00,"'=HYPERLINK(""http://x.test"")"
{S}/caf%C3%A9%20menu,https://shop.ours.test/menu,301,chain,1.00,'-1+2
{S}/old,http://www.ours.test/cost$1,301,chain,1.00,'@sum\ttab
""".replace("\n", "\r\n"),  # RFC 4180 line ends
}


@pytest.mark.parametrize("fmt", sorted(GOLDEN))
def test_each_format_renders_a_known_map(fmt):
    assert render(KNOWN, fmt) == GOLDEN[fmt]


def test_csv_neutralises_every_formula_prefix():
    prefixes = ("=", "+", "-", "@", "\t", "\r", "a", "\n")
    rows = [Redirect(A, B, "backlink", 1.0, prefix + "x") for prefix in prefixes]
    parsed = list(csv.reader(io.StringIO(render(rows, "csv"), newline="")))
    assert [row[-1] for row in parsed[1:]] == ["'=x", "'+x", "'-x", "'@x", "'\tx", "'\rx", "ax", "\nx"]


def test_path_keyed_maps_merge_scheme_twins_and_refuse_what_they_cannot_hold():
    redirects = [
        Redirect(A, C, "chain"),
        Redirect("http://www.ours.test/a", C, "chain"),  # one path, one page: one rule
        Redirect(f"{S}/p", "http://www.ours.test/p", "backlink"),  # would loop on the http side
        Redirect("https://blog.ours.test/a", f"{S}/x", "backlink"),  # same path, another target
    ]
    rules, refused = path_rules(redirects)
    assert [(rule.path, rule.location) for rule in rules] == [("/a", C)]
    assert refused == [
        f"refused: same path, a path-keyed map would loop: {S}/p -> http://www.ours.test/p (--format csv)",
        f"refused: same path as {A} -> {C}, another target: https://blog.ours.test/a -> {S}/x",
    ]
    assert render(redirects, "netlify") == f"# linkrot redirect map: 1 redirect.\n/a  {C}  301\n"
    assert len(render(redirects, "csv").splitlines()) == 5


def test_redirects_collapse_an_http_chain_and_skip_a_foreign_hop(tmp_path):
    path = tmp_path / "x.db"
    store = Store(path)
    run_id = store.start_run("site", S + "/", {})
    http_chain = [
        {"url": "http://www.ours.test/old", "status": 301, "location": f"{S}/old"},
        _hop("/old", "/new"),
    ]
    tracked = [
        _hop("/promo", "https://track.adnet.test/c?u=1", 302),
        {"url": "https://track.adnet.test/c?u=1", "status": 302, "location": f"{S}/sale"},
    ]
    store.write_results(
        run_id,
        [
            _page("/", "Home", found_via="start"),
            _page("/new", "New"),
            _page("/sale", "Sale"),
            UrlResult(
                url="http://www.ours.test/old",
                outcome="ok",
                is_internal=True,
                http_status=200,
                final_url=f"{S}/new",
                chain=http_chain,
                hops=2,
            ),
            UrlResult(
                url=f"{S}/promo",
                outcome="ok",
                is_internal=True,
                http_status=200,
                final_url=f"{S}/sale",
                chain=tracked,
                hops=2,
                temp_redirect=1,
            ),
        ],
    )
    store.close()
    nginx = run("redirects", "--db", str(path), "--format", "nginx")
    assert nginx.exit_code == 0 and nginx.stderr == ""
    assert nginx.stdout.splitlines()[4:-1] == [f'    "/old" "{S}/new";', '    "/promo" "/sale";']
    rows = run("redirects", "--db", str(path), "--format", "csv").stdout.splitlines()[1:]
    assert [row.split(",")[:2] for row in rows] == [
        ["http://www.ours.test/old", f"{S}/new"],
        [f"{S}/old", f"{S}/new"],
        [f"{S}/promo", f"{S}/sale"],
    ]


# -- report -------------------------------------------------------------------------------


def test_report_text_lists_problems_and_exits_2(db):
    result = run("report", "--db", db)
    assert result.exit_code == 2
    out = result.stdout
    for expected in (
        "Backlink verdicts",
        "plumbing",
        "Broken backlinks",
        f"{S}/widgets/blue-widget-2019",
        f"{S}/widgets/blue-widget",
        f"{S}/ (home page)",
        "Redirect chains",
        f"{S}/loop-a",
        "spam.co.uk",
        "link_removed",
    ):
        assert expected in out, expected
    # aligned columns: the counts of a section end in the same column
    verdicts = out.split("Backlink verdicts\n")[1].split("\n\n")[0].splitlines()
    assert len({len(line) for line in verdicts[1:]}) == 1, verdicts
    # what to do: our pages for our broken links and links to redirects, the redirect map for backlinks
    hints = out.split("\nNext:\n")[1].splitlines()
    assert [hint.split(":")[0] for hint in hints] == [
        "  - Broken links",
        "  - Links to redirecting URLs",
        "  - Broken backlinks",
    ]
    assert "linkrot redirects --format" in hints[-1]


def test_a_report_indexes_the_links_a_killed_big_crawl_left_unindexed_unless_a_crawl_writes(db):
    from linkrot.lock import RunLock

    def indexed() -> bool:
        return bool(list(sqlite_utils.Database(db).query("SELECT 1 FROM sqlite_master WHERE name = 'links_target'")))

    expected = run("report", "--db", db, "--format", "json").stdout
    store = Store(db)
    store.defer_link_index()  # what a big crawl killed mid-way leaves
    store.close()
    crawling = RunLock(db, "site").acquire()  # a crawl is writing: it will build the index itself
    try:
        assert run("report", "--db", db, "--format", "json").stdout == expected and not indexed()
    finally:
        crawling.release()
    result = CliRunner().invoke(cli, ["report", "--db", db, "--format", "json"])
    assert "links indexed by target" in result.stderr and indexed()
    assert result.stdout == expected


def test_a_backlinks_only_report_has_no_site_sections(tmp_path):
    path = tmp_path / "backlinks.db"
    store = Store(path)
    backlinks_run(store)
    store.close()
    result = run("report", "--db", str(path))
    assert result.exit_code == 2
    titles = [line for line in result.stdout.splitlines()[1:] if line and not line.startswith(" ")]
    assert titles[:4] == [
        "Summary",
        "Backlink verdicts",
        "Backlink triage",
        "Broken backlinks (our dead pages that live links point to)",
    ]
    assert "Lost links by referring domain" in titles and titles[-1] == "Next:"
    site_words = (
        "Site crawl",
        "Broken links",
        "Broken resources",
        "redirect",
        "Redirect",
        "Soft 404",
        "Orphan",
    )
    assert not [t for t in titles if any(word in t for word in site_words)], titles
    summary = result.stdout.split("Summary\n")[1].split("\n\n")[0]
    assert "backlinks" in summary and "HTML pages" not in summary and "orphans" not in summary
    assert result.stdout.split("Next:\n")[1].startswith("  - Broken backlinks: linkrot suggest")
    data = json.loads(run("report", "--db", str(path), "--format", "json").stdout)
    assert (data["site_crawled"], data["backlinks_checked"]) == (False, True)
    assert data["broken_links"] == data["redirecting_links"] == data["soft_404s"] == []
    page = run("report", "--db", str(path), "--format", "html").stdout
    assert re.findall(r"<h2>([^<]*)</h2>", page) == [
        *titles[:-1],
        "Next",
    ]


def test_report_json_shape(db):
    result = run("report", "--db", db, "--format", "json", "--top", "1")
    data = json.loads(result.stdout)
    assert {
        "database",
        "runs",
        "totals",
        "verdicts",
        "triage",
        "site",
        "broken_backlinks",
        "broken_links",
        "redirect_chains",
        "lost_links_by_domain",
    } <= set(data)
    assert data["verdicts"] == {"nofollow": 1, "live": 3, "link_removed": 1}
    assert data["triage"] == {"reclaim": 2, "plumbing": 3}
    assert data["totals"]["broken_backlinks"] == 2 and data["totals"]["redirect_loops"] == 2
    top = data["broken_backlinks"]
    assert len(top) == 1 and top[0]["url"] == f"{S}/widgets/blue-widget-2019"
    assert top[0]["referring_domains"] == 2 and top[0]["best_authority"] == 55
    assert top[0]["suggested_target"] == f"{S}/widgets/blue-widget" and top[0]["confidence"] >= 0.25
    assert data["redirect_chains"][0]["hops"] == 2
    assert result.exit_code == 2


def test_report_html_escapes_every_stored_string(db):
    result = run("report", "--db", db, "--format", "html")
    page = result.stdout
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the anchor text, shown as text
    assert f'<a href="{S}/&lt;script&gt;alert(1)&lt;/script&gt;"' in page  # the URL too
    markdown = run("report", "--db", db, "--format", "markdown").stdout
    assert "<script" not in markdown and "| url | status |" in markdown


def test_report_exit_0_without_problems_and_a_hint_when_empty(tmp_path):
    clean = tmp_path / "clean.db"
    store = Store(clean)
    run_id = store.start_run("site", S + "/", {})
    store.write_results(run_id, [_page("/", "Home", found_via="start")])
    store.close()
    result = run("report", "--db", str(clean))
    assert result.exit_code == 0
    assert re.search(r"^  HTML pages .* 1$", result.stdout, re.MULTILINE)  # the report ran, and counted
    assert "Broken" not in result.stdout and "Next:" not in result.stdout  # nothing to fix, nothing said
    Store(tmp_path / "empty.db").close()
    for fmt in ("text", "html", "json"):
        empty = run("report", "--db", str(tmp_path / "empty.db"), "--format", fmt)
        assert empty.exit_code == 0 and "No crawl in this database yet" in empty.stdout


# -- suggest, mark, disavow ------------------------------------------------------------------


def test_suggest_prints_and_flags_the_home_fallback(db, tmp_path):
    result = run("suggest", "--db", db)
    assert result.exit_code == 2
    first, second = result.stdout.splitlines()
    assert (
        first.startswith(f"{S}/widgets/blue-widget-2019 -> {S}/widgets/blue-widget  0.") and " auto " in first
    )
    assert second.startswith(f"{S}/careers/2017-internship -> {S}/ (home page)  0.05  auto  ")
    assert result.stderr.startswith("1 of 2 broken targets have no usable suggestion")
    overrides = tmp_path / "o.csv"
    overrides.write_text(f"from_url,to_url,note\n{S}/careers/2017-internship,{S}/about,jobs page retired\n")
    fixed = run("suggest", "--db", db, "--overrides", str(overrides))
    assert fixed.exit_code == 0
    assert f"{S}/careers/2017-internship -> {S}/about  1.00  override  jobs page retired" in fixed.stdout


def test_mark_then_disavow(db):
    empty = run("disavow", "--db", db)
    assert empty.exit_code == 0
    assert re.fullmatch(
        r"# linkrot disavow file, \d{4}-\d\d-\d\d\n# No domain is marked disavow yet: .*\n", empty.stdout
    )
    marked = run(
        "mark",
        "--db",
        db,
        "https://www.spam.co.uk/links",
        "farm.test",
        "--as",
        "disavow",
        "--comment",
        "paid links\nfrom the 2019 audit",
    )
    assert marked.exit_code == 0
    assert marked.stdout.splitlines() == ["marked spam.co.uk as disavow", "marked farm.test as disavow"]
    assert run("mark", "--db", db, "blog.friend.test", "--as", "watch").exit_code == 0
    lines = run("disavow", "--db", db).stdout.splitlines()
    assert lines[1:] == [
        "# paid links",
        "# from the 2019 audit",
        "domain:farm.test",
        "# paid links",
        "# from the 2019 audit",
        "domain:spam.co.uk",
    ]
    assert run("report", "--db", db, "--format", "json").stdout.count('"mark": "disavow"') == 1
    removed = run("mark", "--db", db, "--remove", "spam.co.uk", "farm.test")
    assert removed.stdout.splitlines() == ["unmarked spam.co.uk", "unmarked farm.test"]
    assert "domain:" not in run("disavow", "--db", db).stdout


def test_mark_bad_usage_exits_3(db):
    assert run("mark", "--db", db, "spam.test").exit_code == 3  # neither --as nor --remove
    assert run("mark", "--db", db, "spam.test", "--as", "disavow", "--remove").exit_code == 3
    assert run("mark", "--db", db, "--as", "disavow").exit_code == 3  # no domain
    bad = run("mark", "--db", db, "not a domain", "--as", "watch")
    assert bad.exit_code == 3 and "not a domain name" in bad.stderr


# -- errors, explore, the installed script, the docs ---------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["redirects", "--format", "csv"],
        ["report"],
        ["suggest"],
        ["disavow"],
        ["mark", "x.test", "--as", "ok"],
        ["explore", "--dry-run"],
    ],
)
def test_missing_database_is_one_line_and_never_created(tmp_path, command):
    path = tmp_path / "nope" / "linkrot.db"
    result = run(command[0], "--db", str(path), *command[1:])
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: no database at {path} (crawl first: scrapy crawl site -a url=..., or pass --db)\n"
    )
    assert not path.exists() and not path.parent.exists()


def test_a_file_that_is_no_database_is_one_line(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not sqlite at all " * 100)
    result = run("report", "--db", str(path))
    assert result.exit_code == 1
    assert (
        result.stderr.startswith(f"Error: {path} is not a linkrot database")
        and result.stderr.count("\n") == 1
    )
    other = tmp_path / "other.sqlite"  # another program's database: refused, and left as it was
    sqlite3.connect(other).execute("CREATE TABLE notes (body TEXT)").connection.commit()
    result = run("disavow", "--db", str(other))
    assert result.exit_code == 1 and "no linkrot tables" in result.stderr
    tables = sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("notes",)]


def test_unknown_command_or_option_exits_3(db):
    assert run("frobnicate").exit_code == 3
    assert run("report", "--db", db, "--bogus").exit_code == 3
    assert run("report", "--db", db, "--top", "0").exit_code == 3
    assert run("--version").stdout.startswith("linkrot, version ")


def test_explore_runs_datasette_read_only_on_every_database_given(db, tmp_path):
    result = run("explore", "--db", db, "--port", "9001", "--dry-run")
    assert result.exit_code == 0
    # no -m: linkrot's Datasette plugin applies the metadata to whatever names Datasette picks
    assert result.stdout.strip().endswith(
        f"-m datasette serve {db} --host 127.0.0.1 --port 9001 --setting sql_time_limit_ms 5000"
    )
    other = tmp_path / "example.com.db"
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(other)) as copy:
        source.backup(copy)  # a whole copy: the file alone may miss what is still in the WAL
    result = run("explore", str(other), "--db", db, "--open", "--dry-run")
    assert f"datasette serve {other} {db} --host" in result.stdout
    assert result.stdout.rstrip().endswith("--open")
    result = run("explore", "--db", str(tmp_path / "absent.db"), "--dry-run")
    assert result.exit_code == 1 and "no database at" in result.stderr


def test_explore_prints_metadata_keyed_by_the_names_datasette_gives(db, tmp_path):
    import yaml

    twin = tmp_path / "twin" / Path(db).name
    twin.parent.mkdir()
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(twin)) as copy:
        source.backup(copy)  # a whole copy: the file alone may miss what is still in the WAL
    result = run("explore", db, str(twin), "--metadata")
    assert result.exit_code == 0, result.stderr
    meta = yaml.safe_load(result.stdout)
    stem = Path(db).stem
    assert list(meta["databases"]) == [stem, f"{stem}_2"]
    assert meta["databases"][f"{stem}_2"]["queries"]["status_breakdown"]["sql"]
    boards = meta["plugins"]["datasette-dashboards"]
    assert {c["db"] for c in boards[f"{stem}_2"]["charts"].values() if "db" in c} == {f"{stem}_2"}


def test_the_installed_script_runs():
    script = Path(sys.executable).with_name("linkrot")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in cli.commands)


CLI_DOC = ROOT / "docs" / "cli.md"


def _command_section(name: str) -> str:
    """The `## linkrot NAME` section of docs/cli.md ("" when there is none)."""
    doc = CLI_DOC.read_text()
    heading = f"\n## linkrot {name}\n"
    if heading not in doc:
        return ""
    start = doc.index(heading)
    end = doc.find("\n## ", start + 1)
    return doc[start : end if end != -1 else len(doc)]


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_an_example_and_is_documented(name):
    help_text = run(name, "--help").stdout
    assert "Example:\n" in help_text, f"linkrot {name} --help has no Example: block"
    section = _command_section(name)
    assert section, f"docs/cli.md has no '## linkrot {name}' section"
    assert f"$ linkrot {name}" in section, f"docs/cli.md shows no example session of linkrot {name}"
    # every option a user can type is explained beside the command (--db is explained once, above)
    params = [p for p in cli.commands[name].params if isinstance(p, click.Option)]
    options = {opt for p in params for opt in p.opts + p.secondary_opts} - {"--db", "--help"}
    undocumented = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", section))
    assert not undocumented, f"docs/cli.md, linkrot {name}: options not documented: {undocumented}"


def test_the_documented_commands_and_exit_codes_exist():
    doc = CLI_DOC.read_text()
    assert set(re.findall(r"(?:`|\$ |## )linkrot ([a-z]+)", doc)) <= set(cli.commands)
    codes = {int(c) for c in re.findall(r"^\| (\d) \|", doc, re.MULTILINE)}
    assert codes == {cli_module.OK, cli_module.PROBLEMS, cli_module.ERROR, cli_module.USAGE}
    # the exit codes say what they mean, as the group's own help does
    assert re.search(r"^\| 2 \| problems found", doc, re.MULTILINE) and re.search(
        r"^\| 3 \| bad usage", doc, re.MULTILINE
    )
