"""Run a command and measure it: wall time, CPU time and peak RSS of its whole process tree.

Shared by ``run.py`` (peer link checkers) and ``backlinks.py`` (the backlinks
spider, whose tree includes Playwright's driver and Chromium).  ``/proc`` is
read every :data:`POLL` seconds; descendants are found by parentage, so a
process that starts its own session (Chromium does) still counts while its
parent lives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLL = 0.05
LINGER = 5.0  # seconds to wait for descendants still running when the process exits


@dataclass
class Measure:
    returncode: int | None = None
    wall: float = 0.0
    cpu: float = 0.0  # user + system of the process and the descendants it waited for
    peak_rss: int = 0  # bytes, summed over the process tree
    timed_out: bool = False
    # per group of processes (by default their name, the kernel's comm: "scrapy", "chromium", ...):
    peak_rss_by_name: dict[str, int] = field(
        default_factory=dict
    )  # largest sum of RSS of the group's processes
    cpu_by_name: dict[str, float] = field(
        default_factory=dict
    )  # user + system as last read from /proc, summed
    leftover: list[int] = field(default_factory=list)  # descendants still alive LINGER s after it exited


@dataclass(slots=True)
class Proc:
    pid: int
    name: str
    rss: int  # bytes
    cpu: float  # user + system seconds so far
    exe: str = ""  # the executable's path (only read for the processes of a tree)


def processes() -> tuple[dict[int, list[int]], dict[int, Proc]]:
    """Every process of the machine: children by parent pid, and each one's name, RSS and CPU time."""
    children: dict[int, list[int]] = {}
    procs: dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                head, _, tail = f.read().rpartition(")")
        except OSError:
            continue
        fields = tail.split()
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        procs[pid] = Proc(
            pid,
            head.partition("(")[2],
            int(fields[21]) * PAGE_SIZE,
            (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        )
    return children, procs


def tree(root: int) -> list[Proc]:
    """``root`` and all its descendants."""
    children, procs = processes()
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in procs:
            try:
                procs[pid].exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                pass
            out.append(procs[pid])
        stack.extend(children.get(pid, ()))
    return out


def tree_rss(root: int) -> int:
    """Resident set size of ``root`` and all its descendants, in bytes."""
    return sum(p.rss for p in tree(root))


def measure(
    cmd: list[str],
    cwd: Path,
    log: Path,
    stdout: Path,
    timeout: float,
    env: dict | None = None,
    group: Callable[[Proc], str] = lambda p: p.name,
) -> Measure:
    """Run ``cmd`` to completion (or ``timeout``) and measure it; ``group`` names a process's group.

    The CPU time per group is read from ``/proc`` while the processes live, so a
    process loses up to :data:`POLL` s of CPU time between its last read and its end.
    """
    m = Measure()
    cpu_seen: dict[int, tuple[str, str, float]] = {}  # pid -> (name, group, CPU seconds at the last read)
    with open(stdout, "wb") as out, open(log, "wb") as err:
        start = time.monotonic()
        process = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, start_new_session=True, env=env)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            m.wall = time.monotonic() - start
            if pid:
                m.returncode = os.waitstatus_to_exitcode(status)
                m.cpu = usage.ru_utime + usage.ru_stime
                process.returncode = m.returncode  # reaped here, not by Popen
                break
            procs = tree(process.pid)
            m.peak_rss = max(m.peak_rss, sum(p.rss for p in procs))
            by_name: dict[str, int] = {}
            for p in procs:
                name = group(p)
                by_name[name] = by_name.get(name, 0) + p.rss
                cpu_seen[p.pid] = (p.name, name, p.cpu)
            for name, rss in by_name.items():
                m.peak_rss_by_name[name] = max(m.peak_rss_by_name.get(name, 0), rss)
            if m.wall > timeout and not m.timed_out:
                m.timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                for p in procs:  # descendants in sessions of their own (Chromium) too
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                    except OSError:
                        pass
            time.sleep(POLL)
    # descendants that outlive the process (Chromium shutting down, in a session of its own) are read
    # until they end, for their CPU time; those alive after LINGER s are reported
    deadline = time.monotonic() + LINGER
    while True:
        alive = processes()[1]
        left = [
            pid
            for pid, (name, _, _) in cpu_seen.items()
            if pid != process.pid and pid in alive and alive[pid].name == name
        ]
        for pid in left:
            name, grp, _ = cpu_seen[pid]
            cpu_seen[pid] = (name, grp, alive[pid].cpu)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    m.leftover = sorted(left)
    for _, grp, cpu in cpu_seen.values():
        m.cpu_by_name[grp] = m.cpu_by_name.get(grp, 0.0) + cpu
    return m


def table(rows: list[dict[str, str]]) -> str:
    """Right-aligned columns, as both benchmarks print their results."""
    headers = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headers]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(r[h].rjust(w) for h, w in zip(headers, widths)) for r in rows]
    return "\n".join(lines)
