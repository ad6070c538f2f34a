"""The project as users run it: installed layout, the demo command, progress output, docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import sqlite_utils
from conftest import ROOT, crawl, run_scrapy

from linkrot import settings
from linkrot.auth import LOGIN_ENV
from linkrot.render import find_chromium
from linkrot.status import Status, Verdict, fetch_verdict
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
    # besides them: linkrot and its own subpackages (directories under linkrot/)
    own = {"linkrot"} | {f"linkrot.{p.parent.name}" for p in (ROOT / "linkrot").glob("*/__init__.py")}
    assert used | own == declared
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
    assert "7 broken links, 2 broken resources" in out and "1 soft 404s" in out and "1 orphans" in out
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


DOCS = ROOT / "docs"


def _tables(path: Path) -> list[tuple[list[str], list[list[str]]]]:
    """The markdown tables of a page: (header cells, rows of cells)."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    current: list[list[str]] = []
    for line in [*path.read_text().splitlines(), ""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(current) > 2 and set("".join(current[1])) <= set("-: "):
            tables.append((current[0], current[2:]))
        current = []
    return tables


def _code(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _documented_default(cell: str) -> str:
    return "" if cell == "empty" else cell.strip("`")


def _same(documented: str, value: object) -> bool:
    if isinstance(value, bool):
        return documented == str(value)
    if isinstance(value, (int, float)):
        try:
            return float(documented.replace(",", "")) == float(value)
        except ValueError:
            return False
    return documented == value


def test_every_setting_is_documented_with_its_default():
    page = DOCS / "settings.md"
    documented = {
        _code(row[0])[0]: _documented_default(row[1])
        for header, rows in _tables(page)
        if header[:2] == ["setting", "default"]
        for row in rows
    }
    names = [name for name in dir(settings) if name.startswith("LINKROT_")]
    assert names
    missing = [name for name in names if name not in documented]
    assert not missing, f"settings missing from docs/settings.md: {missing}"
    wrong = {
        name: (doc, getattr(settings, name))
        for name, doc in documented.items()
        if not _same(doc, getattr(settings, name, None))
    }
    assert not wrong, f"docs/settings.md documents other defaults than linkrot/settings.py: {wrong}"
    # Scrapy's own knobs that linkrot sets are listed beside them, so nobody wonders where a value comes from
    text = page.read_text()
    scrapy_names = [n for n in dir(settings) if n.isupper() and not n.startswith(("LINKROT_", "_"))]
    unlisted = [n for n in scrapy_names if f"`{n}`" not in text]
    assert not unlisted, f"Scrapy settings linkrot sets, missing from docs/settings.md: {unlisted}"


def test_no_documented_setting_is_made_up():
    names = set()
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        names |= set(re.findall(r"\bLINKROT_[A-Z0-9_]+\b(?!\*)", page.read_text()))
    assert names
    environment = set(LOGIN_ENV.values())  # read from the environment, not settings (linkrot.auth)
    made_up = sorted(n for n in names if not hasattr(settings, n) and n not in environment)
    assert not made_up, f"the docs name settings linkrot does not have: {made_up}"


def test_every_status_and_verdict_is_documented():
    tables = {tuple(header): rows for header, rows in _tables(DOCS / "statuses.md")}
    statuses = {_code(row[0])[0]: row[2] for row in tables[("status", "meaning", "broken?")]}
    assert set(statuses) == {s.value for s in Status}
    for value, broken in statuses.items():
        status = Status(value)
        expected = "yes (transient)" if status.is_transient else "yes" if status.is_error else "no"
        assert broken == expected, f"docs/statuses.md: {value} broken? {broken!r}; the code: {expected!r}"
    verdicts = tables[("#", "verdict", "when", "a loss?")]
    order = [_code(row[1])[0] for row in verdicts]
    assert order == [v.value for v in Verdict], "docs/statuses.md: verdicts out of precedence order"
    for row in verdicts:
        assert row[3].startswith("no: noise") == Verdict(_code(row[1])[0]).is_transient, row
    # the table of how a fetch becomes a verdict says what fetch_verdict does
    covered: set[str] = set()
    for row in tables[("fetch status", "verdict")]:
        code = 204 if "204" in row[0] else 200
        said = Verdict(_code(row[1])[0]) if _code(row[1]) else None
        for value in _code(row[0]):
            covered.add(value)
            assert fetch_verdict(Status(value), code) == said, row
    assert covered == {s.value for s in Status}


def _store_schema(tmp_path: Path) -> dict[str, dict[str, list[str]]]:
    Store(tmp_path / "linkrot.db").close()  # created and migrated; the store has no raw-SQL door
    db = sqlite_utils.Database(tmp_path / "linkrot.db")
    schema: dict[str, dict[str, list[str]]] = {"table": {}, "view": {}}
    for kind, name in db.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
    ).fetchall():
        schema[kind][name] = [r[1] for r in db.execute(f"PRAGMA table_info([{name}])").fetchall()]
    db.close()
    return schema


def test_every_table_and_view_is_documented_with_its_columns(tmp_path):
    schema = _store_schema(tmp_path)
    views: dict[str, list[str]] = {}
    tables: set[str] = set()
    for header, rows in _tables(DOCS / "database.md"):
        if header == ["view", "one row per", "columns"]:
            for row in rows:
                views[_code(row[0])[0]] = [c for c in _code(row[2]) if re.fullmatch(r"[a-z0-9_]+", c)]
        elif header == ["table", "holds"]:
            tables |= {_code(row[0])[0] for row in rows}
    assert tables == set(schema["table"]), "docs/database.md lists other tables than the schema has"
    assert set(views) == set(schema["view"]), "docs/database.md lists other views than the schema has"
    for name, columns in views.items():  # in any order: a user selects columns by name
        actual = schema["view"][name]
        undocumented, unknown = sorted(set(actual) - set(columns)), sorted(set(columns) - set(actual))
        assert not undocumented and not unknown, f"docs/database.md, {name}: {undocumented=} {unknown=}"


def test_readme_is_short_and_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 160, "README.md is the front door: move detail to docs/"
    first_block = re.search(r"```\w*\n(.*?)```", readme, re.S)
    assert first_block and first_block.start() < readme.index("\n## "), "the two commands come first"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "exec make test" in (ROOT / ".ci" / "run").read_text()  # CI runs exactly the README's command


def _slugs(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a page."""
    seen: dict[str, int] = {}
    slugs = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", _prose(page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        slugs.add(slug if n == 0 else f"{slug}-{n}")
    return slugs


def _prose(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_every_relative_link_in_the_docs_resolves():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: {target}"
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"broken link {where}"
            if anchor and resolved.suffix == ".md":
                assert anchor in _slugs(resolved), f"no heading for the anchor of {where}"
            checked += 1
    assert checked > 20
