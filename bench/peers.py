"""Score linkrot (and LinkChecker) against the test fixtures of peer link checkers.

``.venv/bin/python bench/peers.py [--tools linkrot,linkchecker] [--cases li_,lc_http] [--fixtures DIR]``

The fixtures of LinkChecker, lychee, linkinator, muffet and hyperlink live in
``/work/shared/peer-fixtures/`` (one folder per case, ``SOURCES.md`` says where
each file comes from).  They are read from there at run time, never copied into
this repository.  For each case this serves, on 127.0.0.1:

* the site (``@PORT@``): the case folder; a folder without ``index.html`` answers a
  listing, as the peers' test servers (Python's ``SimpleHTTPRequestHandler``) do;
* another origin (``@OTHER@``): the case's ``_other/`` folder;
* ``@CLOSED@``: a port nothing listens on;
* ``@TRAP@``: answers 200 to everything and records it: URLs that must not be fetched;

fills the placeholders in what it serves, runs each tool on the start page and
scores the tool's own report against :data:`CASES`: what the peers' tests
expect (fixture names, comments in the files, the peers' test code), reduced to
what they agree on.  A case matches when every expectation holds.  Where
linkrot differs from a peer on purpose, the expectation is listed under
``divergent`` with the reason, shown and not scored.

Usable from a test: :func:`run_case` returns a :class:`Score` for one case and one tool.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import mimetypes
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LINKROT_PEER_FIXTURES", "/work/shared/peer-fixtures"))
VENV = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from linkrot.status import Status  # noqa: E402
from linkrot.urls import normalize_url  # noqa: E402


@dataclass(frozen=True)
class Case:
    """What the peers expect of one fixture folder.

    URLs are written ``/path`` (the site), ``@OTHER@/path``, ``@CLOSED@/path`` or
    ``@TRAP@/path``; ``a | b`` accepts either form (browsers and peers differ in
    percent-encoding).  ``invalid`` holds hrefs as written, to be reported as malformed.
    """

    peer: str
    start: str = "index.html"
    ok: tuple[str, ...] = ()  # checked, and fine
    broken: tuple[str, ...] = ()  # checked, and reported broken
    invalid: tuple[str, ...] = ()  # malformed hrefs, reported as such (raw href)
    unfetched: tuple[str, ...] = ()  # never requested (checked on the servers' logs)
    anchors_missing: tuple[str, ...] = ()  # page#fragment whose page lacks the anchor (opt-in check)
    divergent: dict[str, str] = field(default_factory=dict)  # URL -> why linkrot differs on purpose
    other_head_status: int | None = None  # @OTHER@ answers HEAD with this (405, 403)


_S = "/status/"
CASES: dict[str, Case] = {
    # -- LinkChecker (tests/checker/data/*.html and their .result files) ---------------------
    "lc_base1": Case(
        "linkchecker",
        "base1.html",
        ok=("/base2.html", "/base/test.txt"),
        divergent={"/file.html": "a 0-second meta refresh is a redirect: browsers never show the page's links"},
    ),
    "lc_base2": Case("linkchecker", "base2.html", ok=("/base/test.txt",)),
    "lc_base4": Case("linkchecker", "base4.html", ok=("/base/test.txt",)),
    "lc_charsets_utf8": Case("linkchecker", "utf8.html", broken=("/file.html", "/img.png")),
    "lc_charsets_iso8859_2": Case("linkchecker", "iso8859-2.html", broken=("/file.html", "/img.png")),
    "lc_charsets_cp1250": Case("linkchecker", "cp1250.html", broken=("/file.html", "/img.png")),
    "lc_frames": Case("linkchecker", "frames.html", ok=("/file.html", "/file.txt")),
    "lc_html5": Case(
        "linkchecker",
        "html5.html",
        ok=("/file.asc", "/file.txt", "/file.wml", "/file.html"),
        divergent={
            "/file.css": "<button formaction>: requested only when a form is submitted",
            "/file.php": "<html manifest>: AppCache, removed from browsers",
        },
    ),
    "lc_http": Case(
        "linkchecker",
        "http.html",
        ok=("/?d=directory&p=page", "/?d=directory&p=page1", "/?q=%FC | /?q=%C3%BC", "/file.asc", "/file.txt"),
        broken=("@CLOSED@/garantiertnixgutt", "@CLOSED@/.example.org/"),
        unfetched=("@TRAP@/dns-prefetch-1", "@TRAP@/dns-prefetch-2", "@TRAP@/nocheckin"),
        divergent={
            "@CLOSED@/foo/ #a=1,2,3": "<object codebase>: ActiveX, never loaded by browsers",
            "/file.css": "<applet src>: applets are gone from browsers",
        },
    ),
    "lc_xhtml": Case(
        "linkchecker",
        "http.xhtml",
        ok=("/http.html",),
        unfetched=("@TRAP@/dns-prefetch-1", "@TRAP@/dns-prefetch-2", "@TRAP@/nocheckin"),
    ),
    "lc_http_anchor": Case(
        "linkchecker", "http_anchor.html", ok=("/http_anchor.html",), anchors_missing=("/http_anchor.html#bad",)
    ),
    "lc_http_file": Case(
        "linkchecker", "http_file.html", divergent={"file:///example/file": "file: URLs are not checked on a web site"}
    ),
    "lc_http_invalid_host": Case("linkchecker", "http_invalid_host.html", invalid=("http://localhost]",)),
    "lc_http_lowercase": Case("linkchecker", "http_lowercase.html", ok=("@OTHER@/",)),
    "lc_http_quotes": Case("linkchecker", "http_quotes.html", ok=("@OTHER@/",), broken=("/stalter&sohn",)),
    "lc_http_slash": Case(
        "linkchecker",
        "http_slash.html",
        ok=("@OTHER@/",),
        # "http:/www..." and "http:www..." are relative on an http page (WHATWG); LinkChecker reports the raw href
        broken=("/www.example.com/ | http:/www.example.com/",),
        invalid=("http://",),
    ),
    "lc_http_url_quote": Case(
        "linkchecker", "http_url_quote.html", broken=("@CLOSED@/?quoted=%FC", "@CLOSED@/?quoted=%FF")
    ),
    "lc_misc": Case(
        "linkchecker",
        "misc.html",
        ok=("@OTHER@/", "/test.swf"),
        divergent={"/favicon.ico": "href on <meta> is no link in HTML"},
    ),
    "lc_norobots": Case(
        "linkchecker",
        "norobots.html",
        divergent={"/do_not_check.html": "robots nofollow speaks to search engines; your broken link is still broken"},
    ),
    "lc_redirect": Case(
        "linkchecker",
        ok=("/tests/checker/data/redirect.html", "/tests/checker/data/redir.html"),
        broken=("/redirect1", "/redirect_newscheme_ftp", "/redirect_newscheme_file"),
    ),
    "lc_robots": Case("linkchecker", unfetched=("/secret",)),
    "lc_status": Case(
        "linkchecker",
        ok=tuple(f"{_S}{n}" for n in (200, 201, 202, 203, 204, 205, 206, 207, 208, 226)),
        broken=tuple(
            f"{_S}{n}"
            for n in (*range(400, 419), 421, 422, 423, 424, 425, 426, 428, 431, 451, 500, 501, 502, 503, 504, 505)
            if n not in (419, 420)
        )
        + tuple(f"{_S}{n}" for n in (506, 507, 508, 510, 511)),
        divergent={
            f"{_S}429": "429 is rate limiting: transient, not rot",
            **{f"{_S}{n}": "a 3xx without Location is an invalid answer" for n in (300, 301, 302, 303, 304, 305, 307, 308)},
        },
    ),
    "lc_urlencoding_anchor": Case(
        "linkchecker",
        "urlencoding_anchor.html",
        ok=("/urlencoding_anchor.html",),
        anchors_missing=("/urlencoding_anchor.html#bad",),
    ),
    "lc_whitespace": Case(
        "linkchecker", ok=("@OTHER@/lead", "@OTHER@/newline", "@OTHER@/trail", "@OTHER@/trailnl")
    ),
    # -- lychee (fixtures/*.html and the tests that read them) ------------------------------------
    "ly_html5": Case(
        "lychee",
        "TEST_HTML5.html",
        broken=(
            "/head/home",
            "/images/icon.png",
            "/css/style_full_url.css",
            "/css/style_relative_url.css",
            "/js/script.js",
            "/body/a",
            "/body/div_empty_a",
        ),
    ),
    "ly_minified": Case(
        "lychee",
        "TEST_HTML5_MINIFIED.html",
        ok=("/",),
        broken=("/favicon.ico", "/docs/", "/forum"),
        unfetched=("@TRAP@/",),
    ),
    "ly_malformed": Case(
        "lychee",
        "TEST_HTML5_MALFORMED_LINKS.html",
        ok=("/valid",),
        invalid=("https://example]org/malformed_two",),
    ),
    "ly_data_uris": Case(
        "lychee", "TEST_DATA_URIS.html", broken=("@OTHER@/2000/svg", "/assets/img/bg-water.webp")
    ),
    "ly_link_period": Case("lychee", "LINK_PERIOD.html", broken=("/smth.",)),
    "ly_resolve_paths": Case("lychee", ok=("/", "/about", "/another%20page")),
    "ly_verbatim": Case(
        "lychee",
        "TEST_VERBATIM.html",
        broken=("@OTHER@/pre/a",),
        unfetched=tuple(f"@OTHER@/{p}" for p in ("pre", "code", "samp", "kbd", "var", "script")),
    ),
    "ly_fragments": Case(
        "lychee",
        "file.html",
        ok=("/file1.md", "@OTHER@/lychee"),
        anchors_missing=("/file.html#in-the-end", "/file.html#in-THE-begiNNing"),
    ),
    # -- linkinator (test/fixtures/* and test/test.index.ts) ----------------------------------------
    "li_basetag_relative_to_root": Case(
        "linkinator", "pageBase/index", ok=("/anotherBase/ok",), broken=("/anotherBase/broken",)
    ),
    "li_basetag_relative_folder": Case(
        "linkinator", "pageBase/index", ok=("/pageBase/anotherBase/ok",), broken=("/pageBase/anotherBase/broken",)
    ),
    "li_basetag_relative_dot_folder": Case(
        "linkinator", "pageBase/index", ok=("/pageBase/anotherBase/ok",), broken=("/pageBase/anotherBase/broken",)
    ),
    "li_basetag_relative_page": Case(
        "linkinator", "pageBase/index", ok=("/pageBase/ok",), broken=("/pageBase/broken",)
    ),
    "li_basetag_empty_base": Case("linkinator", "pageBase/index", ok=("/pageBase/ok",), broken=("/pageBase/broken",)),
    "li_basetag_absolute": Case("linkinator", "pageBase/index", ok=("@OTHER@/ok",), broken=("@OTHER@/broken",)),
    "li_basic": Case("linkinator", ok=("@OTHER@/",)),
    "li_head_405": Case("linkinator", ok=("@OTHER@/",), other_head_status=405),
    "li_head_403": Case("linkinator", ok=("@OTHER@/",), other_head_status=403),
    "li_twice": Case("linkinator", ok=("@OTHER@/",)),
    "li_image": Case("linkinator", ok=("/boo.jpg",), broken=("/missing.png", "/missing.jpg")),
    "li_picture": Case("linkinator", ok=("/image.jpeg", "/image.webp")),
    "li_srcset": Case("linkinator", ok=("/_site/foo.html", "/_site/bar.html")),
    "li_scripts": Case("linkinator", ok=("/script.js",), unfetched=("/uhoh.html",)),
    "li_prefetch": Case("linkinator", ok=("@OTHER@/site.css",), unfetched=("@TRAP@/",)),
    "li_twittercard": Case("linkinator", ok=("@OTHER@/",)),
    "li_metarefresh": Case(
        "linkinator",
        ok=("@OTHER@/redirected",),
        divergent={
            "@OTHER@/delayed": "the page refreshes at once to /redirected: browsers never run its later refreshes",
            "@OTHER@/uppercase": "the page refreshes at once to /redirected: browsers never run its later refreshes",
        },
    ),
    "li_alternate": Case("linkinator", ok=("@OTHER@/", "@OTHER@/es")),
    "li_urlpatterns": Case("linkinator", ok=("/funky%2Bpath.html",)),
    "li_malformed": Case("linkinator", invalid=("//////",)),
    "li_relative": Case("linkinator", ok=("/ohai.html", "/nested/index.html", "/nested/nested.html")),
    "li_fragments_404": Case("linkinator", broken=("/missing-page.html",)),
    "li_fragments_demo": Case(
        "linkinator", ok=("/target.html",), anchors_missing=("/target.html#nonexistent-section",)
    ),
    # -- muffet (link_finder_test.go) and hyperlink (src/html/mod.rs) -----------------------------
    "mu_link_finder": Case(
        "muffet",
        ok=("/",),
        broken=("/foo", "/iframe", "/foo.jpg", "/link", "/foo.js", "/foo.png", "/bar.png", "/foo.vtt"),
    ),
    "mu_spaces_meta": Case("muffet", ok=("@OTHER@/a%20b", "@OTHER@/"), broken=("/foo.png",)),
    "hl_document_links": Case(
        "hyperlink",
        "platforms/python/troubleshooting/index.html",
        broken=(
            "/platforms/ruby/",
            "/platforms/perl/",
            "/platforms/rust/",
            "/platforms/go/?foo=bar&bar=baz",
            "/platforms/python/troubleshooting/ma",
            "/platforms/python/troubleshooting/%5Bslug%5D.js",
            "/platforms/python/troubleshooting/%5Bschlug%5D.js",
            "/platforms/python/troubleshooting/case",
            "/platforms/python/troubleshooting/whitespace",
            "@OTHER@/googel",
            "/static/image.png",
            "/static/image300.png",
            "/static/image600.png",
        ),
    ),
}


# -- serving -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path | None, ports: dict[str, int], *, trap: bool = False, case: str = "",
                 head_status: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root, self.ports, self.trap, self.case, self.head_status = root, ports, trap, case, head_status
        self.hits: list[tuple[str, str]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up (a HEAD answered, a stopped download) is no failure of the case

    @property
    def port(self) -> int:
        return self.server_address[1]

    def fill(self, data: bytes) -> bytes:
        for name, port in self.ports.items():
            data = data.replace(f"@{name}@".encode(), str(port).encode())
        return data


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_HEAD(self) -> None:
        self.answer(head=True)

    def do_GET(self) -> None:
        self.answer(head=False)

    def answer(self, head: bool) -> None:
        srv = self.server
        srv.hits.append((self.command, self.path))
        path = unquote(urlsplit(self.path).path)
        if srv.trap:
            return self.send(200, b"trap\n", "text/plain", head)
        if head and srv.head_status:
            return self.send(srv.head_status, b"", "text/plain", head)
        if srv.case == "lc_status" and path.startswith("/status/"):
            return self.send(int(path.rsplit("/", 1)[1]), b"status\n", "text/plain", head)
        if srv.case == "lc_redirect" and "redirect" in path:
            # LinkChecker's CookieRedirectHttpRequestHandler: /redirectX -> /newurlX, other schemes refused
            target = {"ftp": "ftp://example.com/", "file": "file:README"}.get(path.rsplit("_", 1)[-1])
            return self.send(302, b"", "text/plain", head, {"Location": target or self.path.replace("redirect", "newurl")})
        assert srv.root is not None
        if path == "/" and not srv.root.is_dir():  # the peers' mocks answer 200 for another origin's root
            return self.send(200, b"<html><body>ok</body></html>", "text/html", head)
        file = (srv.root / path.lstrip("/")).resolve()
        if not str(file).startswith(str(srv.root.resolve())) or not file.exists():
            return self.send(404, b"<html><body>not found</body></html>", "text/html", head)
        if file.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return self.send(301, b"", "text/plain", head, {"Location": self.path.split("?")[0] + "/"})
            if (file / "index.html").is_file():
                file = file / "index.html"
            else:  # a listing, as SimpleHTTPRequestHandler answers
                names = sorted(p.name + ("/" if p.is_dir() else "") for p in file.iterdir() if p.name != "_other")
                body = "".join(f'<li><a href="{n}">{n}</a></li>' for n in names)
                return self.send(200, f"<html><body><ul>{body}</ul></body></html>".encode(), "text/html", head)
        ctype = mimetypes.guess_type(file.name)[0] or ("text/html" if "." not in file.name else "application/octet-stream")
        self.send(200, srv.fill(file.read_bytes()), ctype, head)

    def send(self, status: int, body: bytes, ctype: str, head: bool, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Servers:
    site: _Server
    other: _Server
    trap: _Server
    closed: int

    def origin(self, name: str) -> str:
        port = {"PORT": self.site.port, "OTHER": self.other.port, "TRAP": self.trap.port, "CLOSED": self.closed}[name]
        return f"http://127.0.0.1:{port}"

    def url(self, spec: str) -> str:
        """An expectation's URL (``/p``, ``@OTHER@/p``) as an absolute URL."""
        for name in ("OTHER", "TRAP", "CLOSED"):
            if spec.startswith(f"@{name}@"):
                return self.origin(name) + spec[len(name) + 2 :]
        return self.origin("PORT") + spec if spec.startswith("/") else spec

    def close(self) -> None:
        for server in (self.site, self.other, self.trap):
            server.shutdown()
            server.server_close()


