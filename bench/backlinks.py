"""Benchmark the ``backlinks`` spider: checks/s, CPU, memory with Chromium, render choices, verdicts.

``.venv/bin/python bench/backlinks.py --pages 5000 --hosts 200 --js-share 0.10``
generates referring pages on many hosts, our target site and an export of the
backlinks (``bench/genlinks.py``, once per parameters), serves every host from
one nginx on loopback (``bench/nginx.py``, a document root per host name), runs
``scrapy crawl backlinks`` as a subprocess and prints wall and CPU time, peak
RSS of the whole process tree (Playwright's driver and Chromium included, and
Chromium's share), how many pages were rendered and whether those were the
pages that needed it, and how many verdicts match the known truth.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import genlinks
import nginx
from measure import Proc, measure, table

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DB = OUT / "backlinks.db"
SCRAPY = ROOT / ".venv" / "bin" / "scrapy"
VERDICTS = (
    "live",
    "nofollow",
    "link_removed",
    "not_found",
    "redirected",
    "noindex",
    "not_canonical",
    "blocked",
    "server_error",
    "domain_gone",
)


def process_group(p: Proc) -> str:
    """chromium (browser, zygotes, renderers, utilities), playwright (its node driver), or the process's name."""
    exe = os.path.basename(p.exe)
    if exe.startswith("chrom") or p.name.startswith("chrom"):
        return "chromium"
    if (exe == "node" and "playwright" in p.exe) or p.name.startswith("node"):
        return "playwright"
    return p.name


def ensure_links(pages: int, hosts: int, port: int, js_share: float) -> tuple[Path, dict]:
    site = OUT / f"links-{pages}"
    truth_file = site / "truth.json"
    params = {"pages": pages, "hosts": hosts, "port": port, "js_share": js_share}
    if not truth_file.exists() or json.loads(truth_file.read_text())["params"] != params:
        print(f"generating {pages} referring pages on {hosts} hosts in {site} ...", flush=True)
        genlinks.generate(pages, hosts, port, js_share, site)
    return site, json.loads(truth_file.read_text())


def command(export: Path, sets: list[str]) -> list[str]:
    """The crawl command, on a fresh database."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    settings = [f"LINKROT_DB={DB}", "LINKROT_RESOLVE=*.bench=127.0.0.1", "LINKROT_PROGRESS_INTERVAL=5", *sets]
    return [
        str(SCRAPY),
        "crawl",
        "backlinks",
        "-a",
        f"file={export}",
        *(a for s in settings for a in ("-s", s)),
    ]


def read_db() -> tuple[list[dict], dict, str | None]:
    """The rows of ``backlink_status``, and the stats and finish reason of the last run."""
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        rows = [
            dict(r)
            for r in db.execute(
                "SELECT source_url, target_url, status, rendered, link_found, target_status, reason FROM backlink_status"
            )
        ]
        run = db.execute("SELECT stats, finish_reason FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        stats = json.loads(run["stats"]) if run and run["stats"] else {}
        return rows, stats, run["finish_reason"] if run else None
    finally:
        db.close()


def normalizer():
    """linkrot's URL normalization (the store keeps sources normalized), or identity."""
    sys.path.insert(0, str(ROOT))
    try:
        from linkrot.urls import normalize_url
    except ImportError:
        return lambda url: url
    return lambda url: normalize_url(url) or url


