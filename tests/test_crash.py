"""Crash safety: kill a run in the middle, run again: it resumes, every page / backlink has exactly one result."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, check_backlinks, crawl, log_problems

from demo.server import SiteServer

pytestmark = pytest.mark.slow
PAGES = 2500


def make_site(root: Path) -> None:
    """A site of PAGES pages: page i links to i+1, 2i, 3i and, every 50th page, to a missing one."""
    docs = root / "site.test"
    docs.mkdir(parents=True)
    for i in range(PAGES):
        links = [j for j in (i + 1, 2 * i, 3 * i) if 0 < j < PAGES]
        html = "".join(f'<a href="/p{j}.html">page {j}</a> ' for j in links)
        if i % 50 == 0:
            html += f'<a href="/missing-{i}.html">gone</a>'
        (docs / ("index.html" if i == 0 else f"p{i}.html")).write_text(
            f"<html><head><title>Page {i}</title></head><body><p>{'filler text ' * 40}</p>{html}</body></html>"
        )


def scrapy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scrapy", *args]


def start(command: list[str]) -> subprocess.Popen:
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_for_rows(db: Path, sql: str, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                    count = conn.execute(sql).fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= at_least:
                return count
        time.sleep(0.1)
    raise AssertionError(f"never reached {at_least} rows")


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture(scope="module")
def big_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("bigsite")
    make_site(root)
    with SiteServer(root) as server:
        yield server, f"http://site.test:{server.port}/"


def test_sigkill_mid_site_crawl_then_resume(big_site, tmp_path):
    server, url = big_site
    settings = [
        "-s",
        "LINKROT_RESOLVE=*.test=127.0.0.1",
        "-s",
        "LINKROT_PROGRESS_INTERVAL=0",
        "-s",
        "LINKROT_FLUSH_INTERVAL=0.2",
        "-s",
        "LINKROT_BATCH_SIZE=50",
        "-s",
        "LINKROT_MAX_PAGES=0",
        "-s",
        "LINKROT_DEFER_LINK_INDEX=100",  # killed without its index of links by target: the resume builds it
    ]
    db = tmp_path / "killed.db"
    proc = start(scrapy_command("crawl", "site", "-a", f"url={url}", "-s", f"LINKROT_DB={db}", *settings))
    try:
        done = wait_for_rows(db, "SELECT count(*) FROM urls", 600, proc)
        # Datasette reads the database while the crawl writes to it
        datasette_reads_while_writing(db)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert done < PAGES
    assert sqlite3.connect(db).execute("SELECT state FROM runs").fetchone()[0] == "running"
    assert integrity(db) == "ok"

    resumed = crawl(db, url, LINKROT_RESOLVE="*.test=127.0.0.1", LINKROT_MAX_PAGES=0)
    assert resumed.db["runs"].count == 1 and resumed.run["state"] == "finished"
    problems = log_problems(resumed.log)  # a resume is routine: nothing to warn about, no traceback
    assert not any(problems.values()), problems
    assert resumed.stats["linkrot/resume/done"] >= done
    assert "linkrot/link_index/seconds" in resumed.stats  # built before what is left was read from the links
    clean = crawl(tmp_path / "clean.db", url, LINKROT_RESOLVE="*.test=127.0.0.1", LINKROT_MAX_PAGES=0)
    sql = "SELECT url, status FROM pages ORDER BY url"
    assert list(resumed.db.query(sql)) == list(clean.db.query(sql))  # nothing lost
    assert resumed.db["pages"].count == PAGES + PAGES // 50  # nothing twice
    assert sorted(r["url"] for r in resumed.rows("broken_links")) == sorted(
        r["url"] for r in clean.rows("broken_links")
    )
    assert integrity(db) == "ok"


def datasette_reads_while_writing(db: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/{db.stem}/urls.json?_shape=array&_size=5", timeout=5
                ) as answer:
                    assert len(json.load(answer)) == 5
                return
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)


def test_ctrl_c_leaves_a_consistent_resumable_run(big_site, tmp_path):
    server, url = big_site
    db = tmp_path / "interrupted.db"
    proc = start(
        scrapy_command(
            "crawl",
            "site",
            "-a",
            f"url={url}",
            "-s",
            f"LINKROT_DB={db}",
            "-s",
            "LINKROT_RESOLVE=*.test=127.0.0.1",
            "-s",
            "LINKROT_MAX_PAGES=0",
            "-s",
            "LINKROT_FLUSH_INTERVAL=0.2",
        )
    )
    wait_for_rows(db, "SELECT count(*) FROM urls", 300, proc)
    proc.send_signal(signal.SIGINT)  # one Ctrl-C: Scrapy closes the spider cleanly
    assert proc.wait(60) == 0
    run = sqlite3.connect(db).execute("SELECT state, finish_reason FROM runs").fetchone()
    assert run == ("interrupted", "shutdown")
    assert integrity(db) == "ok"
    resumed = crawl(db, url, LINKROT_RESOLVE="*.test=127.0.0.1", LINKROT_MAX_PAGES=0)
    assert resumed.db["runs"].count == 1 and resumed.run["state"] == "finished"
    problems = log_problems(resumed.log)  # a resume is routine: nothing to warn about, no traceback
    assert not any(problems.values()), problems
    assert resumed.db["pages"].count == PAGES + PAGES // 50


def test_sigkill_mid_backlink_check_of_10000_then_resume(big_site, tmp_path):
    server, _ = big_site
    port = server.port
    export = tmp_path / "export.csv"
    rows = []
    for i in range(10_000):
        # every 10th referring page exists (and links to us), the rest answer 404
        source = (
            f"http://site.test:{port}/p{i // 4}.html"
            if i % 10 == 0
            else f"http://h{i % 100}.test:{port}/gone-{i}"
        )
        rows.append(f"{source},http://www.ours.test:{port}/target-{i % 7}.html")
    export.write_text("source_url,target_url\n" + "\n".join(rows) + "\n")
    db = tmp_path / "backlinks.db"
    command = scrapy_command(
        "crawl",
        "backlinks",
        "-a",
        f"file={export}",
        "-s",
        f"LINKROT_DB={db}",
        "-s",
        "LINKROT_RESOLVE=*.test=127.0.0.1",
        "-s",
        "LINKROT_RENDER=never",
        "-s",
        "LINKROT_FLUSH_INTERVAL=0.2",
        "-s",
        "LINKROT_BATCH_SIZE=100",
        "-s",
        "LINKROT_PROGRESS_INTERVAL=0",
    )
    proc = start(command)
    try:
        done = wait_for_rows(db, "SELECT count(*) FROM backlink_checks", 2000, proc, timeout=180)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert done < 10_000 and integrity(db) == "ok"
    resumed = check_backlinks(
        db, f"file={export}", LINKROT_RESOLVE="*.test=127.0.0.1", LINKROT_RENDER="never"
    )
    assert resumed.db["runs"].count == 1 and resumed.run["state"] == "finished"
    unique = resumed.db["backlinks"].count
    assert resumed.db["backlink_checks"].count == unique  # exactly one result per backlink
    assert resumed.db["backlink_events"].count == unique  # the history was applied once: one event each
    assert integrity(db) == "ok"
