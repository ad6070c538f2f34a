"""Benchmark linkrot's ``site`` spider against peer link checkers on a generated site.

``.venv/bin/python bench/run.py --pages 2000 --tools linkrot,linkchecker,linkinator``
generates the site (``bench/gensite.py``, once per size), serves it with nginx
on loopback (``bench/nginx.py``), runs each tool as a subprocess and prints, per
tool: wall and CPU time, peak RSS of its whole process tree (``/proc`` polled
every 0.05 s), URLs and pages checked, pages/s, and how many of the site's known
broken links, redirect chains and loops it reported (``truth.json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import gensite
import nginx
from measure import Measure, measure, table, tree_rss  # noqa: F401  (tree_rss: kept importable from here)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV = ROOT / ".venv" / "bin"
NODE = OUT / "node"
LINKINATOR = NODE / "node_modules" / ".bin" / "linkinator"
LINKROT_DB = OUT / "linkrot.db"


@dataclass
class Report:
    """What one tool reported, in truth keys (see :func:`gensite.key`)."""

    urls: int = 0  # distinct URLs of the site it checked
    pages: int = 0  # of which answered 200 (and, when the tool tells, without a redirect)
    broken: set[str] = field(default_factory=set)
    redirects: dict[str, int] | None = field(default_factory=dict)  # key -> hops; None: not reported
    loops: set[str] | None = field(default_factory=set)  # None: not told apart from other errors


# -- tools: each has a command and a parser of its output --------------------------------


@dataclass
class Tool:
    command: Callable[[str, argparse.Namespace], list[str]]
    parse: Callable[[Path, str], Report]
    cwd: Path = ROOT
    prepare: Callable[[], str | None] = lambda: None  # returns why the tool cannot run


def linkrot_command(url: str, args: argparse.Namespace) -> list[str]:
    """The crawl command, on a fresh database (its views show the latest run of a site)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{LINKROT_DB}{suffix}").unlink(missing_ok=True)
    return crawl_command(url, LINKROT_DB, ["LOG_LEVEL=INFO", *args.linkrot_set])


def crawl_command(url: str, db: Path, extra: list[str]) -> list[str]:
    """``scrapy crawl site`` on the whole generated site, with the benchmark's concurrency (bench/scale.py too)."""
    settings = [
        f"LINKROT_DB={db}",
        "LINKROT_MAX_PAGES=0",
        "LINKROT_MAX_DEPTH=0",
        "CONCURRENT_REQUESTS=16",
        "CONCURRENT_REQUESTS_PER_DOMAIN=16",
        *extra,
    ]
    return [
        str(VENV / "scrapy"),
        "crawl",
        "site",
        "-a",
        f"url={url}",
        *(a for s in settings for a in ("-s", s)),
    ]


def linkrot_parse(output: Path, netloc: str) -> Report:
    db = sqlite3.connect(LINKROT_DB)
    try:

        def rows(sql: str) -> list[tuple]:
            return db.execute(sql).fetchall()

        chains = rows("SELECT url, hops, is_loop FROM redirect_chains")
        return Report(
            urls=rows("SELECT count(*) FROM pages")[0][0],
            pages=rows("SELECT count(*) FROM pages WHERE outcome = 'ok' AND hops = 0")[0][0],
            broken={gensite.key(u, netloc) for (u,) in rows("SELECT DISTINCT url FROM broken_links")},
            redirects={gensite.key(u, netloc): hops for u, hops, _ in chains},
            loops={gensite.key(u, netloc) for u, _, loop in chains if loop},
        )
    finally:
        db.close()


def linkchecker_command(url: str, args: argparse.Namespace) -> list[str]:
    config = OUT / "linkcheckerrc"
    # the default of 10 requests/s per host (really ~3/s) is lifted for servers that send a LinkChecker header
    config.write_text("[checking]\nmaxrequestspersecond=100000\n", encoding="utf-8")
    return [
        str(VENV / "linkchecker"),
        "-f",
        str(config),
        "--no-status",
        "--threads",
        "10",
        "-o",
        "csv",
        "--verbose",
        "--no-warnings",
        "--recursion-level",
        "-1",
        url,
    ]


def linkchecker_parse(output: Path, netloc: str) -> Report:
    lines = (
        line
        for line in output.read_text(encoding="utf-8").splitlines(keepends=True)
        if not line.startswith("#")
    )
    report = Report()
    urls: set[str] = set()
    pages: set[str] = set()  # final URLs: linkchecker logs a page first reached by a redirect only once
    for row in csv.DictReader(lines, delimiter=";"):
        url = urljoin(row["parentname"], row["urlname"]) if row["parentname"] else row["urlname"]
        key = gensite.key(url, netloc)
        internal = urlsplit(url).netloc == netloc
        hops = row["warningstring"].count("Redirected to")
        if internal:
            urls.add(key)
            if row["result"].startswith("200"):
                pages.add(gensite.key(row["url"], netloc))
        if row["valid"] == "False":
            report.broken.add(key)
        if hops:
            report.redirects[key] = hops
        if "TooManyRedirects" in row["result"]:
            report.loops.add(key)
    report.urls, report.pages = len(urls), len(pages)
    return report


def linkinator_prepare() -> str | None:
    if LINKINATOR.exists():
        return None
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE), "linkinator"],
        capture_output=True,
        text=True,
    )
    if done.returncode or not LINKINATOR.exists():
        return f"npm install failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    return None


