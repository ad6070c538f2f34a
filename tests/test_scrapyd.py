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


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("scrapyd")
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


@pytest.fixture(scope="module")
def deployed(scrapyd, tmp_path_factory):
    # a deploy target for this Scrapyd, in the user's config rather than the project's scrapy.cfg
    tmp_path = tmp_path_factory.mktemp("deploy")
    config_home = tmp_path / "config"
    config_home.mkdir()
    (config_home / "scrapy.cfg").write_text(f"[deploy:test]\nurl = {scrapyd}/\nproject = linkrot\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "PATH": f"{BIN}:{os.environ['PATH']}"}
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "test", "-p", "linkrot", "--version", "r1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert '"status": "ok"' in deploy.stdout, deploy.stdout
    assert _call(scrapyd, "listspiders.json?project=linkrot")["spiders"] == ["backlinks", "site"]
    return scrapyd


def _run(scrapyd: str, spider: str, *params: tuple[str, str]) -> dict:
    """Schedule a job and wait until Scrapyd says it finished."""
    job = _call(scrapyd, "schedule.json", [("project", "linkrot"), ("spider", spider), *params])
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 180
    while True:
        jobs = _call(scrapyd, "listjobs.json?project=linkrot")
        done = [j for j in jobs["finished"] if j["id"] == job["jobid"]]
        if done:
            return done[0]
        assert time.monotonic() < deadline, jobs
        time.sleep(0.5)


def _run_cron_line(scrapyd: str, options: list[str]) -> dict:
    """Run what the cron line of `linkrot schedule` would run: its curl command, against this Scrapyd."""
    import shlex

    from click.testing import CliRunner

    from linkrot.cli import cli

    printed = CliRunner().invoke(cli, ["schedule", "--scrapyd", scrapyd, *options])
    assert printed.exit_code == 0, printed.output
    command = shlex.split(printed.output.split(" ", 5)[5].split(" >/dev/null")[0].replace("\\%", "%"))
    assert command[0] == "curl" and command[4] == f"{scrapyd}/schedule.json"
    data = [tuple(command[i + 1].split("=", 1)) for i, arg in enumerate(command) if arg == "-d"]
    jobs_before = {j["id"] for j in _call(scrapyd, "listjobs.json?project=linkrot")["finished"]}
    job = _call(scrapyd, "schedule.json", data)
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 180
    while True:
        finished = [
            j for j in _call(scrapyd, "listjobs.json?project=linkrot")["finished"] if j["id"] == job["jobid"]
        ]
        if finished:
            assert job["jobid"] not in jobs_before
            return finished[0]
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_deploy_schedule_and_read_rows(deployed, demo_server, tmp_path):
    db = tmp_path / "scheduled.db"
    _run(
        deployed,
        "site",
        ("url", f"{demo_server.origin}/"),
        ("setting", f"LINKROT_DB={db}"),
        ("setting", "LINKROT_PROGRESS_INTERVAL=0"),
    )
    rows = sqlite_utils.Database(db)
    assert rows["pages"].count > 20
    assert rows["broken_links"].count == 9  # 7 links people follow, a missing stylesheet and photo
    run = next(rows.query("SELECT spider, state, args FROM runs"))
    assert run["spider"] == "site" and run["state"] == "finished"
    assert json.loads(run["args"])["url"] == f"{demo_server.origin}/"


def test_scheduled_backlink_checks_tell_a_confirmed_loss_from_noise(deployed, tmp_path):
    """The monitoring loop on Scrapyd: a web that changes between runs, and what backlink_changes says."""
    from demo.server import SiteServer

    root = tmp_path / "web"
    (root / "ref.test").mkdir(parents=True)
    (root / "www.ours.test").mkdir()
    (root / "www.ours.test" / "x.html").write_text("<html><body>ours</body></html>")
    with SiteServer(root) as server:
        target = f"http://www.ours.test:{server.port}/x.html"
        names = ("stays", "removed", "flipped", "flaky")
        for name in names:
            (root / "ref.test" / f"{name}.html").write_text(
                f'<html><body><a href="{target}">Acme</a></body></html>'
            )
        export = tmp_path / "export.csv"
        export.write_text(
            "source_url,target_url\n"
            + "".join(f"http://ref.test:{server.port}/{n}.html,{target}\n" for n in names)
        )
        db = tmp_path / "monitor.db"
        settings = [
            ("setting", f"LINKROT_DB={db}"),
            ("setting", "LINKROT_RESOLVE=*.test=127.0.0.1"),
            ("setting", "LINKROT_RENDER=never"),
            ("setting", "RETRY_TIMES=0"),
        ]
        # the first run the way cron starts it: the line `linkrot schedule` prints
        _run_cron_line(
            deployed,
            [
                "--spider",
                "backlinks",
                "-a",
                f"file={export}",
                *[a for _, v in settings for a in ("-s", v.removeprefix("setting="))],
            ],
        )

        (root / "ref.test" / "removed.html").write_text("<html><body>no link any more</body></html>")
        (root / "ref.test" / "flipped.html").write_text(
            f'<html><body><a rel="nofollow" href="{target}">Acme</a></body></html>'
        )
        server.routes["ref.test/flaky.html"] = {"status": 503, "body": "maintenance"}
        _run(deployed, "backlinks", *settings)
        db_rows = sqlite_utils.Database(db)
        runs = [r["id"] for r in db_rows.query("SELECT id FROM runs ORDER BY id")]

        def changes(run_id: int) -> set[tuple[str, str, int]]:
            sql = "SELECT source_url, change, confirmed FROM backlink_changes WHERE run_id = ?"
            return {
                (r["source_url"].rsplit("/", 1)[1], r["change"], r["confirmed"])
                for r in db_rows.query(sql, [run_id])
            }

        assert changes(runs[0]) == {(f"{n}.html", "new", 1) for n in names}
        assert changes(runs[1]) == {
            ("removed.html", "lost", 0),
            ("flipped.html", "nofollow", 1),
        }  # 503: no loss

        _run(deployed, "backlinks", *settings)  # the next check confirms the removal
        lost = list(db_rows.query("SELECT * FROM backlink_changes WHERE change = 'lost'"))
        assert len(lost) == 1 and lost[0]["confirmed"] == 1 and lost[0]["run_id"] == runs[1]
        assert lost[0]["source_url"].endswith("/removed.html")
        assert all(r["state"] == "finished" for r in db_rows.query("SELECT state FROM runs"))
