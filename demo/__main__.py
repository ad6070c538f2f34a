"""The bundled demo: crawl a site, check its backlinks, repair what is broken, all on 127.0.0.1.

    python -m demo [--db data/demo.db] [--no-render] [--serve]

One local server answers for the demo site (``www.demo.test``, from
``data/demo/site``) and for a small web of referring pages (``data/demo/web``,
one folder per made-up host); ``LINKROT_RESOLVE`` sends those names to it.
The demo site has broken links, redirect chains (with a temporary hop), a
loop, a redirect to the home page, a meta refresh, a soft 404, an orphan page
listed only in the sitemap and a page disallowed by robots.txt.  The bundled
Ahrefs export (``data/demo/exports``) lists backlinks that are live, removed,
flipped to nofollow, on pages gone (404, 410), added by a script, and live
links to pages of ours that are dead.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from linkrot.render import find_chromium
from linkrot.store import Store
from linkrot.suggest import refresh_suggestions
from linkrot.summary import site_summary

from .server import SiteServer
from .story import backlink_lines, broken_backlink_lines, lost_lines, run_cli

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "data" / "demo" / "site"
DEMO_WEB = ROOT / "data" / "demo" / "web"
# named as Ahrefs names its downloads
DEMO_EXPORT = (
    ROOT / "data" / "demo" / "exports" / "www.demo.test-backlinks-subdomains_2026-04-18_15-44-46.csv"
)
DEMO_DB = ROOT / "data" / "demo.db"
SITE_HOST = "www.demo.test"
RESOLVE = "*.test=127.0.0.1"
QUIET = ["-s", "LOG_LEVEL=WARNING", "-s", "LINKROT_PROGRESS_INTERVAL=0"]


class DemoError(Exception):
    """The demo cannot run as asked (its database belongs to something else)."""


def shown(path: Path) -> str:
    """A path as the user would type it in the project directory (where ``make demo`` runs)."""
    rel = os.path.relpath(path, ROOT)
    return str(path) if rel.startswith("..") else rel


def fresh_database(db: Path) -> None:
    """Start from an empty database: the demo's URLs carry a new port each run, old rows would pile up.

    Only a database holding nothing but demo runs is replaced: ``--db data/linkrot.db`` must
    never wipe a user's own crawls.
    """
    if not db.exists():
        return
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as probe:
            others = probe.execute(
                "SELECT count(*) FROM runs WHERE coalesce(site, '') NOT LIKE ?", (f"http://{SITE_HOST}:%",)
            ).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise DemoError(f"{shown(db)} is not a demo database ({exc}): pick another --db") from exc
    if others:
        raise DemoError(
            f"{shown(db)} holds runs of other sites: the demo does not replace it, use another --db"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def scrapy(args: list[str]) -> int:
    """Run a spider from the project directory, as the user would, and show the command."""
    print("$ scrapy " + shlex.join([*args, *QUIET]), flush=True)
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    return subprocess.call([sys.executable, "-m", "scrapy", *args, *QUIET], cwd=ROOT, env=env)


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEMO_DB, help="database to write (replaced each run)")
    parser.add_argument("--port", type=int, default=0, help="port of the demo server (default: a free one)")
    parser.add_argument("--no-render", action="store_true", help="check without Chromium even if installed")
    parser.add_argument("--serve", action="store_true", help="keep serving, to try commands by hand")
    args = parser.parse_args(argv)
    db: Path = args.db.resolve()
    try:
        fresh_database(db)
    except DemoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    hosts = {d.name: d for d in sorted(DEMO_WEB.iterdir()) if d.is_dir()}
    # the demo site answers for every name not in the referring web (www.demo.test, localhost)
    with SiteServer(DEMO_SITE, port=args.port, hosts=hosts) as server:
        site = f"http://{SITE_HOST}:{server.port}/"
        print("linkrot demo: crawl a site, check its backlinks, repair what is broken.")
        print(f"One server on 127.0.0.1:{server.port}; made-up names reach it through LINKROT_RESOLVE:")
        print(f"  {site}  the demo site ({shown(DEMO_SITE)})")
        print(f"  {len(hosts)} referring sites ({shown(DEMO_WEB)}): {', '.join(hosts)}")
        settings = ["-s", f"LINKROT_RESOLVE={RESOLVE}", "-s", f"LINKROT_DB={shown(db)}"]

        section("1. Crawl the site")
        if code := scrapy(["crawl", "site", "-a", f"url={site}", *settings]):
            print(f"the crawl failed (exit {code})", file=sys.stderr)
            return code
        with closing(Store(db)) as store:
            print(site_summary(store, site))

        section("2. Check the backlinks of an Ahrefs export")
        export = db.with_name(f"{db.stem}-export.csv")
        # the export's URLs carry the server's port, which changes each run
        export.write_text(DEMO_EXPORT.read_text(encoding="utf-8").replace("{{port}}", str(server.port)))
        print(f"The export: {shown(DEMO_EXPORT)}, with this run's port: {shown(export)}")
        settings += render_settings(args.no_render)
        # the site's brand: pages that name it without linking are worth asking for the link back
        settings += ["-s", "LINKROT_BRANDS=Acme Widgets"]
        check = ["crawl", "backlinks", "-a", f"file={shown(export)}", "-a", f"site={site}", *settings]
        if code := scrapy(check):
            print(f"the backlinks check failed (exit {code})", file=sys.stderr)
            return code
        repair(db)
        where_to_look(db)
        print(f"Done in {time.monotonic() - started:.0f} s.")
        if args.serve:
            serve(site, export, settings)
    return 0


def render_settings(no_render: bool) -> list[str]:
    """Chromium renders the pages whose link a script adds; without it the demo says so and goes on."""
    chromium = None if no_render else find_chromium(None)  # where the backlinks spider looks
    if chromium:
        print(f"Chromium: {chromium} renders the pages whose link a script adds")
        return []
    why = "--no-render" if no_render else "Chromium not found"
    print(
        f"{why}: checking without a browser (-s LINKROT_RENDER=never); a link made by a script: link_removed"
    )
    return ["-s", "LINKROT_RENDER=never"]


def repair(db: Path) -> None:
    """Steps 2 to 4 from the database: verdicts, lost links, broken backlinks and the redirect map."""
    with closing(Store(db)) as store:
        print("\n".join(backlink_lines(store)))
        section("3. Lost links")
        print("\n".join(lost_lines(store)))
        section("4. Repair: broken backlinks, most valuable first, each with a suggested redirect")
        refresh_suggestions(store, ROOT / "data" / "redirect-overrides.csv")  # what `linkrot suggest` does
        print("\n".join(broken_backlink_lines(store)))
    print("\nThe redirect map (the broken backlinks, and our own redirect chains collapsed to one hop):")
    print(f"$ linkrot redirects --format nginx --db {shown(db)}")
    _, out, err = run_cli("redirects", "--format", "nginx", "--db", str(db))
    print(out + err, end="")


def where_to_look(db: Path) -> None:
    section("Where to look")
    report = db.with_name(f"{db.stem}-report.html")
    _, out, _ = run_cli("report", "--format", "html", "--db", str(db))
    report.write_text(out, encoding="utf-8")
    print(
        f"Database:    {shown(db)}\n"
        f"Explore it:  .venv/bin/linkrot explore --db {shown(db)}   (Datasette, at http://127.0.0.1:8001/)\n"
        f"   or just:  .venv/bin/datasette {shown(db)}\n"
        f"Report:      .venv/bin/linkrot report --db {shown(db)}\n"
        f"HTML report: {shown(report)}   (linkrot report --format html --db {shown(db)} > {shown(report)})"
    )


def serve(site: str, export: Path, settings: list[str]) -> None:
    command = ["crawl", "backlinks", "-a", f"file={shown(export)}", "-a", f"site={site}", *settings]
    print(
        f"\nStill serving {site} and the referring web (Ctrl-C to stop). Check again, by hand:\n"
        f"  .venv/bin/scrapy {shlex.join(command)}\n"
        "(a second check confirms the pending losses)",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
