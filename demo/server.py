"""A small local web server for the demo, the tests and the benchmarks (stdlib only).

It serves a directory, with per-host sub-directories for virtual hosts, a
``_routes.json`` table of redirects and statuses, and query-string routes in
the style of Scrapy's mock server:

- ``/status?n=404`` answers that status;
- ``/redirect-to?goto=URL&n=301`` redirects (raw ``Location``, relative or not);
- ``/delay?n=2`` answers after that many seconds;
- ``/echo-host`` answers the Host header it received;
- ``/endless?n=1`` redirects to ``/endless?n=2``, and so on for ever;
- ``/generated?n=1`` is a page linking to ``?n=2`` and ``?n=3``: an endless site;
- ``/facets?f=1,2`` links to 40 more filter combinations: a crawl trap.

``auth=("user", "password")`` makes it a protected site: every request without those
HTTP basic-auth credentials answers ``401`` with a ``WWW-Authenticate`` challenge.
``record_headers=True`` keeps the headers of every request in ``received`` (``(method,
path, {name: value})``, names lower-cased), so a test can see what a crawler sent.

A route of ``_routes.json`` (key ``host/path`` or ``/path``) has ``status``,
``redirect``, ``headers``, ``content_type``, and ``body`` or ``file`` (a file
under the root, sent as its bytes); ``"gzip": true`` compresses the answer.

``{{port}}`` and ``{{origin}}`` in served HTML/XML/text are replaced with the
server's port and the origin the request was sent to (its ``Host`` header), so
static pages can hold absolute links: a site reached as ``www.demo.test:PORT``
lists itself under that name in its sitemap, not under 127.0.0.1.

``hosts`` maps host names to directories of their own (anywhere), each with
its own ``_routes.json`` (keys ``/path``; the root's routes do not apply to
them): the demo serves its site and its web of referring pages from one
server, so one port appears in every URL.
"""

from __future__ import annotations

import base64
import gzip
import json
import mimetypes
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_TEXT_TYPES = (".html", ".htm", ".xml", ".txt")


class SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.handle_request(head=True)

    def do_GET(self) -> None:
        self.handle_request(head=False)

    def handle_request(self, head: bool) -> None:
        self.server.hits.append((self.command, self.headers.get("Host", ""), self.path))
        if self.server.record_headers:
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.server.received.append((self.command, self.path, headers))
        if self.server.auth is not None and self.headers.get("Authorization") != self.server.auth:
            body = b"<html><head><title>Log in</title></head><body>Log in first</body></html>"
            challenge = {"WWW-Authenticate": 'Basic realm="staging", charset="UTF-8"'}
            return self.send(401, body, "text/html; charset=utf-8", head, challenge)
        if self.server.delay:  # a slower site: several crawlers share the work (tests/test_scale.py)
            time.sleep(self.server.delay)
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = unquote(parts.path)
        route = self.server.route(self.host(), path)
        if route is not None:
            return self.answer_route(route, head)
        if path == "/status":
            return self.send(int(query.get("n", 200)), b"status page\n", "text/plain", head)
        if path == "/redirect-to":
            return self.send(
                int(query.get("n", 302)), b"", "text/plain", head, {"Location": query.get("goto", "/")}
            )
        if path == "/delay":
            time.sleep(float(query.get("n", 1)))
            return self.send(200, b"<html><body>late</body></html>", "text/html", head)
        if path == "/endless":
            goto = f"/endless?n={int(query.get('n', 1)) + 1}"
            return self.send(302, b"", "text/plain", head, {"Location": goto})
        if path == "/generated":
            n = int(query.get("n", 1))
            body = f'<html><head><title>Page {n}</title></head><body><a href="/generated?n={n + 1}">next</a> '
            body += f'<a href="/generated?n={n + 2}">skip</a></body></html>'
            return self.send(200, body.encode(), "text/html; charset=utf-8", head)
        if path == "/facets":  # faceted navigation: every filter combines with every other
            chosen = [f for f in query.get("f", "").split(",") if f]
            links = "".join(
                f'<a href="/facets?f={",".join(sorted({*chosen, str(k)}))}">filter {k}</a> '
                for k in range(40)
            )
            return self.send(
                200, f"<html><body>{links}</body></html>".encode(), "text/html; charset=utf-8", head
            )
        if path == "/echo-host":
            return self.send(200, self.headers.get("Host", "").encode(), "text/plain", head)
        file = self.server.file_for(self.host(), path)
        if file is None:
            body = self.server.not_found_page(self.host(), self.origin())
            return self.send(404, body, "text/html; charset=utf-8", head)
        ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("xml"):
            ctype += "; charset=utf-8"
        return self.send(200, self.server.render(file, self.origin()), ctype, head)

    def host(self) -> str:
        return self.headers.get("Host", "").rsplit(":", 1)[0].lower()

    def origin(self) -> str:
        host = self.headers.get("Host", "")
        return f"http://{host}" if host else self.server.origin

    def answer_route(self, route: dict, head: bool) -> None:
        headers = dict(route.get("headers", {}))
        if "redirect" in route:
            headers["Location"] = route["redirect"].replace("{{port}}", str(self.server.port))
        status = int(route.get("status", 301 if "redirect" in route else 200))
        if "file" in route:  # bytes as they are: pages in other charsets
            body = self.server.render(self.server.root / route["file"], self.origin())
        else:
            body = route.get("body", "").replace("{{port}}", str(self.server.port)).encode()
        if route.get("gzip"):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.send(status, body, route.get("content_type", "text/html; charset=utf-8"), head, headers)

    def send(self, status: int, body: bytes, ctype: str, head: bool, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
        except ValueError:
            self.send_response_only(status, HTTPStatus.OK.phrase)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class SiteServer(ThreadingHTTPServer):
    """Serve ``root`` on 127.0.0.1 (port 0 picks a free one); use as a context manager."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a crawler opening dozens of connections at once
    # gets SYNs dropped and waits for retransmits (1 s, 3 s, ...) or times out
    request_queue_size = 1024

    def __init__(
        self,
        root: str | Path,
        port: int = 0,
        host: str = "127.0.0.1",
        hosts: Mapping[str, str | Path] | None = None,
        delay: float = 0.0,
        auth: tuple[str, str] | None = None,
        record_headers: bool = False,
    ) -> None:
        super().__init__((host, port), SiteHandler)
        self.delay = delay  # seconds every answer waits
        self.auth = None if auth is None else "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        self.record_headers = record_headers
        self.received: list[tuple[str, str, dict[str, str]]] = []  # with record_headers
        self.root = Path(root).resolve()
        self.port = self.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self.hits: list[tuple[str, str, str]] = []  # (method, Host, path) of every request, the request log
        self.routes: dict[str, dict] = {}
        routes_file = self.root / "_routes.json"
        if routes_file.exists():
            self.routes = json.loads(routes_file.read_text())
        self.hosts = {name.lower(): Path(path).resolve() for name, path in (hosts or {}).items()}
        for name, vroot in self.hosts.items():
            routes_file = vroot / "_routes.json"
            if routes_file.exists():  # its "/path" routes are its own, not every host's
                for path, route in json.loads(routes_file.read_text()).items():
                    self.routes[f"{name}{path}"] = route
        self._thread: threading.Thread | None = None

    def route(self, host: str, path: str) -> dict | None:
        if host in self.hosts:
            return self.routes.get(f"{host}{path}")
        return self.routes.get(f"{host}{path}") or self.routes.get(path)

    def site_root(self, host: str) -> Path:
        if host in self.hosts:
            return self.hosts[host]
        vhost = self.root / host
        return vhost if host and vhost.is_dir() else self.root

    def file_for(self, host: str, path: str) -> Path | None:
        root = self.site_root(host)
        candidate = (root / path.lstrip("/")).resolve()
        if root not in candidate.parents and candidate != root:
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_file() or candidate.name.startswith("_") or candidate.name == "404.html":
            return None
        return candidate

    def render(self, file: Path, origin: str | None = None) -> bytes:
        data = file.read_bytes()
        if file.suffix in _TEXT_TYPES:
            data = data.replace(b"{{port}}", str(self.port).encode()).replace(
                b"{{origin}}", (origin or self.origin).encode()
            )
        return data

    def not_found_page(self, host: str, origin: str | None = None) -> bytes:
        page = self.site_root(host) / "404.html"
        if not page.is_file():
            return b"<html><body><h1>Not Found</h1></body></html>"
        return self.render(page, origin)

    def __enter__(self) -> SiteServer:
        self._thread = threading.Thread(target=self.serve_forever, name="linkrot-webserver", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
