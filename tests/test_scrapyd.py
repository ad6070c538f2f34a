"""Deployment: scrapyd-deploy builds an egg a real Scrapyd on loopback accepts and runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlite_utils

from conftest import ROOT

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(base: str, endpoint: str, data: list[tuple[str, str]] | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(f"{base}/{endpoint}", data=body, timeout=30) as response:
        return json.load(response)


@pytest.fixture
def scrapyd(tmp_path):
    port = _free_port()
    (tmp_path / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {tmp_path / 'eggs'}\nlogs_dir = {tmp_path / 'logs'}\ndbs_dir = {tmp_path / 'dbs'}\n"
        "items_dir =\npoll_interval = 0.5\nmax_proc = 2\n"
    )
    log = open(tmp_path / "scrapyd.out", "w")
    proc = subprocess.Popen([str(BIN / "scrapyd")], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _call(base, "daemonstatus.json")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"scrapyd did not start: {(tmp_path / 'scrapyd.out').read_text()}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(10)
    log.close()


def test_deploy_schedule_and_read_rows(scrapyd, demo_server, tmp_path):
    # a deploy target for this Scrapyd, in the user's config rather than the project's scrapy.cfg
    config_home = tmp_path / "config"
    config_home.mkdir()
    (config_home / "scrapy.cfg").write_text(f"[deploy:test]\nurl = {scrapyd}/\nproject = linkrot\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "PATH": f"{BIN}:{os.environ['PATH']}"}
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "test", "-p", "linkrot", "--version", "r1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert '"status": "ok"' in deploy.stdout, deploy.stdout
    assert _call(scrapyd, "listspiders.json?project=linkrot")["spiders"] == ["backlinks", "site"]

    db = tmp_path / "scheduled.db"
    job = _call(
        scrapyd, "schedule.json",
        [
            ("project", "linkrot"), ("spider", "site"), ("url", f"{demo_server.origin}/"),
            ("setting", f"LINKROT_DB={db}"), ("setting", "LINKROT_PROGRESS_INTERVAL=0"),
        ],
    )
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 120
    while True:
        jobs = _call(scrapyd, "listjobs.json?project=linkrot")
        if any(j["id"] == job["jobid"] for j in jobs["finished"]):
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.5)
    rows = sqlite_utils.Database(db)
    assert rows["pages"].count > 20
    assert rows["broken_links"].count == 7
    run = next(rows.query("SELECT spider, state, args FROM runs"))
    assert run["spider"] == "site" and run["state"] == "finished"
    assert json.loads(run["args"])["url"] == f"{demo_server.origin}/"
