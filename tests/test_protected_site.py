"""Auditing a site behind a login: credentials go to the site and nowhere else, and are never kept.

Two local servers: the protected site (``www.staging.test``, HTTP basic auth, every request's
headers recorded; ``docs.staging.test`` is another host of the same server) and another host
(``other.test``) that records what it was sent.
"""

from __future__ import annotations

import json

import pytest
from conftest import crawl, log_problems
from linkrot.spiders.site import SiteSpider
from scrapy import Request
from scrapy.http import Response
from test_components import crawler_for

from demo.server import SiteServer
from linkrot.auth import Login, SiteLogin, parse_headers, redact
from linkrot.errors import ConfigError
from linkrot.middlewares import SiteLoginMiddleware
from linkrot.run import RunSpec

USER, PASSWORD, TOKEN = "ann", "Pa55-w0rd-never-stored", "tok-3f9e7d-never-stored"
RESOLVE = {"LINKROT_RESOLVE": "*.test=127.0.0.1"}


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    root = tmp_path_factory.mktemp("other")
    for name in ("page.html", "landing.html"):
        (root / name).write_text("<html><body>another host</body></html>")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with SiteServer(root, record_headers=True) as server:
        yield server


@pytest.fixture(scope="module")
def staging(tmp_path_factory, other):
    root = tmp_path_factory.mktemp("staging")
    elsewhere = f"http://other.test:{other.port}"
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\nSitemap: {{origin}}/sitemap.xml\n")
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{{origin}}/</loc></url><url><loc>{{origin}}/orphan.html</loc></url></urlset>"
    )
    (root / "index.html").write_text(
        '<html><head><title>Staging</title></head><body><a href="/about.html">About</a>'
        '<a href="/private/report.html">Report</a><a href="/go-elsewhere">Partner</a>'
        f'<a href="{elsewhere}/page.html">Other site</a><img src="{elsewhere}/logo.png" alt="logo">'
        '<a href="http://docs.staging.test:{{port}}/">Docs</a></body></html>'
    )
    (root / "about.html").write_text("<html><head><title>About</title></head><body>About us</body></html>")
    (root / "orphan.html").write_text("<html><head><title>Orphan</title></head><body>alone</body></html>")
    (root / "private").mkdir()
    (root / "private" / "report.html").write_text("<html><body>private</body></html>")
    (root / "_routes.json").write_text(
        json.dumps({"/go-elsewhere": {"redirect": f"{elsewhere}/landing.html", "status": 302}})
    )
    with SiteServer(root, auth=(USER, PASSWORD), record_headers=True) as server:
        yield server


def test_a_protected_site_is_crawled_with_credentials_sent_to_it_alone(staging, other, tmp_path):
    other.received.clear()
    staging.received.clear()
    site = f"http://www.staging.test:{staging.port}/"
    db = tmp_path / "x.db"
    result = crawl(
        db, site, f"http_user={USER}", f"http_pass={PASSWORD}", f"header=X-Staging-Token: {TOKEN}", **RESOLVE
    )
    pages = {r["url"].removeprefix(site): r["status"] for r in result.rows("pages")}
    assert pages["about.html"] == 200 and pages["orphan.html"] == 200 and pages[""] == 200
    assert pages["private/report.html"] == "blocked"  # robots.txt was read: it asked with the credentials
    assert [r["url"] for r in result.rows("orphans")] == [site + "orphan.html"]  # and the sitemap too
    assert result.stats["linkrot/probe/status"] == 404  # the soft-404 probe too
    # every request to the site carried both; none to another host, a subdomain or a redirect's target
    ours = [h for _, _, h in staging.received if h["host"].startswith("www.")]
    robots = [p for _, p, h in staging.received if p == "/robots.txt" and h["host"].startswith("www.")]
    assert len(robots) == 1  # read once, by Scrapy's robots.txt middleware; its Sitemap: lines from that
    assert ours and all(h.get("x-staging-token") == TOKEN and "authorization" in h for h in ours)
    assert {path for _, path, _ in other.received} >= {"/page.html", "/landing.html", "/logo.png"}
    subdomain = [h for _, _, h in staging.received if h["host"].startswith("docs.")]
    for headers in [h for _, _, h in other.received] + subdomain:
        assert "authorization" not in headers and "x-staging-token" not in headers
    assert (
        subdomain
        and result.one("urls", url=f"http://docs.staging.test:{staging.port}/")["http_status"] == 401
    )
    # never stored, never logged
    for path in tmp_path.iterdir():
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and TOKEN.encode() not in data, path
    assert PASSWORD not in result.log and TOKEN not in result.log
    args = json.loads(result.run["args"])
    assert args["http_user"] == USER and args["http_pass"] == "(redacted)"
    assert args["header"] == "X-Staging-Token: (redacted)"
    assert not log_problems(result.log)["WARNING"]


def test_without_credentials_the_crawl_says_the_site_asks_for_a_login(staging, tmp_path):
    site = f"http://www.staging.test:{staging.port}/"
    result = crawl(tmp_path / "x.db", site, **RESOLVE)
    assert result.one("pages", url=site)["status"] == 401
    warnings = log_problems(result.log)["WARNING"]
    login = [w for w in warnings if "asks for a login" in w]
    assert len(login) == 1, warnings
    assert "Basic authentication" in login[0]
    assert "-a http_user=USER -a http_pass=PASSWORD" in login[0] and "-a header=" in login[0]
    assert result.stats["linkrot/start/login_required"] == 401


