"""Against pages no one on this project wrote: a real published site, served as its host serves it.

The pages live outside the project (``../shared/realworld-sites/``, other people's work, never
copied in); without them these tests are skipped.  The site is served like GitHub Pages: a
directory answers its ``index.html``, a directory without its trailing slash redirects to it, a
missing path answers the site's own ``404.html`` with status 404.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT, crawl

from linkrot.extract import main_text, parse_html

OIWIKI = ROOT.parent / "shared" / "realworld-sites" / "oiwiki-sample"
#: an article whose main content is shorter than this may be a stub (its title and edit links)
STUB_CHARS = 300


class PagesHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture(scope="module")
def oiwiki(tmp_path_factory):
    if not (OIWIKI / "index.html").is_file():
        pytest.skip(f"{OIWIKI} is not here (reference material outside the project)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(PagesHandler, directory=str(OIWIKI)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield origin, crawl(tmp_path_factory.mktemp("oiwiki") / "oiwiki.db", origin, "external=0")
    finally:
        server.shutdown()
        server.server_close()


def article_chars(origin: str, url: str) -> int:
    path = url.removeprefix(origin).split("?")[0]
    file = OIWIKI / path / "index.html" if not path.endswith(".html") else OIWIKI / path
    page = parse_html(file.read_bytes(), "utf-8")
    return len(main_text(page).replace(" ", ""))


def test_no_real_article_of_a_big_template_cjk_site_is_a_soft_404(oiwiki):
    origin, result = oiwiki
    pages = [r for r in result.rows("pages") if r["status"] == 200 and r["url"].startswith(origin)]
    assert len(pages) > 40  # the sample's pages were crawled
    flagged = [r["url"] for r in result.rows("soft_404s")]
    assert origin not in flagged  # the home page (0.838 similar, whole page against whole page, before)
    real = [url for url in flagged if article_chars(origin, url) >= STUB_CHARS]
    assert real == []


def test_a_sitemap_on_the_production_host_is_not_fetched_when_external_checks_are_off(oiwiki):
    _, result = oiwiki
    # robots.txt names https://oi-wiki.org/sitemap.xml: nothing goes there, and the run says so, once
    assert "oi-wiki.org" not in " ".join(r["url"] for r in result.rows("pages"))
    assert result.stats.get("linkrot/sitemaps_not_fetched") == 1
    warnings = [line for line in result.log.splitlines() if "WARNING" in line and "oi-wiki.org" in line]
    assert len(warnings) == 1 and "external checks are off" in warnings[0]
