"""Whole crawls of local sites: rows in the contract views and the crawler's stats."""

from __future__ import annotations

import json

import pytest
from conftest import crawl


@pytest.fixture(scope="module")
def site(demo_server):
    return f"{demo_server.origin}/"


def test_broken_links_name_page_target_status_and_anchor(demo_crawl, site):
    broken = {(r["source_url"], r["url"]): r for r in demo_crawl.rows("broken_links")}
    assert broken[(site, site + "spring-2019.html")]["status"] == 404
    assert broken[(site, site + "spring-2019.html")]["anchor_text"] == "Spring 2019 collection (deleted)"
    assert broken[(site, site + "press")]["status"] == 410
    assert broken[(site, site + "api/stock")]["status"] == 500
    assert broken[(site, site + "loop-a")]["status"] == "redirect_loop"
    # a link whose redirect ends on a 404 is broken too, with the final status
    sprocket = broken[(site + "products/", site + "products/sprocket.html")]
    assert sprocket["status"] == 404 and sprocket["hops"] == 1
    # external links are checked once, never crawled
    assert broken[(site, "http://127.0.0.1:9/")]["status"] == "connection_refused"
    closed = broken[(site, demo_crawl_origin(site, "localhost") + "partners/closed-shop.html")]
    assert closed["status"] == 404 and closed["rel"] == "nofollow" and closed["is_internal"] == 0
    assert len([r for r in broken.values() if r["kind"] == "a"]) == 7
    # the about page's missing stylesheet and photo: resources, reported apart
    resources = {r["url"].removeprefix(site): r["kind"] for r in demo_crawl.rows("broken_resources")}
    assert resources == {"css/about.css": "stylesheet", "images/workshop-1999.jpg": "img"}
    assert len(broken) == 9


def demo_crawl_origin(site: str, host: str) -> str:
    return site.replace("127.0.0.1", host)


def test_robots_disallowed_is_blocked_not_broken(demo_crawl, site):
    assert demo_crawl.one("pages", url=site + "private/report.html")["status"] == "blocked"
    assert not demo_crawl.rows("broken_links", url=site + "private/report.html")
    assert demo_crawl.stats["linkrot/status/blocked"] == 1


def test_redirect_chains_hop_by_hop(demo_crawl, site):
    chain = demo_crawl.one("redirect_chains", url=site + "summer-sale")
    assert chain["hops"] == 3 and chain["final_status"] == 200 and chain["is_loop"] == 0
    assert chain["final_url"] == site + "products/widget-pro.html"
    assert chain["temp_redirect"] == 1
    assert json.loads(chain["chain"]) == [
        {"url": site + "summer-sale", "status": 301, "location": "/sale/2024"},
        {"url": site + "sale/2024", "status": 302, "location": "/sale/current"},
        {"url": site + "sale/current", "status": 301, "location": "/products/widget-pro.html"},
    ]
    # hops inside a chain are recorded too, even though their target was already requested
    assert demo_crawl.one("redirect_chains", url=site + "sale/current")["hops"] == 1
    loop = demo_crawl.one("redirect_chains", url=site + "loop-a")
    assert loop["is_loop"] == 1 and loop["final_status"] == "redirect_loop" and loop["hops"] == 2
    assert demo_crawl.one("redirect_chains", url=site + "retired-product")["to_home"] == 1
    assert demo_crawl.one("redirect_chains", url=site + "old-catalogue")["to_home"] == 0
    refresh = json.loads(demo_crawl.one("redirect_chains", url=site + "blog/old-post.html")["chain"])
    assert refresh == [
        {
            "url": site + "blog/old-post.html",
            "status": 200,
            "location": "/blog/post-1.html",
            "via": "meta_refresh",
        }
    ]
    assert demo_crawl.one("redirect_chains", url=site + "contact")["temp_redirect"] == 1


def test_soft_404_found_by_comparing_with_the_probed_404_page(demo_crawl, site):
    assert [r["url"] for r in demo_crawl.rows("soft_404s")] == [site + "products/gizmo.html"]
    # an article about 404 errors says "not found" and is not a soft 404
    assert demo_crawl.one("pages", url=site + "blog/fixing-404-errors.html")["soft_404"] == 0
    assert demo_crawl.stats["linkrot/probe/status"] == 404


def test_orphans_come_from_the_sitemap(demo_crawl, site):
    assert [r["url"] for r in demo_crawl.rows("orphans")] == [site + "orphan-offer.html"]
    orphan = demo_crawl.one("pages", url=site + "orphan-offer.html")
    assert orphan["status"] == 200 and orphan["found_via"] == "sitemap"


