"""Generate referring pages, our site and a backlink export for the backlinks benchmark.

``python bench/genlinks.py --pages 5000 --hosts 200 --port 18431 --out bench/out/links-5000`` writes

* ``www/<host>/``: one document root per host, for nginx's ``root www/$host``:
  ``h0.bench`` … ``h<H-1>.bench`` hold the referring pages ``p<i>.html`` (``i``
  numbers pages over all hosts, so a path names one page), ~3–5 KB each with
  filler paragraphs, 10–20 unrelated links and a ``robots.txt``;
  ``www.ours.bench`` holds our 50 target pages ``/t/<k>.html``;
* ``redirects.conf``: nginx ``location`` rules, ``/p<i>.html`` → 301
  ``/moved/p<i>.html`` for the referring pages that moved;
* ``export.csv``: the export, ``source_url,target_url,anchor``, one row per page;
* ``truth.json``: the parameters and, per source URL, the verdict a checker
  should give, whether the link is only there after running the page's script
  (``js``), whether the page has scripts at all, and the target's HTTP status.

Links to our site carry the port nginx listens on, so the files depend on it;
``backlinks.py`` regenerates them when any parameter (port included) changes.
``random.Random(42)``: the same parameters give the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path
from random import Random

DEFAULT_PAGES = 5_000
DEFAULT_HOSTS = 200
DEFAULT_PORT = 18431
DEFAULT_JS_SHARE = 0.10
TARGETS = 50  # pages of ours that exist
MISSING_TARGETS = 3  # URLs of ours that answer 404
MISSING_TARGET_SHARE = 0.05  # of backlinks, pointing to one of those
OURS = "www.ours.bench"

#: kind -> (share of pages, expected verdict); "live" takes what the others leave
KINDS = {
    "js": (DEFAULT_JS_SHARE, "live"),  # the link is added by an inline script on DOMContentLoaded
    "script_static": (0.05, "live"),  # the page has scripts, but the link is in its HTML
    "nofollow": (0.05, "nofollow"),
    "removed": (0.05, "link_removed"),  # no link to our site, no scripts
    "not_found": (0.03, "not_found"),  # the referring page answers 404
    "moved": (0.02, "redirected"),  # 301 to another page, which carries the link
}
WORDS = (
    "garden",
    "recipe",
    "travel",
    "review",
    "budget",
    "market",
    "weekly",
    "notes",
    "photo",
    "journal",
    "local",
    "guide",
    "community",
    "forum",
    "thread",
    "answer",
    "project",
    "update",
    "season",
    "club",
    "event",
    "story",
    "archive",
    "resources",
    "partners",
    "tools",
    "list",
    "favourite",
    "reading",
    "blog",
    "post",
    "article",
    "interview",
)


def host_name(h: int) -> str:
    return f"h{h}.bench"


def target_url(port: int, k: int) -> str:
    name = f"{k}.html" if k < TARGETS else f"gone-{k - TARGETS}.html"
    return f"http://{OURS}:{port}/t/{name}"


def counts(pages: int, js_share: float) -> dict[str, int]:
    """Pages of each kind: the shares rounded, the rest live static links."""
    shares = {kind: share for kind, (share, _) in KINDS.items()}
    shares["js"] = js_share
    out = {kind: round(pages * share) for kind, share in shares.items()}
    out["live"] = pages - sum(out.values())
    if out["live"] < 0:
        raise ValueError(f"the shares add up to more than 1 (js share {js_share})")
    return out


class Generator:
    def __init__(self, pages: int, hosts: int, port: int, js_share: float) -> None:
        self.n, self.hosts, self.port = pages, hosts, port
        self.rng = Random(42)
        rng = self.rng
        kinds = [kind for kind, count in counts(pages, js_share).items() for _ in range(count)]
        rng.shuffle(kinds)
        self.kinds = kinds
        self.host_of = [rng.randrange(hosts) for _ in range(pages)]
        missing = round(pages * MISSING_TARGET_SHARE)
        targets = [TARGETS + k % MISSING_TARGETS for k in range(missing)]
        targets += [rng.randrange(TARGETS) for _ in range(pages - missing)]
        rng.shuffle(targets)
        self.target_of = targets

    def words(self, count: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(count))

    def source_url(self, i: int, moved: bool = False) -> str:
        return f"http://{host_name(self.host_of[i])}:{self.port}/{'moved/' if moved else ''}p{i}.html"

    def unrelated_links(self, i: int) -> list[str]:
        """10–20 links that are not to our site: same host, other referring hosts, elsewhere."""
        rng = self.rng
        links = []
        for _ in range(rng.randint(10, 20)):
            roll = rng.random()
            if roll < 0.5:
                href = f"p{rng.randrange(self.n)}.html"  # relative, on the same host (may not exist)
            elif roll < 0.8:
                href = (
                    f"http://{host_name(rng.randrange(self.hosts))}:{self.port}/p{rng.randrange(self.n)}.html"
                )
            else:
                href = f"https://example.org/{self.words(1)}/{rng.randrange(1000)}"
            links.append(f'<li><a href="{href}">{self.words(rng.randint(1, 3))}</a></li>')
        return links

    def paragraphs(self, size: int) -> list[str]:
        out, total = [], 0
        while total < size:
            p = f"<p>{self.words(self.rng.randint(25, 60))}</p>\n"
            out.append(p)
            total += len(p)
        return out

    def page(self, i: int, kind: str, anchor: str) -> str:
        """The referring page ``i`` (for ``moved``: the page it moved to)."""
        target = target_url(self.port, self.target_of[i])
        rng = self.rng
        body = self.paragraphs(rng.randint(1_800, 3_400))
        link = f'<a href="{target}">{anchor}</a>'
        if kind == "nofollow":
            link = f'<a href="{target}" rel="nofollow">{anchor}</a>'
        scripts = ""
        if kind == "js":
            scripts = (
                '<script>\ndocument.addEventListener("DOMContentLoaded", function () {\n'
                '  var p = document.createElement("p"), a = document.createElement("a");\n'
                f'  a.href = "{target}";\n  a.textContent = "{anchor}";\n'
                '  p.appendChild(document.createTextNode("See also "));\n  p.appendChild(a);\n'
                '  document.getElementById("content").appendChild(p);\n});\n</script>\n'
            )
        elif kind == "script_static":
            scripts = (
                '<script>\ndocument.addEventListener("DOMContentLoaded", function () {\n'
                '  document.getElementById("year").textContent = String(new Date().getFullYear());\n'
                "});\n</script>\n"
            )
        if kind not in ("js", "removed"):
            at = rng.randrange(len(body))
            body[at] = body[at].replace("<p>", f"<p>{self.words(rng.randint(3, 12))} {link} ", 1)
        nav = "\n".join(self.unrelated_links(i))
        return (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{self.words(4)}</title>\n{scripts}</head>\n'
            f'<body><nav><ul>\n{nav}\n</ul></nav>\n<main id="content"><h1>{self.words(3)}</h1>\n'
            + "".join(body)
            + '</main>\n<footer>&copy; <span id="year">2026</span></footer></body></html>\n'
        )

    def target_page(self, k: int) -> str:
        return (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>Target {k}</title></head>\n'
            f"<body><h1>Target {k}</h1>\n{''.join(self.paragraphs(1_500))}</body></html>\n"
        )


def generate(
    pages: int = DEFAULT_PAGES,
    hosts: int = DEFAULT_HOSTS,
    port: int = DEFAULT_PORT,
    js_share: float = DEFAULT_JS_SHARE,
    out: Path = Path("bench/out/links"),
) -> dict:
    """Write everything under ``out``; return the truth."""
    gen = Generator(pages, hosts, port, js_share)
    www = out / "www"
    if www.exists():
        shutil.rmtree(www)
    out.mkdir(parents=True, exist_ok=True)
    for h in range(hosts):
        (www / host_name(h)).mkdir(parents=True)
        (www / host_name(h) / "robots.txt").write_text(
            "User-agent: *\nDisallow: /private/\n", encoding="utf-8"
        )
    (www / OURS / "t").mkdir(parents=True)
    for k in range(TARGETS):
        (www / OURS / "t" / f"{k}.html").write_text(gen.target_page(k), encoding="utf-8")
    verdicts = {kind: verdict for kind, (_, verdict) in KINDS.items()}
    verdicts["live"] = "live"
    expected: dict[str, dict] = {}
    redirects = []
    with open(out / "export.csv", "w", encoding="utf-8", newline="") as f:
        export = csv.writer(f)
        export.writerow(["source_url", "target_url", "anchor"])
        for i, kind in enumerate(gen.kinds):
            source, target = gen.source_url(i), target_url(port, gen.target_of[i])
            anchor = gen.words(gen.rng.randint(2, 4))
            export.writerow([source, target, anchor])
            expected[source] = {
                "kind": kind,
                "verdict": verdicts[kind],
                "js": kind == "js",
                "scripts": kind in ("js", "script_static"),
                "target": target,
                "target_status": 200 if gen.target_of[i] < TARGETS else 404,
            }
            if kind == "not_found":
                continue
            path = www / host_name(gen.host_of[i]) / f"p{i}.html"
            if kind == "moved":
                redirects.append(f"location = /p{i}.html {{ return 301 /moved/p{i}.html; }}\n")
                path = path.parent / "moved" / path.name
                path.parent.mkdir(exist_ok=True)
            path.write_text(gen.page(i, kind, anchor), encoding="utf-8")
    (out / "redirects.conf").write_text("".join(redirects), encoding="utf-8")
    truth = {
        "params": {"pages": pages, "hosts": hosts, "port": port, "js_share": js_share},
        "counts": counts(pages, js_share),
        "backlinks": expected,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES)
    parser.add_argument("--hosts", type=int, default=DEFAULT_HOSTS)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--js-share", type=float, default=DEFAULT_JS_SHARE)
    parser.add_argument("--out", type=Path, default=None, help="default: bench/out/links-PAGES")
    args = parser.parse_args()
    out = args.out or Path(__file__).resolve().parent / "out" / f"links-{args.pages}"
    truth = generate(args.pages, args.hosts, args.port, args.js_share, out)
    print(
        f"{args.pages} referring pages on {args.hosts} hosts in {out}: "
        + ", ".join(f"{kind} {n}" for kind, n in truth["counts"].items())
    )


if __name__ == "__main__":
    main()
