"""Sitemaps under the user's control: no traffic to a production host robots.txt names, named sitemaps,
and a staging sitemap that lists production's URLs.

Two local servers: the crawled site (``127.0.0.1:PORT``) and "production" (``oi-wiki.test:PORT``,
reached through ``LINKROT_RESOLVE``), whose request log says whether linkrot sent it anything.
"""

from __future__ import annotations

import pytest
from conftest import crawl, log_problems

from demo.server import SiteServer
from linkrot.config import sitemap_option
from linkrot.errors import ConfigError
from linkrot.sitemaps import on_site, where_to_read

RESOLVE = {"LINKROT_RESOLVE": "oi-wiki.test=127.0.0.1"}
URLSET = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{}</urlset>'


def urlset(*urls: str) -> str:
    return URLSET.format("".join(f"<url><loc>{u}</loc></url>" for u in urls))


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """Production: its own sitemap lists its own pages (never to be crawled from staging)."""
    root = tmp_path_factory.mktemp("production")
    (root / "sitemap.xml").write_text(
        urlset("{{origin}}/", "{{origin}}/guide/intro.html", "{{origin}}/guide/unlinked.html")
    )
    (root / "index.html").write_text("<html><body>production</body></html>")
    with SiteServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def staging(tmp_path_factory, production):
    """A copy of the site built for production: robots.txt names production's sitemaps."""
    root = tmp_path_factory.mktemp("staging")
    prod = f"http://oi-wiki.test:{production.port}"
    (root / "robots.txt").write_text(
        f"User-agent: *\nAllow: /\nSitemap: {prod}/sitemap.xml\nSitemap: {prod}/sitemap-news.xml\n"
    )
    (root / "index.html").write_text(
        '<html><head><title>Home</title></head><body><a href="/guide/intro.html">Intro</a>'
        f'<a href="{prod}/">production</a></body></html>'
    )
    (root / "guide").mkdir()
    (root / "guide" / "intro.html").write_text("<html><body><a href='/'>home</a> intro</body></html>")
    (root / "guide" / "unlinked.html").write_text("<html><body>no page links here</body></html>")
    (root / "orphan.html").write_text("<html><body>only the sitemap lists me</body></html>")
    (root / "sitemap.xml").write_text(urlset("{{origin}}/", "{{origin}}/orphan.html"))
    (root / "maps").mkdir()
    # built with production's site_url: every URL on production's host
    (root / "maps" / "built.xml").write_text(
        urlset(
            "https://oi-wiki.test/guide/intro.html",
            "https://oi-wiki.test/guide/unlinked.html",
            "https://oi-wiki.test/gone.html",
        )
    )
    (root / "maps" / "index.xml").write_text(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>{{origin}}/maps/built.xml</loc></sitemap>"
        f"<sitemap><loc>{prod}/sitemap.xml</loc></sitemap>"
        "</sitemapindex>"
    )
    with SiteServer(root) as server:
        yield server


def test_a_sitemap_on_another_host_is_not_fetched_without_external_checks(staging, production, tmp_path):
    production.hits.clear()
    site = f"{staging.origin}/"
    result = crawl(tmp_path / "x.db", site, "external=0", **RESOLVE)
    assert production.hits == []  # neither the sitemaps robots.txt names nor the external link
    # the site's own /sitemap.xml is read instead: its orphan is found
    assert [r["url"] for r in result.rows("orphans")] == [site + "orphan.html"]
    assert result.one("pages", url=site + "orphan.html")["found_via"] == "sitemap"
    warnings = log_problems(result.log)["WARNING"]
    assert len(warnings) == 1, warnings  # two Sitemap: lines on production, one warning
    assert f"robots.txt names a sitemap on oi-wiki.test:{production.port}" in warnings[0]
    assert "not fetched because external checks are off" in warnings[0]
    assert f"reading {site}sitemap.xml instead;" in warnings[0]
    stats = result.stats
    assert stats["linkrot/sitemaps_read"] == 1 and stats["linkrot/sitemaps_not_fetched"] == 2
    assert stats["linkrot/sitemap_urls"] == 2


def test_with_external_checks_on_the_named_production_sitemap_is_read_but_its_urls_are_not_the_site(
    staging, production, tmp_path
):
    production.hits.clear()
    site = f"{staging.origin}/"
    result = crawl(tmp_path / "x.db", site, **RESOLVE)
    sitemap_gets = [path for method, _, path in production.hits if path.startswith("/sitemap")]
    assert sorted(sitemap_gets) == ["/sitemap-news.xml", "/sitemap.xml"]
    warnings = log_problems(result.log)["WARNING"]
    assert any(f"lists 3 URLs on oi-wiki.test:{production.port}" in w for w in warnings), warnings
    assert result.stats["linkrot/sitemap_urls_offsite"] == 3
    assert [r["url"] for r in result.rows("orphans")] == [site + "orphan.html"]