def test_pages_carry_page_facts(demo_crawl, site):
    home = demo_crawl.one("pages", url=site)
    assert home["title"] == "Acme Widgets - Home" and home["depth"] == 0 and home["status"] == 200
    assert demo_crawl.one("pages", url=site + "team.html")["depth"] == 2
    draft = demo_crawl.one("pages", url=site + "blog/draft.html")
    assert draft["noindex"] == 1 and draft["nofollow"] == 1
    assert demo_crawl.one("pages", url=site + "products/widget-pro.html")["canonical_url"] == (
        site + "products/widget-pro.html"
    )
    pdf = demo_crawl.one("pages", url=site + "brochure.pdf")
    assert pdf["content_type"] == "application/pdf" and pdf["status"] == 200
    link = list(
        demo_crawl.db.query("SELECT anchor_text FROM links WHERE target_url = ?", [site + "brochure.pdf"])
    )
    assert link == [{"anchor_text": "Download our brochure"}]  # an image link's text is its alt


def test_stats_count_every_status(demo_crawl):
    stats = demo_crawl.stats
    assert stats["linkrot/status/not_found"] == 7  # 5 links, 2 resources
    assert stats["linkrot/status/redirect_loop"] == 2
    assert stats["linkrot/status/connection_refused"] == 1
    assert stats["linkrot/view/broken_links"] == 9  # 7 links people follow, 2 resources
    assert stats["linkrot/view/orphans"] == 1
    assert demo_crawl.run["state"] == "finished"


def test_rerun_adds_a_run_not_duplicate_rows(demo_server, tmp_path):
    db = tmp_path / "linkrot.db"
    first = crawl(db, f"{demo_server.origin}/")
    pages = first.db["pages"].count
    second = crawl(db, f"{demo_server.origin}/")
    assert second.db["pages"].count == pages
    assert second.db["broken_links"].count == 9
    assert second.db["runs"].count == 2


def test_every_failure_maps_to_one_status(vhost_server, tmp_path):
    port = vhost_server.port
    result = crawl(
        tmp_path / "x.db",
        f"http://errors.test:{port}/",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        DOWNLOAD_TIMEOUT=1,
        REDIRECT_MAX_TIMES=5,
    )
    origin = f"http://errors.test:{port}"
    status = {r["url"].removeprefix(origin): r for r in result.rows("pages")}
    external = {r["url"]: r for r in result.db.query("SELECT * FROM urls WHERE is_internal = 0")}
    assert status["/status?n=503"]["outcome"] == "server_error"
    assert status["/status?n=403"]["outcome"] == "client_error"
    assert status["/status?n=429"]["outcome"] == "rate_limited"
    assert status["/status?n=302"]["outcome"] == "invalid_response"  # a redirect without Location
    assert status["/endless?n=1"]["outcome"] == "too_many_redirects"
    assert status["/endless?n=1"]["hops"] == 5
    assert status["/delay?n=5"]["outcome"] == "timeout"
    hop = json.loads(status["/relative-hop"]["chain"])[0]
    assert hop == {"url": f"{origin}/relative-hop", "status": 308, "location": "deeper/../landing?x=1"}
    assert status["/relative-hop"]["final_url"] == f"{origin}/landing?x=1"
    assert external["http://nothing.invalid/"]["outcome"] == "dns_error"
    assert external["http://127.0.0.1:9/"]["outcome"] == "connection_refused"
    # https to a plain-HTTP port: the handshake fails
    assert status[f"https://errors.test:{port}/"]["outcome"] == "tls_error"
    # mailto:, javascript: and fragment-only links are not URLs to check
    assert not [r for r in external.values() if not r["url"].startswith("http")]
    assert result.stats["linkrot/status/timeout"] == 1


def test_subdomains_are_external_unless_asked(vhost_server, tmp_path):
    url = f"http://www.shop.test:{vhost_server.port}/"
    blog = f"http://blog.shop.test:{vhost_server.port}/"
    narrow = crawl(tmp_path / "a.db", url, LINKROT_RESOLVE="*.shop.test=127.0.0.1")
    assert narrow.one("urls", url=blog)["is_internal"] == 0
    assert not narrow.rows("urls", url=blog + "first-post.html")  # external: checked, never crawled
    assert narrow.one("pages", url=url + "noindex-header")["noindex"] == 1  # X-Robots-Tag header
    wide = crawl(tmp_path / "b.db", url, "subdomains=1", LINKROT_RESOLVE="*.shop.test=127.0.0.1")
    assert wide.one("pages", url=blog + "first-post.html")["status"] == 200
    assert wide.one("broken_links", url=blog + "missing.html")["source_url"] == blog


def test_a_start_url_that_redirects_to_another_host_crawls_that_host(vhost_server, tmp_path):
    port = vhost_server.port
    result = crawl(
        tmp_path / "x.db", f"http://old.shop.test:{port}/", LINKROT_RESOLVE="*.shop.test=127.0.0.1"
    )
    start = result.one("redirect_chains", url=f"http://old.shop.test:{port}/")
    assert start["final_url"] == f"http://www.shop.test:{port}/"
    assert result.one("pages", url=f"http://www.shop.test:{port}/about.html")["status"] == 200


