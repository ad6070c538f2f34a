"""Benchmark big crawls: memory and speed as the site grows, and two workers sharing one crawl.

``.venv/bin/python bench/scale.py --pages 20000,100000 --two-workers 20000`` crawls the generated
site (``bench/gensite.py``, served by nginx on loopback) once per size with one process and prints
wall time, pages/s and peak RSS; then crawls the ``--two-workers`` size with one process and with
two workers sharing the crawl through a ``redis-server`` it starts on loopback, side by side, and
prints the pages/s ratio, whether the contract views are identical, and, from nginx's access log,
how many URLs were fetched more than once.  It prints figures and fails on nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nginx
from measure import measure, table
from run import OUT, ROOT, crawl_command, ensure_site

VIEWS = {
    "pages": "url, status, final_url, hops",
    "broken_links": "source_url, url, status",
    "redirect_chains": "url, hops, final_url, final_status, is_loop",
}


def fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def command(url: str, db: Path, extra: list[str]) -> list[str]:
    return crawl_command(url, db, ["LINKROT_PROGRESS_INTERVAL=30", *extra])


def pages_of(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM pages WHERE outcome = 'ok' AND hops = 0").fetchone()[0]


def views(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {v: conn.execute(f"SELECT {c} FROM {v} ORDER BY {c}").fetchall() for v, c in VIEWS.items()}


def one(
    url: str, name: str, extra: list[str], env: dict, db: Path | None = None, timeout: float = 7200
) -> dict:
    """One crawl, measured; ``db``: a database shared with other workers (made fresh by the caller)."""
    if db is None:
        db = OUT / f"{name}.db"
        fresh(db)
    m = measure(command(url, db, extra), ROOT, OUT / f"{name}.log", OUT / f"{name}.out", timeout, env=env)
    pages = pages_of(db) if m.returncode == 0 else 0
    return {
        "run": name,
        "exit": m.returncode,
        "wall": m.wall,
        "cpu": m.cpu,
        "rss": m.peak_rss,
        "pages": pages,
        "db": db,
    }


def row(r: dict) -> dict[str, str]:
    return {
        "run": r["run"],
        "exit": str(r["exit"]),
        "pages": str(r["pages"]),
        "wall s": f"{r['wall']:.1f}",
        "cpu s": f"{r['cpu']:.1f}",
        "pages/s": f"{r['pages'] / r['wall']:.0f}",
        "peak RSS MiB": f"{r['rss'] / 2**20:.0f}",
    }


def start_redis() -> tuple[subprocess.Popen, str]:
    port = nginx.free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    nginx.wait_for_port(port, proc)
    return proc, f"redis://127.0.0.1:{port}/0"


def fetched(log: Path) -> Counter:
    """GETs per URI in nginx's log (robots.txt, sitemaps and the 404 probe are once per worker: left out)."""
    counts: Counter = Counter()
    for line in log.read_text().splitlines():
        method, uri, _ = line.split(" ", 2)
        if method == "GET" and not uri.startswith(("/robots.txt", "/linkrot-probe", "/sitemap")):
            counts[uri] += 1
    return counts


def reopen(log: Path) -> None:
    """Empty nginx's access log and have nginx reopen it (SIGUSR1)."""
    log.write_text("")
    os.kill(int((OUT / "nginx" / "nginx.pid").read_text()), 10)
    time.sleep(0.5)


