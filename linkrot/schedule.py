"""Scheduled runs: Scrapyd has no scheduler, so cron (or a systemd timer) calls its ``schedule.json``.

Pure functions that write the cron line and the systemd units; ``linkrot
schedule`` prints them or installs the cron line.  Overlapping runs are
refused by the spiders themselves (``linkrot.lock``): a job that starts while
the previous one still writes the same database stops at once with an error.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

#: named cadences (the articles' practice: weekly checks, a monthly KPI review), as cron fields
EVERY = {
    "hourly": "17 * * * *",
    "daily": "23 5 * * *",
    "weekly": "23 5 * * 1",
    "monthly": "23 5 1 * *",
}
#: the same cadences as systemd calendar events
CALENDAR = {
    "hourly": "*-*-* *:17:00",
    "daily": "*-*-* 05:23:00",
    "weekly": "Mon *-*-* 05:23:00",
    "monthly": "*-*-01 05:23:00",
}


@dataclass(frozen=True)
class Job:
    spider: str
    every: str  # a name of EVERY, or five cron fields
    scrapyd: str = "http://127.0.0.1:6800"
    project: str = "linkrot"
    args: tuple[tuple[str, str], ...] = ()  # spider arguments (-a)
    settings: tuple[tuple[str, str], ...] = ()  # Scrapy settings (-s)

    @property
    def tag(self) -> str:
        """Names the line in a crontab: the same job installed again replaces it; another site adds one."""
        digest = hashlib.sha1(repr((self.args, self.settings)).encode()).hexdigest()[:8]
        return f"linkrot:{self.project}:{self.spider}:{digest}"

    def cron_fields(self) -> str:
        fields = EVERY.get(self.every, self.every)
        if len(fields.split()) != 5:
            raise ValueError(f"expected {', '.join(EVERY)} or five cron fields, got {self.every!r}")
        return fields

    def curl(self) -> list[str]:
        command = [
            "curl",
            "-fsS",
            "--max-time",
            "60",
            f"{self.scrapyd.rstrip('/')}/schedule.json",
            "-d",
            f"project={self.project}",
            "-d",
            f"spider={self.spider}",
        ]
        for name, value in self.args:
            command += ["-d", f"{name}={value}"]
        for name, value in self.settings:
            command += ["-d", f"setting={name}={value}"]
        return command


def cron_line(job: Job) -> str:
    """One crontab line; the trailing comment tags it so an install replaces, never duplicates, it."""
    # cron treats % as a newline: escape it inside the command
    command = shlex.join(job.curl()).replace("%", "\\%")
    return f"{job.cron_fields()} {command} >/dev/null  # {job.tag}"


def install(crontab: str, job: Job) -> str:
    """The crontab with this job's line added, or replacing the line it had (same tag)."""
    lines = [line for line in crontab.splitlines() if not line.rstrip().endswith(f"# {job.tag}")]
    lines.append(cron_line(job))
    return "\n".join(lines) + "\n"


def systemd_units(job: Job) -> dict[str, str]:
    """A oneshot service calling schedule.json and the timer that starts it."""
    name = f"linkrot-{job.spider}"
    calendar = CALENDAR.get(job.every)
    if calendar is None:
        raise ValueError(f"with --systemd, expected one of {', '.join(CALENDAR)}, got {job.every!r}")
    service = (
        "[Unit]\n"
        f"Description=Schedule linkrot's {job.spider} spider on Scrapyd\n"
        "Wants=network-online.target\nAfter=network-online.target\n\n"
        "[Service]\nType=oneshot\n"
        f"ExecStart={shlex.join(job.curl())}\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=Run linkrot's {job.spider} spider {job.every}\n\n"
        "[Timer]\n"
        f"OnCalendar={calendar}\nPersistent=true\nRandomizedDelaySec=10m\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    return {f"{name}.service": service, f"{name}.timer": timer}