def code_version() -> str:
    """The commit the spider ran from, and whether the core had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "spiders", "linkrot", "pipelines"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def score(rows: list[dict], truth: dict) -> dict:
    """Render choices and verdicts against the truth."""
    norm = normalizer()
    expected = {norm(url): t for url, t in truth["backlinks"].items()}
    checked = [r for r in rows if r["status"] is not None]
    unknown = [r["source_url"] for r in checked if r["source_url"] not in expected]
    got = {r["source_url"]: r for r in checked if r["source_url"] in expected}
    rendered = {url for url, r in got.items() if r["rendered"]}
    js = {url for url, t in expected.items() if t["js"]}
    per_verdict: dict[str, list[int]] = {}
    per_kind: dict[str, dict] = {}
    wrong: Counter[tuple[str, str, str]] = Counter()
    for url, t in expected.items():
        r = got.get(url)
        status = r["status"] if r else "unchecked"
        right = status == t["verdict"]
        v = per_verdict.setdefault(t["verdict"], [0, 0])
        v[0] += right
        v[1] += 1
        k = per_kind.setdefault(
            t["kind"], {"verdict": t["verdict"], "right": 0, "expected": 0, "rendered": 0}
        )
        k["right"] += right
        k["expected"] += 1
        k["rendered"] += url in rendered
        if not right:
            wrong[(t["kind"], t["verdict"], status)] += 1
    target_404 = {url for url, t in expected.items() if t["target_status"] == 404}
    target_404_seen = {url for url in target_404 if url in got and str(got[url]["target_status"]) == "404"}
    target_bad = [
        url
        for url, t in expected.items()
        if t["target_status"] == 200 and url in got and str(got[url]["target_status"]) != "200"
    ]
    return {
        "backlinks": len(expected),
        "checked": len(checked),
        "unknown_sources": unknown[:20],
        "verdicts": dict(Counter(r["status"] for r in checked)),
        "rendered": len(rendered),
        "needs_js": len(js),
        "false_renders": len(rendered - js),
        "false_renders_by_kind": dict(Counter(expected[u]["kind"] for u in rendered - js)),
        "missed_js": len(js - rendered),
        "per_verdict": {
            v: f"{right}/{n}" for v, (right, n) in sorted(per_verdict.items(), key=lambda x: -x[1][1])
        },
        "per_kind": dict(sorted(per_kind.items(), key=lambda x: -x[1]["expected"])),
        "wrong": [{"kind": k, "expected": e, "got": g, "count": n} for (k, e, g), n in wrong.most_common()],
        "target_404": f"{len(target_404_seen)}/{len(target_404)}",
        "target_200_misreported": len(target_bad),
    }


def log_tail(lines: int = 12) -> list[str]:
    """The last lines of the crawl's log, for a crawl that failed."""
    try:
        text = (OUT / "backlinks.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return ["    " + line for line in text.splitlines()[-lines:]]


def report(
    args: argparse.Namespace, port: int, m, s: dict, stats: dict, reason: str | None, version: str
) -> str:
    mib = 2**20
    lines = [
        f"{args.pages} backlinks from {args.pages} referring pages on {args.hosts} hosts, "
        f"js share {args.js_share}, nginx on 127.0.0.1:{port}"
        + (f", settings {' '.join(args.set)}" if args.set else "")
        + f"; linkrot at {version}",
        "",
    ]
    rendered_share = f"{100 * s['rendered'] / s['checked']:.1f} %" if s["checked"] else "-"
    perf = {
        "exit": "timeout" if m.timed_out else str(m.returncode),
        "finish": str(reason),
        "checked": f"{s['checked']}/{s['backlinks']}",
        "checks/s": f"{s['checked'] / m.wall:.1f}" if m.wall else "-",
        "wall s": f"{m.wall:.1f}",
        "cpu s": f"{sum(m.cpu_by_name.values()):.1f}",
        "peak RSS MiB": f"{m.peak_rss / mib:.0f}",
        "chromium MiB": f"{m.peak_rss_by_name.get('chromium', 0) / mib:.0f}",
        "rendered": f"{s['rendered']} ({rendered_share})",
        "false renders": str(s["false_renders"]),
        "missed JS": f"{s['missed_js']}/{s['needs_js']}",
    }
    lines += [table([perf]), ""]
    lines.append(
        "peak RSS MiB by process group (each group's own peak): "
        + ", ".join(f"{k} {v / mib:.0f}" for k, v in sorted(m.peak_rss_by_name.items()))
    )
    lines.append(
        "cpu s by process group (read from /proc): "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(m.cpu_by_name.items()))
        + f"; the crawl's rusage (itself and the children it reaped): {m.cpu:.1f}"
    )
    lines.append(
        f"render stats: requested {stats.get('linkrot/render/requested', 0)}, "
        f"done {stats.get('linkrot/render/done', 0)}, failed {stats.get('linkrot/render/failed', 0)}; "
        f"log ERROR lines {stats.get('log_count/ERROR', 0)}"
    )
    lines.append(
        "browser (linkrot.browser): "
        + ", ".join(
            f"{label} {stats.get('linkrot/render/' + key, 0)}"
            for label, key in (
                ("driver started", "driver_started"),
                ("launched", "browser_launched"),
                ("pages opened", "pages_opened"),
                ("peak MiB", "browser_peak_mb"),
                ("purged", "memory_purged"),
                ("recycled", "browser_recycled"),
                ("lost", "browser_lost"),
                ("hung", "hung"),
                ("retried", "retried"),
            )
        )
    )
    if m.leftover:
        lines.append(f"processes still alive after the crawl exited: {m.leftover}")
    lines += [
        "",
        "verdicts right, per expected verdict (found/expected): "
        + ", ".join(f"{v} {r}" for v, r in s["per_verdict"].items())
        + f"; target 404 reported {s['target_404']}",
        "",
    ]
    lines.append(
        table(
            [
                {
                    "kind": kind,
                    "expected": k["verdict"],
                    "right": f"{k['right']}/{k['expected']}",
                    "rendered": str(k["rendered"]),
                }
                for kind, k in s["per_kind"].items()
            ]
        )
    )
    if s["wrong"]:
        lines += [
            "",
            "wrong verdicts: "
            + "; ".join(f"{w['kind']} ({w['expected']}) -> {w['got']}: {w['count']}" for w in s["wrong"]),
        ]
    if m.returncode or m.timed_out:
        lines += ["", f"the crawl failed; its log, {OUT / 'backlinks.log'}, ends:", *log_tail()]
    if s["unknown_sources"]:
        lines += ["", f"sources not in the truth: {s['unknown_sources']}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pages", type=int, default=genlinks.DEFAULT_PAGES, help="referring pages = backlinks"
    )
    parser.add_argument("--hosts", type=int, default=genlinks.DEFAULT_HOSTS)
    parser.add_argument(
        "--js-share",
        type=float,
        default=genlinks.DEFAULT_JS_SHARE,
        help="share of pages whose link only a script adds",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the crawl")
    parser.add_argument(
        "--port",
        type=int,
        default=genlinks.DEFAULT_PORT,
        help="nginx port, part of the generated URLs (0: a free one; regenerates when it changes)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra -s setting for the spider (repeatable)",
    )
    args = parser.parse_args()

    port = args.port or nginx.free_port()
    site, truth = ensure_links(args.pages, args.hosts, port, args.js_share)
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    version = code_version()
    with nginx.serve(site, OUT / "nginx-links", port, vhosts=True):
        print(f"backlinks: running on {site / 'export.csv'} ...", flush=True)
        m = measure(
            command(site / "export.csv", args.set),
            ROOT,
            OUT / "backlinks.log",
            OUT / "backlinks.out",
            args.timeout,
            env=env,
            group=process_group,
        )
    print(
        f"backlinks: exit {m.returncode} after {m.wall:.1f} s{' (timeout)' if m.timed_out else ''}",
        flush=True,
    )
    try:
        rows, stats, reason = read_db()
    except (sqlite3.Error, OSError) as exc:
        print(f"backlinks: cannot read {DB}: {exc!r}", flush=True)
        rows, stats, reason = [], {}, None
    s = score(rows, truth)
    text = report(args, port, m, s, stats, reason, version)
    results = {
        "params": {**truth["params"], "set": args.set},
        "linkrot": version,
        "counts": truth["counts"],
        "measure": asdict(m),
        "score": s,
        "stats": stats,
        "finish_reason": reason,
        "report": text.splitlines(),
    }
    (OUT / f"backlinks-results-{args.pages}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("\n" + text)


if __name__ == "__main__":
    main()