def serve(case: str, spec: Case, fixtures: Path = FIXTURES) -> Servers:
    ports: dict[str, int] = {"CLOSED": _closed_port()}
    trap = _Server(None, ports, trap=True)
    other = _Server(fixtures / case / "_other", ports, case=case, head_status=spec.other_head_status)
    site = _Server(fixtures / case, ports, case=case)
    ports.update(PORT=site.port, OTHER=other.port, TRAP=trap.port)
    return Servers(site, other, trap, ports["CLOSED"])


# -- tools: each returns {url or raw href: "ok" | "broken" | "invalid" | other} -------------------


def _key(url: str) -> str:
    return normalize_url(url) or url.strip()


def run_linkrot(start: str, workdir: Path, timeout: float) -> dict[str, str]:
    db = workdir / "linkrot.db"
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "linkrot.settings"}
    subprocess.run(
        [str(VENV / "scrapy"), "crawl", "site", "-a", f"url={start}", "-s", f"LINKROT_DB={db}",
         "-s", "LOG_LEVEL=WARNING", "-s", "LINKROT_SITEMAP=0", "-s", "LINKROT_RENDER=never",
         "-s", "DOWNLOAD_TIMEOUT=10", "-s", "RETRY_ENABLED=0"],
        cwd=ROOT, env=env, timeout=timeout, capture_output=True, check=False,
    )  # fmt: skip
    if not db.exists():
        return {}
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT url, outcome FROM urls").fetchall()
    finally:
        conn.close()
    found: dict[str, str] = {}
    for url, outcome in rows:
        try:
            status = Status(outcome)
        except ValueError:
            found[_key(url)] = outcome
            continue
        verdict = "invalid" if status is Status.INVALID_URL else "broken" if status.is_error else status.value
        found[url.strip() if status is Status.INVALID_URL else _key(url)] = verdict
    return found