def test_named_sitemaps_are_read_and_production_urls_are_reported(staging, production, tmp_path):
    production.hits.clear()
    site = f"{staging.origin}/"
    result = crawl(tmp_path / "x.db", site, "sitemap=/maps/index.xml, /sitemap.xml", "external=0", **RESOLVE)
    assert production.hits == []  # nor the production sitemap the index lists
    warnings = log_problems(result.log)["WARNING"]
    assert any(
        f"the sitemap index {site}maps/index.xml names a sitemap on oi-wiki.test" in w for w in warnings
    )
    offsite = [w for w in warnings if "/maps/built.xml lists 3 URLs on oi-wiki.test" in w]
    assert len(offsite) == 1 and "-a sitemap_paths=1" in offsite[0], warnings
    assert result.stats["linkrot/sitemaps_read"] == 3  # the index, the file it lists, /sitemap.xml
    assert result.stats["linkrot/sitemap_urls_offsite"] == 3
    assert [r["url"] for r in result.rows("orphans")] == [site + "orphan.html"]
    assert not list(result.db.query("SELECT url FROM urls WHERE url LIKE '%oi-wiki.test%'"))


def test_sitemap_paths_reads_production_urls_on_the_crawled_site(staging, production, tmp_path):
    production.hits.clear()
    site = f"{staging.origin}/"
    result = crawl(
        tmp_path / "x.db", site, "sitemap=maps/built.xml", "sitemap_paths=1", "external=0", **RESOLVE
    )
    orphans = {r["url"]: r["status"] for r in result.rows("orphans")}
    assert orphans == {site + "guide/unlinked.html": 200, site + "gone.html": 404, site + "orphan.html": 200}
    # robots.txt's production sitemaps are read at their paths on this site: /sitemap.xml, /sitemap-news.xml
    assert production.hits == []
    assert not [w for w in log_problems(result.log)["WARNING"] if "sitemap" in w]


def test_a_named_production_sitemap_is_fetched_there_and_read_on_the_site(staging, production, tmp_path):
    production.hits.clear()
    site = f"{staging.origin}/"
    named = f"http://oi-wiki.test:{production.port}/sitemap.xml"
    result = crawl(tmp_path / "x.db", site, f"sitemap={named}", "sitemap_paths=1", "external=0", **RESOLVE)
    assert [(m, p) for m, _, p in production.hits] == [("GET", "/sitemap.xml")]  # asked for: read once
    orphans = {r["url"] for r in result.rows("orphans")}
    assert site + "guide/unlinked.html" in orphans and site + "orphan.html" in orphans


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", (True, ())),
        ("off", (False, ())),
        (False, (False, ())),
        ("/a.xml", (True, ("https://s.test/a.xml",))),
        ("/a.xml,/b.xml /a.xml", (True, ("https://s.test/a.xml", "https://s.test/b.xml"))),
        (
            "https://prod.test/s.xml.gz\n  https://s.test/x.xml",
            (True, ("https://prod.test/s.xml.gz", "https://s.test/x.xml")),
        ),
    ],
)
def test_the_sitemap_argument_is_a_switch_or_urls(value, expected):
    assert sitemap_option(value, "https://s.test/docs/") == expected


def test_a_sitemap_argument_that_is_no_url_is_a_clear_error():
    with pytest.raises(ConfigError, match="sitemap: 'ftp://x.test/s.xml'"):
        sitemap_option("ftp://x.test/s.xml", "https://s.test/")


def test_where_a_sitemap_is_read():
    start = "http://staging.test:8000/"
    prod = "https://prod.test/sitemap.xml?v=2"

    def where(url, **kw):
        return where_to_read(url, start, internal=url.startswith(start), **kw)

    assert where(start + "s.xml", external=False) == start + "s.xml"
    assert where(prod, external=False) is None
    assert where(prod, external=False, asked=True) == prod
    assert where(prod, external=True) == prod
    assert where(prod, external=False, paths=True) == "http://staging.test:8000/sitemap.xml?v=2"
    # a named production index may list its own files, not a third host's
    assert where(prod, external=False, listed_by="https://prod.test/index.xml") == prod
    assert where(prod, external=False, listed_by="https://cdn.test/index.xml") is None
    assert on_site("https://prod.test", start) == start