def two_workers(pages: int, extra: list[str], env: dict, rounds: int = 1) -> None:
    """One process, then two workers sharing the crawl, ``rounds`` times in turn (this VM's pace
    varies by ±15 % from minute to minute: compare each pair, and the median of the ratios)."""
    site, _ = ensure_site(pages)
    log = OUT / "nginx-access.log"
    results, ratios, checks = [], [], []
    redis, redis_url = start_redis()
    try:
        log.unlink(missing_ok=True)
        with nginx.serve(site, OUT / "nginx", access_log=log) as port:
            url = f"http://127.0.0.1:{port}/"
            for n in range(1, rounds + 1):
                reopen(log)
                alone = one(url, f"scale-{pages}-1w", extra, env)
                alone_fetched = fetched(log)
                reopen(log)
                shared = [*extra, f"LINKROT_REDIS_URL={redis_url}", "LINKROT_WORKERS=2"]
                shared_db = OUT / "scale-2w.db"
                fresh(shared_db)
                # both workers under one parent, measured once: a measurer reads /proc 20 times a second,
                # which costs CPU that two of them would take from the workers (the one-process run has one)
                workers = " ".join(
                    f"{shlex.join(command(url, shared_db, shared))} 2>{shlex.quote(str(OUT / f'scale-{pages}-2w-{w}.log'))} &"
                    for w in (1, 2)
                )
                both = [
                    "bash",
                    "-c",
                    f"{workers} rc=0; for p in $(jobs -p); do wait $p || rc=1; done; exit $rc",
                ]
                m = measure(
                    both, ROOT, OUT / f"scale-{pages}-2w.log", OUT / f"scale-{pages}-2w.out", 7200, env=env
                )
                two = {
                    "run": f"scale-{pages}-2w",
                    "exit": m.returncode,
                    "wall": m.wall,
                    "cpu": m.cpu,
                    "rss": m.peak_rss,
                    "pages": pages_of(shared_db),
                }
                for r in (alone, two):
                    results.append({**r, "run": f"{r['run']} #{n}" if rounds > 1 else r["run"]})
                ratios.append((two["pages"] / two["wall"]) / (alone["pages"] / alone["wall"]))
                twice = fetched(log)
                checks.append(
                    (
                        views(shared_db) == views(alone["db"]),
                        len(twice),
                        len(alone_fetched),
                        sum(n > alone_fetched.get(u, 0) for u, n in twice.items()),
                        sum(n > 1 for n in twice.values()),
                        sum(n > 1 for n in alone_fetched.values()),
                    )
                )
    finally:
        redis.terminate()
        redis.wait()
    print(f"\n{pages} pages: one process vs two workers sharing the crawl through Redis\n")
    print(table([row(r) for r in results]))
    print(f"\npages/s ratio, two workers / one: {', '.join(f'{r:.2f}' for r in ratios)}", end="")
    print(f" (median {statistics.median(ratios):.2f})" if rounds > 1 else "")
    for n, (same, urls, urls_alone, more, twice, twice_alone) in enumerate(checks, 1):
        print(
            (f"round {n}: " if rounds > 1 else "")
            + f"views identical (pages, broken_links, redirect_chains): {same}; URLs fetched: {urls} (one process: "
            f"{urls_alone}); fetched more often than by one process: {more}; fetched more than once by the two "
            f"workers: {twice} (one process: {twice_alone}: the last hops of redirect chains)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="20000,100000", help="comma-separated site sizes, one crawl each")
    parser.add_argument(
        "--two-workers", type=int, default=0, metavar="PAGES", help="compare 1 and 2 workers on this size"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, metavar="N", help="--two-workers: N pairs in turn, and their median"
    )
    parser.add_argument(
        "--timeout", type=float, default=14400, help="seconds a crawl may take (default 14400)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="extra -s setting")
    args = parser.parse_args()
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [int(p) for p in args.pages.split(",") if p.strip()]
    results = []
    for pages in sizes:
        site, _ = ensure_site(pages)
        with nginx.serve(site, OUT / "nginx") as port:
            results.append(
                one(f"http://127.0.0.1:{port}/", f"scale-{pages}", args.set, env, timeout=args.timeout)
            )
        print(table([row(r) for r in results]), flush=True)
    a, b = (
        min(results, key=lambda r: r["pages"], default=None),
        max(results, key=lambda r: r["pages"], default=None),
    )
    if a is not None and b["pages"] > a["pages"]:  # sizes in any order (20000,100000,20000: back to back)
        slope = (b["rss"] - a["rss"]) / (b["pages"] - a["pages"])
        print(f"\npeak RSS grows {slope:.0f} bytes per page between {a['pages']} and {b['pages']} pages")
    if args.two_workers:
        if shutil.which("redis-server") is None:
            print("two workers: redis-server is not installed (apt-get install redis-server)")
            return
        two_workers(args.two_workers, args.set, env, args.rounds)


if __name__ == "__main__":
    main()