def test_limits_stop_the_crawl_cleanly(vhost_server, tmp_path):
    url = f"http://errors.test:{vhost_server.port}/generated?n=1"
    settings = {"LINKROT_RESOLVE": "*.test=127.0.0.1"}
    deep = crawl(tmp_path / "d.db", url, "max_depth=3", **settings)
    assert max(r["depth"] for r in deep.rows("pages")) == 3
    assert deep.stats["linkrot/limit/max_depth"] > 0 and deep.run["finish_reason"] == "finished"
    wide = crawl(tmp_path / "p.db", url, "max_pages=5", **settings)
    assert wide.db["pages"].count == 5
    assert wide.stats["linkrot/limit/max_pages"] > 0 and wide.run["finish_reason"] == "finished"


def test_options_ignore_robots_and_skip_external(demo_server, tmp_path):
    site = f"{demo_server.origin}/"
    result = crawl(tmp_path / "x.db", site, "external=0", ROBOTSTXT_OBEY=False)
    assert result.one("pages", url=site + "private/report.html")["status"] == 200
    assert not list(result.db.query("SELECT * FROM urls WHERE is_internal = 0"))


def test_missing_url_is_a_clear_error(tmp_path):
    from conftest import run_scrapy

    proc = run_scrapy(["crawl", "site", "-s", f"LINKROT_DB={tmp_path / 'x.db'}"])
    assert "the site spider needs a start URL" in proc.stderr


@pytest.fixture(scope="module")
def kinds(vhost_server, tmp_path_factory):
    """A page with every kind of link: images, srcset, stylesheet, script, frame, media, CSS, meta."""
    origin = f"http://kinds.test:{vhost_server.port}/"
    db = tmp_path_factory.mktemp("kinds") / "x.db"
    return origin, crawl(db, origin, "fragments=1", LINKROT_RESOLVE="*.test=127.0.0.1", LINKROT_SITEMAP=False)


def test_every_kind_of_link_is_checked_and_broken_resources_are_reported_by_kind(kinds):
    origin, result = kinds
    broken = {r["url"].removeprefix(origin): r for r in result.rows("broken_links")}
    assert {url: (r["kind"], r["status"]) for url, r in broken.items() if not url.startswith("http")} == {
        "css/missing.css": ("stylesheet", 404),
        "img/missing-og.png": ("meta", 404),
        "img/missing-bg.png": ("css", 404),
        "img/missing.png": ("img", 404),
        "img/missing-2x.png": ("srcset", 404),
        "media/missing.mp4": ("media", 404),
    }
    resources = {r["url"].removeprefix(origin) for r in result.rows("broken_resources")}
    assert resources == {url for url in broken if not url.startswith("http")}
    # resources are checked with HEAD and never parsed as pages
    logo = result.db.execute("SELECT http_status, is_resource, method FROM urls WHERE url = ?", [origin + "img/ok.png"])
    assert logo.fetchone() == (200, 1, "HEAD")
    assert not result.rows("pages", url=origin + "img/ok.png")  # a resource is not a page of the site
    assert result.stats["linkrot/resources"] >= 8
    fetched = {r["url"] for r in result.db.query("SELECT url FROM urls")}
    assert not [u for u in fetched if "cdn.kinds.test" in u or u.startswith("mailto")]  # hints, mail: not links


def test_malformed_hrefs_are_rows_with_the_href_as_written(kinds):
    origin, result = kinds
    invalid = {r["url"]: r for r in result.rows("broken_links") if r["status"] == "invalid_url"}
    assert set(invalid) == {"http://localhost]", "http://kinds.test:70000/"}
    assert invalid["http://localhost]"]["error"] == "invalid URL: invalid host"
    assert invalid["http://kinds.test:70000/"]["error"] == "invalid URL: invalid port"
    assert invalid["http://localhost]"]["source_url"] == origin and invalid["http://localhost]"]["kind"] == "a"


def test_frames_and_delayed_refresh_pages_are_crawled_as_pages(kinds):
    origin, result = kinds
    pages = {r["url"] for r in result.rows("pages")}
    assert origin + "from-frame.html" in pages  # the frame was parsed, its links followed
    assert origin + "from-refresh.html" in pages  # a 5-second refresh is a page people read
    refresh = result.one("pages", url=origin + "refresh.html")
    assert refresh["status"] == 200 and refresh["hops"] == 0
    # the canonical <link> came first, the <a href> to the same page still made it crawled as a page
    assert result.one("pages", url=origin + "guide.html")["title"] == "Guide"


def test_links_to_missing_sections_are_reported_when_asked(kinds):
    origin, result = kinds
    assert [(r["url"], r["fragment"]) for r in result.rows("broken_fragments")] == [
        (origin + "guide.html", "no-such-section")
    ]


def test_resource_checks_can_be_switched_off(vhost_server, tmp_path):
    origin = f"http://kinds.test:{vhost_server.port}/"
    result = crawl(tmp_path / "x.db", origin, "resources=0", LINKROT_RESOLVE="*.test=127.0.0.1")
    assert not result.rows("broken_resources")
    assert {r["kind"] for r in result.rows("broken_links")} == {"a"}  # the malformed links stay
    assert "linkrot/resources" not in result.stats
