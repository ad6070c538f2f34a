"""The bundled demo: serve ``data/demo/site`` on 127.0.0.1, crawl it, print what was found.

    python -m demo [--db data/linkrot.db]

The demo site has broken links, redirect chains (with a temporary hop), a
loop, a redirect to the home page, a meta refresh, a soft 404, an orphan page
listed only in the sitemap and a page disallowed by robots.txt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from linkrot.store import DEFAULT_DB, Store
from linkrot.summary import site_summary
from .server import SiteServer

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "data" / "demo" / "site"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(ROOT / DEFAULT_DB), help="SQLite database to write")
    parser.add_argument("--port", type=int, default=0, help="port of the demo server (default: a free one)")
    args = parser.parse_args(argv)
    with SiteServer(DEMO_SITE, port=args.port) as server:
        print(f"Serving the demo site from {DEMO_SITE} at {server.origin}/", flush=True)
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "site",
            "-a",
            f"url={server.origin}/",
            "-s",
            f"LINKROT_DB={args.db}",
            "-s",
            "LOG_LEVEL=WARNING",
            "-s",
            "LINKROT_PROGRESS_INTERVAL=0",
        ]
        print("$ " + " ".join(command[2:]), flush=True)
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
        code = subprocess.call(command, cwd=ROOT, env=env)
    if code:
        print(f"the crawl failed (exit {code})", file=sys.stderr)
        return code
    store = Store(args.db)
    print()
    print(site_summary(store, f"{server.origin}/"))
    store.close()
    db = os.path.relpath(args.db)
    db = args.db if db.startswith("..") else db
    print(
        f"\nDatabase: {db}\n"
        f"Explore it: .venv/bin/linkrot explore --db {db}   (Datasette; then open http://127.0.0.1:8001/)\n"
        f"   or just: .venv/bin/datasette {db}\n"
        f"Report:     .venv/bin/linkrot report --db {db}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
