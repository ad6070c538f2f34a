"""`linkrot schedule`: the cron line and systemd units that run spiders on Scrapyd."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from linkrot.cli import cli
from linkrot.schedule import Job, cron_line, install


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["schedule", *args], env=env)


def test_cron_line_calls_schedule_json():
    result = run(
        "--spider",
        "backlinks",
        "--every",
        "weekly",
        "-a",
        "file=/srv/ahrefs 100%.csv",
        "-s",
        "LINKROT_DB=/var/lib/linkrot/linkrot.db",
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("23 5 * * 1 curl -fsS --max-time 60 http://127.0.0.1:6800/schedule.json ")
    assert "-d project=linkrot -d spider=backlinks" in line
    assert "'file=/srv/ahrefs 100\\%.csv'" in line  # quoted for the shell, % escaped for cron
    assert "-d setting=LINKROT_DB=/var/lib/linkrot/linkrot.db" in line
    assert line.endswith(
        "# linkrot:linkrot:backlinks:"
        + Job(
            "backlinks",
            "weekly",
            args=(("file", "/srv/ahrefs 100%.csv"),),
            settings=(("LINKROT_DB", "/var/lib/linkrot/linkrot.db"),),
        ).tag.rsplit(":", 1)[1]
    )


def test_cron_fields_and_bad_cadence():
    assert run("--spider", "site", "--every", "0 3 * * *", "-a", "url=https://x.test/").output.startswith(
        "0 3 * * * "
    )
    bad = run("--spider", "site", "--every", "fortnightly")
    assert bad.exit_code == 3 and "expected hourly, daily, weekly, monthly or five cron fields" in bad.output
    assert run("--spider", "site", "-a", "no-equals").exit_code == 3


def test_systemd_units():
    result = run("--spider", "site", "--every", "daily", "--systemd", "-a", "url=https://x.test/")
    assert "# linkrot-site.service" in result.output and "# linkrot-site.timer" in result.output
    assert "OnCalendar=*-*-* 05:23:00" in result.output and "Persistent=true" in result.output
    assert "ExecStart=curl -fsS" in result.output


def test_install_replaces_its_own_line_and_keeps_the_others(tmp_path):
    # a fake crontab(1) keeping the table in a file
    table = tmp_path / "table"
    table.write_text("0 1 * * * backup.sh\n")
    fake = tmp_path / "crontab"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"path = {str(table)!r}\n"
        "if sys.argv[1] == '-l':\n    sys.stdout.write(open(path).read())\n"
        "else:\n    open(path, 'w').write(sys.stdin.read())\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    for every in ("weekly", "daily"):
        result = run("--spider", "backlinks", "--every", every, "--install", env=env)
        assert result.exit_code == 0 and result.output.startswith("installed: ")
    lines = table.read_text().splitlines()
    assert lines[0] == "0 1 * * * backup.sh" and len(lines) == 2 and lines[1].startswith("23 5 * * * curl")
    other = run("--spider", "site", "-a", "url=https://other.test/", "--install", env=env)
    assert other.exit_code == 0 and len(table.read_text().splitlines()) == 3  # another job, another line


def test_install_is_pure():
    job = Job("site", "daily", args=(("url", "https://a.test/"),))
    once = install("", job)
    assert install(once, job) == once
    assert cron_line(job) in once


def test_help_has_an_example():
    assert "Example:" in run("--help").output
    assert (
        subprocess.run(
            [str(Path(sys.executable).parent / "linkrot"), "schedule", "--help"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
