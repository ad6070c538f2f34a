"""The project as users run it: installed layout, the demo command, progress output, docs."""

from __future__ import annotations

import re
import subprocess
import sys

import sqlite_utils
from conftest import ROOT, crawl, run_scrapy

from linkrot import settings
from linkrot.render import find_chromium
from linkrot.store import Store


def test_spiders_load_from_the_installed_package_outside_the_repo(tmp_path):
    proc = run_scrapy(["list"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["backlinks", "site"]


def test_settings_packages_and_pyproject_agree():
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"^packages = \[(.*)\]", pyproject, re.M).group(1)
    declared = {p.strip().strip('"') for p in packages.split(",")}
    used = set(settings.SPIDER_MODULES) | {p.rsplit(".", 2)[0] for p in settings.ITEM_PIPELINES}
    assert used == {"linkrot.spiders", "linkrot.pipelines"}
    assert used | {"linkrot"} == declared
    # nothing named `spiders` or `pipelines` lands at the top of site-packages
    assert not {p for p in declared if "." not in p} - {"linkrot"}
    assert 'settings = "linkrot.settings"' in pyproject  # the entry point Scrapyd needs


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def verdicts(out: str) -> dict[tuple[str, str], str]:
    """(referring page, our path) -> verdict, from the demo's lines ``verdict  host/path -> /path``."""
    pairs = re.findall(r"^  ([a-z_]+) +(\S+\.test/\S*) -> (/\S*)", out, re.MULTILINE)
    return {(source, target): verdict for verdict, source, target in pairs}


def test_demo_command_crawls_and_summarizes(tmp_path):
    db = tmp_path / "demo.db"
    proc = run_demo("--db", str(db))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "7 broken links" in out and "1 soft 404s" in out and "1 orphans" in out
    assert "redirect_loop" in out and "orphan-offer.html" in out
    assert f"datasette {db}" in out
    # the backlinks of the bundled export: one of each verdict it was made for
    found = verdicts(out)
    assert found[("techblog.test/reviews/best-widgets-2026.html", "/products/widget.html")] == "live"
    assert found[("makers-forum.test/t/widget-owners/42.html", "/products/widget.html")] == "link_removed"
    assert found[("homeworkshop.test/2025/handmade-widgets.html", "/about.html")] == "nofollow"
    assert found[("oldblog.test/2019/spring-picks.html", "/products/widget.html")] == "not_found"  # 410
    assert found[("webdev-weekly.test/issue-98.html", "/blog/")] == "not_found"  # 404
    js_link = found[("giftguide.test/gift-ideas.html", "/products/widget-pro.html")]
    if find_chromium(None):
        assert js_link == "live" and "after rendering with Chromium" in out
    else:
        assert js_link == "link_removed" and "LINKROT_RENDER=never" in out
    # live links to our dead pages, told apart from live links to live pages
    assert len(re.findall(r"^  live .* \(our page answers 404\)$", out, re.MULTILINE)) == 4
    assert "3 links lost since the export, 3 of them pending" in out
    assert "nofollow flip: homeworkshop.test/2025/handmade-widgets.html" in out
    # the repair: broken backlinks ranked by referring domains then authority, each with a redirect
    ranked = re.findall(
        r"^  (\d)\. www\.demo\.test(\S+) .*\n +redirect to www\.demo\.test(\S+)", out, re.MULTILINE
    )
    assert ranked == [
        ("1", "/products/widget-classic.html", "/products/widget.html"),
        ("2", "/blog/how-to-fix-404-errors.html", "/blog/fixing-404-errors.html"),
        ("3", "/team-2019.html", "/team.html"),
    ]
    assert "2 referring domains, 2 backlinks, best authority 62" in out
    assert "map $request_uri $linkrot_redirect {" in out
    assert '"/products/widget-classic.html" "/products/widget.html";' in out
    assert '"/summer-sale" "/products/widget-pro.html";' in out  # our own chain, collapsed
    # what it printed is what the database holds, and the HTML report is written beside it
    rows = sqlite_utils.Database(db).query("SELECT status, count(*) AS n FROM backlink_status GROUP BY 1")
    counts = {r["status"]: r["n"] for r in rows}
    assert counts["not_found"] == 2 and counts["nofollow"] == 1
    assert counts["live"] + counts["link_removed"] == 7
    report = (tmp_path / "demo-report.html").read_text()
    assert "widget-classic.html" in report and "<table>" in report


def test_demo_without_chromium_says_so_and_carries_on(tmp_path):
    proc = run_demo("--db", str(tmp_path / "demo.db"), "--no-render")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "LINKROT_RENDER=never" in line]
    # one line says why, the command shows the setting
    assert len(lines) == 2 and lines[0].startswith("--no-render: checking without a browser")
    js_link = verdicts(proc.stdout)[("giftguide.test/gift-ideas.html", "/products/widget-pro.html")]
    assert js_link == "link_removed"
    assert '"/team-2019.html" "/team.html";' in proc.stdout


def test_demo_never_replaces_a_database_of_other_sites(tmp_path):
    db = tmp_path / "linkrot.db"
    store = Store(db)
    store.start_run("site", "https://www.example.com/", {})
    store.close()
    proc = run_demo("--db", str(db))
    assert proc.returncode == 1
    assert "holds runs of other sites" in proc.stderr
    assert [r["site"] for r in sqlite_utils.Database(db).query("SELECT site FROM runs")] == [
        "https://www.example.com/"
    ]


def test_progress_is_logged_while_crawling(vhost_server, tmp_path):
    result = crawl(
        tmp_path / "x.db",
        f"http://errors.test:{vhost_server.port}/",
        "max_depth=1",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        DOWNLOAD_TIMEOUT=3,
        LINKROT_PROGRESS_INTERVAL=0.5,
    )
    lines = [line for line in result.log.splitlines() if "linkrot progress:" in line]
    assert lines, result.log[-2000:]
    assert re.search(
        r"\d+ pages, \d+ external \(\d+/s now, \d+/s overall\), \d+ broken, \d+ redirecting", lines[-1]
    )


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    names = [name for name in dir(settings) if name.startswith("LINKROT_")]
    assert names
    missing = [name for name in names if f"`{name}`" not in readme]
    assert not missing, f"settings missing from the README: {missing}"
