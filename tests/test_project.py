"""The project as users run it: installed layout, the demo command, progress output, docs."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, crawl, run_scrapy

from linkrot import settings


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


def test_demo_command_crawls_and_summarizes(tmp_path):
    db = tmp_path / "demo.db"
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "7 broken links" in out and "1 soft 404s" in out and "1 orphans" in out
    assert "redirect_loop" in out and "orphan-offer.html" in out
    assert f"datasette {db}" in out


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