def run_linkchecker(start: str, workdir: Path, timeout: float) -> dict[str, str]:
    exe = VENV / "linkchecker"
    if not exe.exists():
        raise FileNotFoundError("LinkChecker is not installed: pip install -e '.[bench]'")
    config = workdir / "linkcheckerrc"
    config.write_text("[checking]\nmaxrequestspersecond=100\n[filtering]\ncheckextern=1\n")
    proc = subprocess.run(
        [str(exe), "-f", str(config), "--no-status", "-o", "csv", "--verbose", "--check-extern",
         "--recursion-level", "2", start],
        cwd=workdir, timeout=timeout, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    found: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"):
        raw, real, valid = (row.get("urlname") or "").strip(), row.get("url") or "", row.get("valid") == "True"
        # an error on a URL that is no http(s) URL at all is LinkChecker's "invalid URL"
        verdict = "ok" if valid else "broken" if normalize_url(real or raw) else "invalid"
        # urlname is the href as written: relative ones resolve against the page (real url is after redirects)
        base = row.get("baseref") or row.get("parentname") or ""
        written = _key(urljoin(base, raw)) if base and raw else ""
        for key in {raw, _key(raw), _key(real), written} - {""}:
            if found.get(key) not in ("broken", "invalid"):  # one failure of a URL is enough
                found[key] = verdict
    return found


TOOLS = {"linkrot": run_linkrot, "linkchecker": run_linkchecker}


# -- scoring -------------------------------------------------------------------------------------


@dataclass
class Score:
    case: str
    tool: str
    misses: list[str] = field(default_factory=list)  # what failed, one line each
    checked: int = 0  # expectations scored

    @property
    def matched(self) -> bool:
        return not self.misses


def score(case: str, spec: Case, servers: Servers, found: dict[str, str], tool: str) -> Score:
    result = Score(case, tool)

    def verdict(spec_url: str) -> tuple[str, str | None]:
        alternatives = [servers.url(s.strip()) for s in spec_url.split("|")]
        for url in alternatives:
            if _key(url) in found:
                return url, found[_key(url)]
        return alternatives[0], None

    for want, urls in (("ok", spec.ok), ("broken", spec.broken)):
        for spec_url in urls:
            result.checked += 1
            url, got = verdict(spec_url)
            if got != want and not (want == "broken" and got == "invalid"):  # an error either way
                result.misses.append(f"{want}: {url} -> {got or 'not checked'}")
    for href in spec.invalid:
        result.checked += 1
        got = found.get(href.strip())
        if got != "invalid":
            result.misses.append(f"invalid: {href!r} -> {got or 'not reported'}")
    hits = {
        servers.origin("PORT"): servers.site.hits,
        servers.origin("OTHER"): servers.other.hits,
        servers.origin("TRAP"): servers.trap.hits,
    }
    for spec_url in spec.unfetched:
        result.checked += 1
        url = servers.url(spec_url)
        origin, path = url[: url.index("/", 8)], url[url.index("/", 8) :]
        fetched = [p for _, p in hits[origin] if unquote(p.split("?")[0]).rstrip("/") == path.rstrip("/") or path == "/"]
        if fetched:
            result.misses.append(f"unfetched: {url} -> fetched {len(fetched)}x")
    # anchors_missing is opt-in in every peer: scored only once linkrot reports fragments
    return result


def run_case(case: str, tool: str, *, fixtures: Path = FIXTURES, timeout: float = 120) -> Score:
    spec = CASES[case]
    servers = serve(case, spec, fixtures)
    try:
        with tempfile.TemporaryDirectory(prefix=f"peers-{case}-") as tmp:
            start = f"{servers.origin('PORT')}/{spec.start}"
            found = TOOLS[tool](start, Path(tmp), timeout)
        return score(case, spec, servers, found, tool)
    finally:
        servers.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", default="linkrot,linkchecker")
    parser.add_argument("--cases", default="", help="comma-separated prefixes of case names (default: all)")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--json", type=Path, help="write every score here")
    parser.add_argument("-v", "--verbose", action="store_true", help="list each miss")
    args = parser.parse_args(argv)
    if not args.fixtures.is_dir():
        print(f"no fixtures at {args.fixtures}", file=sys.stderr)
        return 2
    prefixes = [p for p in args.cases.split(",") if p]
    cases = [c for c in CASES if (args.fixtures / c).is_dir() and (not prefixes or c.startswith(tuple(prefixes)))]
    tools = [t for t in args.tools.split(",") if t]
    scores: dict[str, dict[str, Score]] = {}
    for case in cases:
        scores[case] = {}
        for tool in tools:
            try:
                scores[case][tool] = run_case(case, tool, fixtures=args.fixtures, timeout=args.timeout)
            except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
                scores[case][tool] = Score(case, tool, [f"did not run: {exc}"])
    _print_table(cases, tools, scores, args.verbose)
    if args.json:
        args.json.write_text(json.dumps(
            {c: {t: {"matched": s.matched, "checked": s.checked, "misses": s.misses} for t, s in row.items()}
             for c, row in scores.items()}, indent=1))  # fmt: skip
    return 0


def _print_table(cases: list[str], tools: list[str], scores: dict[str, dict[str, Score]], verbose: bool) -> None:
    width = max(len(c) for c in cases)
    print(f"{'case':<{width}}  {'peer':<11} {'n':>3}  " + "  ".join(f"{t:>11}" for t in tools))
    totals = dict.fromkeys(tools, 0)
    scored = 0
    for case in cases:
        spec = CASES[case]
        row = scores[case]
        n = next(iter(row.values())).checked if row else 0
        if n == 0:
            print(f"{case:<{width}}  {spec.peer:<11} {n:>3}  " + "  ".join(f"{'unscored':>11}" for _ in tools))
            continue
        scored += 1
        cells = []
        for tool in tools:
            s = row[tool]
            totals[tool] += s.matched
            cells.append(f"{'match' if s.matched else f'{len(s.misses)} miss':>11}")
        print(f"{case:<{width}}  {spec.peer:<11} {n:>3}  " + "  ".join(cells))
        if verbose:
            for tool in tools:
                for miss in row[tool].misses:
                    print(f"    {tool}: {miss}")
            for url, why in spec.divergent.items():
                print(f"    divergent (not scored) {url}: {why}")
    print(f"\n{'matched':<{width}}  {'':<11} {scored:>3}  " + "  ".join(f"{totals[t]:>11}" for t in tools))


if __name__ == "__main__":
    sys.exit(main())