def test_refused_credentials_are_said_to_be_refused(staging, tmp_path):
    site = f"http://www.staging.test:{staging.port}/"
    result = crawl(tmp_path / "x.db", site, f"http_user={USER}", "http_pass=wrong-one", **RESOLVE)
    warnings = [w for w in log_problems(result.log)["WARNING"] if "asks for a login" in w]
    assert len(warnings) == 1 and "even with the credentials given (basic auth as 'ann')" in warnings[0]
    assert "wrong-one" not in result.log


def test_the_middleware_adds_credentials_on_the_way_out_and_takes_them_back(tmp_path):
    site = "https://staging.example.test/"
    crawler = crawler_for(
        SiteSpider, tmp_path / "x.db", url=site, http_user=USER, http_pass=PASSWORD, header="Cookie: s=1"
    )
    assert not hasattr(crawler.spider, "http_pass")  # not left on the spider for anything to find
    middleware = SiteLoginMiddleware.from_crawler(crawler)
    request = Request(site + "page")
    middleware.process_request(request)
    assert request.headers[b"Authorization"].startswith(b"Basic ") and request.headers[b"Cookie"] == b"s=1"
    middleware.process_response(request, Response(site + "page", status=503, request=request))
    # a retry copies the request: it must hold no credential while it waits in a queue
    assert b"Authorization" not in request.headers and b"Cookie" not in request.headers
    for url in (
        "https://other.example.test/",
        "http://staging.example.test/",
        "https://x.staging.example.test/",
    ):
        outside = Request(url, headers={"Cookie": "leaked"})
        middleware.process_request(outside)
        assert b"Authorization" not in outside.headers and b"Cookie" not in outside.headers, url


def test_no_login_no_middleware(tmp_path):
    from scrapy.exceptions import NotConfigured

    crawler = crawler_for(SiteSpider, tmp_path / "x.db", url="https://www.example.test/")
    with pytest.raises(NotConfigured):
        SiteLoginMiddleware.from_crawler(crawler)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://www.shop.test/a", True),
        ("https://WWW.shop.test/a?b", True),
        ("http://www.shop.test/a", False),  # never down to plain http
        ("https://www.shop.test:8443/a", False),  # another port is another site
        ("https://shop.test/a", False),
        ("https://cdn.www.shop.test/a", False),  # Scrapy's HttpAuthMiddleware would send here
        ("https://blog.shop.test/a", False),
        ("https://www.shop.test.evil.test/a", False),
    ],
)
def test_credentials_go_to_the_site_only(url, sent):
    site_login = SiteLogin(Login(USER, PASSWORD), "https://www.shop.test/")
    assert bool(site_login.headers_for(url)) is sent


def test_with_subdomains_the_site_is_every_host_of_its_domain():
    site_login = SiteLogin(Login(USER, PASSWORD), "http://www.shop.test/", subdomains=True)
    assert site_login.applies("https://blog.shop.test/") and site_login.applies("http://shop.test/")
    assert not site_login.applies("http://shop.test.evil.test/")


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        ("Cookie: session=abc", (("Cookie", "session=abc"),)),
        ("Cookie: a=1; b=2, X-Token: t", (("Cookie", "a=1; b=2"), ("X-Token", "t"))),
        ("Accept: text/html, */*", (("Accept", "text/html, */*"),)),  # a comma inside a value stays
        ("X-A: 1\nX-B:2", (("X-A", "1"), ("X-B", "2"))),
        ("", ()),
    ],
)
def test_header_arguments(value, headers):
    assert parse_headers(value) == headers


def test_credentials_can_come_from_the_environment_out_of_sight_of_ps(staging, tmp_path, monkeypatch):
    monkeypatch.setenv("LINKROT_HTTP_USER", USER)
    monkeypatch.setenv("LINKROT_HTTP_PASS", PASSWORD)
    site = f"http://www.staging.test:{staging.port}/"
    result = crawl(tmp_path / "env.db", site, **RESOLVE)
    assert result.one("pages", url=site + "about.html")["status"] == 200
    assert "linkrot/start/login_required" not in result.stats
    assert PASSWORD not in (tmp_path / "env.db").read_bytes().decode("latin-1")
    # an argument wins over the environment
    env = {"LINKROT_HTTP_USER": "env-user", "LINKROT_HEADER": "X-T: 1"}
    assert Login.from_args({"http_user": "arg-user"}, env).describe() == "basic auth as 'arg-user', header X-T"
    assert Login.from_args({}, {}) is None


@pytest.mark.parametrize("value", ["Cookie session=abc", "Bad Name: x", "X-A: 1\n2"])
def test_a_bad_header_is_refused_without_showing_its_value(value):
    with pytest.raises(ConfigError, match="header: expected 'Name: value'") as error:
        parse_headers(value)
    assert "abc" not in str(error.value) and "1\n2" not in str(error.value)


def test_secrets_are_redacted_from_the_stored_arguments_and_reprs():
    args = {"url": "https://s.test/", "http_user": "ann", "http_pass": "pw", "header": "Cookie: s=1, X-T: 2"}
    assert redact(args) == {
        **args,
        "http_pass": "(redacted)",
        "header": "Cookie: (redacted), X-T: (redacted)",
    }
    assert RunSpec("https://s.test/", args).args["http_pass"] == "(redacted)"  # any spider's run row
    login = Login.from_args(args)
    assert "pw" not in repr(login) and "s=1" not in repr(login)
    assert login.describe() == "basic auth as 'ann', header Cookie, header X-T"
    with pytest.raises(ConfigError, match="cannot contain ':'"):
        Login.from_args({"http_user": "a:b"})
    assert Login.from_args({"url": "x"}) is None