def linkinator_command(url: str, args: argparse.Namespace) -> list[str]:
    # the package's bin directly: npx would add an npm process to the measured tree
    return [
        str(LINKINATOR),
        url,
        "--recurse",
        "--format",
        "csv",
        "--concurrency",
        str(args.linkinator_concurrency),
    ]


def linkinator_parse(output: Path, netloc: str) -> Report:
    report = Report(redirects=None, loops=None)
    urls: set[str] = set()
    pages: set[str] = set()
    with open(output, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = gensite.key(row["url"], netloc)
            if urlsplit(row["url"]).netloc == netloc:
                urls.add(key)
                if row["status"] == "200" and row["state"] == "OK":
                    pages.add(key)
            if row["state"] == "BROKEN":
                report.broken.add(key)
    report.urls, report.pages = len(urls), len(pages)
    return report


TOOLS = {
    "linkrot": Tool(linkrot_command, linkrot_parse),
    "linkchecker": Tool(linkchecker_command, linkchecker_parse),
    "linkinator": Tool(linkinator_command, linkinator_parse, prepare=linkinator_prepare),
}


# -- scoring and the table ------------------------------------------------------------------


def score(report: Report, truth: dict) -> dict[str, str]:
    """Recall of each kind of known problem, as found/expected."""

    def recall(found: set[str], expected: set[str]) -> str:
        return f"{len(found & expected)}/{len(expected)}"

    chains = truth["redirects"]
    to_404 = {k for k, v in chains.items() if v["final_status"] == 404}
    result = {
        "404": recall(report.broken, set(truth["broken"])),
        "redir->404": recall(report.broken, to_404),
        "loop": recall(report.broken, set(truth["loops"])),
        "refused": recall(report.broken, set(truth["refused"])),
        "false broken": str(len(report.broken - set(truth["bad"]))),
        "redirects": "-",
        "hops right": "-",
        "loop flagged": "-",
    }
    if report.redirects is not None:
        result["redirects"] = recall(set(report.redirects), set(chains))
        right = {k for k, v in chains.items() if report.redirects.get(k) == v["hops"]}
        result["hops right"] = f"{len(right)}/{len(chains)}"
    if report.loops is not None:
        result["loop flagged"] = recall(report.loops, set(truth["loops"]))
    return result


def ensure_site(pages: int, images: int = 0) -> tuple[Path, dict]:
    site = OUT / (f"site-{pages}-img{images}" if images else f"site-{pages}")
    truth_file = site / "truth.json"
    if not truth_file.exists() or json.loads(truth_file.read_text())["pages"] != pages:
        print(f"generating {pages} pages in {site} ...", flush=True)
        gensite.generate(pages, site, images)
    return site, json.loads(truth_file.read_text())


def run_tool(name: str, url: str, args: argparse.Namespace, truth: dict) -> dict:
    tool = TOOLS[name]
    skipped = tool.prepare()
    if skipped:
        print(f"{name}: skipped ({skipped})", flush=True)
        return {"tool": name, "skipped": skipped}
    output = OUT / f"{name}.out"
    print(f"{name}: running ...", flush=True)
    m = measure(tool.command(url, args), tool.cwd, OUT / f"{name}.log", output, args.timeout)
    try:
        report = tool.parse(output, urlsplit(url).netloc)
    except (OSError, sqlite3.Error, csv.Error, KeyError) as exc:
        print(f"{name}: cannot read its output: {exc!r}", flush=True)
        report = Report()
    print(
        f"{name}: exit {m.returncode} after {m.wall:.1f} s{' (timeout)' if m.timed_out else ''}", flush=True
    )
    return {
        "tool": name,
        "measure": asdict(m),
        "report": {**asdict(report), "broken": len(report.broken)},
        "score": score(report, truth),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=gensite.DEFAULT_PAGES)
    parser.add_argument(
        "--images", type=int, default=0, help="content images per page, plus a logo, a stylesheet, a script"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per tool")
    parser.add_argument("--port", type=int, default=0, help="nginx port (default: a free one)")
    parser.add_argument(
        "--linkrot-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra -s setting for linkrot (repeatable)",
    )
    parser.add_argument("--linkinator-concurrency", type=int, default=100)
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")

    site, truth = ensure_site(args.pages, args.images)
    results = []
    with nginx.serve(site, OUT / "nginx", args.port) as port:
        url = f"http://127.0.0.1:{port}/"
        for name in tools:
            results.append(run_tool(name, url, args, truth))
    (OUT / f"results-{args.pages}.json").write_text(
        json.dumps(results, indent=1, default=sorted), encoding="utf-8"
    )

    ran = [r for r in results if "measure" in r]
    if not ran:
        return
    perf = []
    for r in ran:
        m, rep = r["measure"], r["report"]
        perf.append(
            {
                "tool": r["tool"],
                "exit": "timeout" if m["timed_out"] else str(m["returncode"]),
                "wall s": f"{m['wall']:.1f}",
                "cpu s": f"{m['cpu']:.1f}",
                "peak RSS MiB": f"{m['peak_rss'] / 2**20:.0f}",
                "urls": str(rep["urls"]),
                "pages": str(rep["pages"]),
                "pages/s": f"{rep['pages'] / m['wall']:.0f}" if m["wall"] else "-",
            }
        )
    print(f"\n{args.pages} pages ({truth['links']} links), nginx on {url}\n")
    print(table(perf))
    print("\nrecall of known problems (found/expected); false broken = reported broken but fine\n")
    print(table([{"tool": r["tool"], **r["score"]} for r in ran]))


if __name__ == "__main__":
    main()
