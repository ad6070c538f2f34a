"""Generate a deterministic static site for the link-checker benchmark.

``python bench/gensite.py --pages 20000 --out bench/out/site`` writes

* ``www/``: the document root, ``index.html`` (page 0, served at ``/``) and
  ``docs/<i // 100>/page-<i>.html`` for the other pages, ~5 KB and ~20 links
  each: relative, root-relative and a few with fragments;
* ``redirects.conf``: nginx ``location`` blocks for the redirecting URLs
  (2-hop and 1-hop chains, redirects to a missing page, loops);
* ``truth.json``: what a link checker should find, keyed like :func:`key`
  (the path for URLs of the site, the whole URL for other hosts).

Every page is reachable from ``/``: page ``i`` links to ``i + 1``.  About 1 %
of links point to missing pages (nginx answers 404), about 1 % to redirecting
URLs, and a handful to ``127.0.0.1:9`` (connection refused).
"""

from __future__ import annotations

import argparse
import json
import posixpath
import random
import shutil
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PAGES = 20_000
LINKS_PER_PAGE = 20
PAGE_BYTES = 5_000
BROKEN_RATE = 0.01
REDIRECT_RATE = 0.01
REFUSED = 5  # links to a closed port
LOOPS = 2
WORDS = (
    "link rot archive anchor crawler sitemap status header redirect canonical page index "
    "server cache latency request response document section chapter report notes guide "
    "reference manual release history changelog tutorial example summary appendix"
).split()


def key(url: str, site_netloc: str | None = None) -> str:
    """The truth key of a URL: its path (and query) on the site, the URL without fragment elsewhere."""
    parts = urlsplit(url)
    if site_netloc is None or parts.netloc == site_netloc:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return parts._replace(fragment="").geturl()


def page_path(i: int) -> str:
    return "/" if i == 0 else f"/docs/{i // 100}/page-{i}.html"


def page_file(i: int) -> str:
    return "index.html" if i == 0 else page_path(i).lstrip("/")


