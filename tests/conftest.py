"""Shared fixtures: local web servers on 127.0.0.1 and a helper that runs real crawls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from demo.server import SiteServer

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "data" / "demo" / "site"
TEST_SITES = Path(__file__).resolve().parent / "sites"


@pytest.fixture(scope="session")
def demo_server():
    with SiteServer(DEMO_SITE) as server:
        yield server


@pytest.fixture(scope="session")
def vhost_server():
    """Many made-up hosts (``*.test``) served from tests/sites/<host>/; reach them with LINKROT_RESOLVE."""
    with SiteServer(TEST_SITES) as server:
        yield server


@dataclass
class Crawl:
    db: sqlite_utils.Database
    stats: dict[str, Any]
    run: dict[str, Any]
    log: str
    out: str = ""  # what the run printed on standard output (alerts)

    def rows(self, view: str, **where: Any) -> list[dict[str, Any]]:
        clause = " AND ".join(f"[{k}] = ?" for k in where) or "1"
        return list(self.db.query(f"SELECT * FROM [{view}] WHERE {clause}", list(where.values())))

    def one(self, view: str, **where: Any) -> dict[str, Any]:
        rows = self.rows(view, **where)
        assert len(rows) == 1, f"{view} {where}: {rows}"
        return rows[0]


def log_problems(log: str) -> dict[str, list[str]]:
    """The WARNING, ERROR and CRITICAL lines of a crawl's log, and its tracebacks."""
    lines = log.splitlines()
    found: dict[str, list[str]] = {
        level: [line for line in lines if f"] {level}:" in line] for level in ("WARNING", "ERROR", "CRITICAL")
    }
    found["Traceback"] = [line for line in lines if line.startswith("Traceback")]
    return found


def run_scrapy(args: list[str], *, cwd: Path = ROOT, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def crawl(db_path: Path, url: str, *args: str, spider: str = "site", **settings: Any) -> Crawl:
    """Run ``scrapy crawl`` in a subprocess (a Twisted reactor cannot restart) and open its database."""
    command = [
        "crawl",
        spider,
        "-a",
        f"url={url}",
        "-s",
        f"LINKROT_DB={db_path}",
        "-s",
        "LINKROT_PROGRESS_INTERVAL=0",
    ]
    for arg in args:
        command += ["-a", arg]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    proc = run_scrapy(command)
    assert proc.returncode == 0, proc.stderr[-5000:]
    db = sqlite_utils.Database(db_path)
    run = list(db.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1"))[0]
    return Crawl(db, json.loads(run["stats"]), run, proc.stderr)


@pytest.fixture(scope="session")
def demo_crawl(demo_server, tmp_path_factory) -> Crawl:
    """One crawl of the bundled demo site, shared by the tests that read its views."""
    return crawl(tmp_path_factory.mktemp("demo") / "linkrot.db", f"{demo_server.origin}/")


BACKLINKS_WEB = Path(__file__).resolve().parent / "web"


@pytest.fixture(scope="session")
def backlinks_web():
    """The referring pages of the backlink tests and our own site (``www.ours.test``), all ``*.test`` hosts."""
    with SiteServer(BACKLINKS_WEB) as server:
        yield server


def check_backlinks(db_path: Path, *args: str, **settings: Any) -> Crawl:
    """Run ``scrapy crawl backlinks`` with ``-a`` arguments and open its database."""
    command = ["crawl", "backlinks", "-s", f"LINKROT_DB={db_path}", "-s", "LINKROT_PROGRESS_INTERVAL=0"]
    for arg in args:
        command += ["-a", arg]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    proc = run_scrapy(command, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    db = sqlite_utils.Database(db_path)
    run = list(db.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1"))[0]
    return Crawl(db, json.loads(run["stats"]), run, proc.stderr, proc.stdout)