class Site:
    """The pages, links and redirect rules of one generated site."""

    def __init__(self, pages: int, rng: random.Random, images: int = 0) -> None:
        self.n = pages
        self.rng = rng
        self.images = images  # content images per page, from a pool of pages // 10 (plus logo, CSS, JS)
        self.image_pool = max(10, pages // 10)
        self.redirects: dict[str, tuple[int, str]] = {}  # origin -> (status, location)
        self.truth: dict[str, dict] = {"broken": {}, "redirects": {}, "loops": {}, "refused": {}}
        self.bad: set[str] = set()  # every URL that does not end in a page, linked or not
        self.chains: list[str] = []
        self.links = 0
        for k in range(max(10, pages // 50)):
            target = page_path(rng.randrange(pages))
            if k % 3:
                self.add_chain(f"/r/{k}", [(301, f"/r2/{k}"), (302, target)])
            else:
                self.add_chain(f"/r1/{k}", [(301, target)])
        self.specials: list[str] = []  # each linked at least once, from pages spread over the site
        for k in range(max(3, pages // 1000)):
            self.add_chain(f"/rb/{k}", [(301, f"/gone/{k}.html")])
            self.bad.update((f"/rb/{k}", f"/gone/{k}.html"))
            self.specials.append(f"/rb/{k}")
        for k in range(LOOPS):
            a, b = f"/loop/{k}/a", f"/loop/{k}/b"
            self.redirects[a] = (301, b)
            self.redirects[b] = (302, a)
            self.bad.update((a, b))
            self.specials.append(a)
        self.specials += [f"http://127.0.0.1:9/refused-{k}.html" for k in range(REFUSED)]

    def add_chain(self, origin: str, hops: list[tuple[int, str]]) -> None:
        url = origin
        for status, location in hops:
            self.redirects[url] = (status, location)
            url = location
        self.chains.append(origin)

    def note(self, target: str) -> None:
        """Record in the truth what a link to ``target`` should be reported as."""
        if target.startswith("http://127.0.0.1:9/"):
            self.truth["refused"][target] = "connection refused"
            self.bad.add(target)
        elif target.startswith("/missing/"):
            self.truth["broken"][target] = 404
            self.bad.add(target)
        elif target.startswith("/loop/"):
            self.truth["loops"][target] = 2
        elif target in self.redirects:
            url, hops = target, 0
            while url in self.redirects:
                url, hops = self.redirects[url][1], hops + 1
            self.truth["redirects"][target] = {
                "hops": hops,
                "final": url,
                "final_status": 404 if url.startswith("/gone/") else 200,
            }

    def random_target(self) -> str:
        roll = self.rng.random()
        if roll < BROKEN_RATE:
            return f"/missing/{self.rng.randrange(max(10, self.n // 10))}.html"
        if roll < BROKEN_RATE + REDIRECT_RATE:
            return self.rng.choice(self.chains)
        return page_path(self.rng.randrange(self.n))

    def href(self, source: int, target: str) -> str:
        """A relative or root-relative reference from page ``source`` to ``target``."""
        roll = self.rng.random()
        if target.startswith("http") or roll < 0.4:
            ref = target
        else:
            here = posixpath.dirname(page_path(source)) or "/"
            ref = posixpath.relpath(target, here) if target != "/" else posixpath.relpath("/", here) + "/"
            if roll < 0.5 and not ref.startswith("."):
                ref = "./" + ref
        if roll > 0.97:
            ref += f"#s{self.rng.randrange(5)}"
        return ref

    def targets(self, i: int) -> list[str]:
        out = ["/", page_path((i + 1) % self.n), page_path(max(i - 1, 0))]
        out += [self.random_target() for _ in range(LINKS_PER_PAGE - len(out))]
        step = max(1, self.n // max(1, len(self.specials)))
        out += [s for k, s in enumerate(self.specials) if (k * step + 7) % self.n == i]
        return out

    def words(self, count: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(count))

    def render(self, i: int) -> str:
        items = []
        for target in self.targets(i):
            self.note(target)
            self.links += 1
            items.append(f'<li><a href="{self.href(i, target)}">{self.words(3)}</a></li>')
        assets = ""
        if self.images:  # what a typical page loads; no random draw, so the links stay those of the plain site
            assets = '<link rel="stylesheet" href="/static/site.css"><script src="/static/site.js"></script>'
            items.append('<li><img src="/static/logo.png" alt="logo"></li>')
            items += [
                f'<li><img src="/img/{(i * 7 + j * 13) % self.image_pool}.png" alt="figure {j}"></li>'
                for j in range(self.images)
            ]
        head = (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>Page {i}: {self.words(4)}</title>'
            f"{assets}</head>\n<body><h1>Page {i}</h1>\n<ul>\n" + "\n".join(items) + "\n</ul>\n"
        )
        body = []
        size = len(head)
        while size < PAGE_BYTES - 100:
            paragraph = f"<p>{self.words(40)}</p>\n"
            body.append(paragraph)
            size += len(paragraph)
        return head + "".join(body) + "</body></html>\n"

    def nginx_rules(self) -> str:
        return "".join(
            f"location = {origin} {{ return {status} {location}; }}\n"
            for origin, (status, location) in self.redirects.items()
        )


# a 1x1 transparent PNG: what the content images and the logo are
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def generate(pages: int = DEFAULT_PAGES, out: Path = Path("bench/out/site"), images: int = 0) -> dict:
    """Write the site, its redirect rules and its truth under ``out``; return the truth.

    ``images``: content images per page (and a logo, a stylesheet and a script on every page).
    """
    site = Site(pages, random.Random(42), images)
    www = out / "www"
    if www.exists():
        shutil.rmtree(www)
    for d in {posixpath.dirname(page_file(i)) for i in range(pages)} - {""}:
        (www / d).mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        (www / page_file(i)).write_text(site.render(i), encoding="utf-8")
    if images:
        (www / "img").mkdir(exist_ok=True)
        (www / "static").mkdir(exist_ok=True)
        for k in range(site.image_pool):
            (www / "img" / f"{k}.png").write_bytes(PNG)
        (www / "static" / "logo.png").write_bytes(PNG)
        (www / "static" / "site.css").write_text("body { font-family: sans-serif; }\n")
        (www / "static" / "site.js").write_text("document.documentElement.className = 'js';\n")
    (out / "redirects.conf").write_text(site.nginx_rules(), encoding="utf-8")
    truth = {"pages": pages, "images": images, "links": site.links, **site.truth, "bad": sorted(site.bad)}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES)
    parser.add_argument("--out", type=Path, default=Path("bench/out/site"))
    parser.add_argument("--images", type=int, default=0, help="content images per page (default: none)")
    args = parser.parse_args()
    truth = generate(args.pages, args.out, args.images)
    print(
        f"{args.pages} pages in {args.out}/www: {len(truth['broken'])} broken targets, "
        f"{len(truth['redirects'])} redirecting URLs, {len(truth['loops'])} loops, {len(truth['refused'])} refused"
    )


if __name__ == "__main__":
    main()
