"""Pure core: HTML extraction, redirect steps, soft-404 classification, host mapping."""

from __future__ import annotations

import pytest

from linkrot.errors import ConfigError
from linkrot.extract import parse_html, parse_refresh, robots_flags, visible_text
from linkrot.redirects import next_step, summarize
from linkrot.resolver import HostMap
from linkrot.soft404 import NotFoundTemplate, classify
from linkrot.status import Status

PAGE = b"""<!DOCTYPE html><html><head><title>  Hello\n world </title>
<base href="/base/"><link rel="alternate canonical" href="/canon">
<meta name="Robots" content="NOINDEX"><meta http-equiv="Refresh" content="5; URL='/next'">
</head><body>
<!-- <a href="/in-comment">commented out</a> -->
<script>document.write('<a href="/in-script">x</a>')</script>
<p>plain http://text.example.com/ is not a link</p>
<a href="/one" rel="NoFollow  UGC">One <b>bold</b></a>
<a href="/two"><img src="x.png" alt=" Logo  alt "></a>
<area href="/map" alt="Map area">
<a name="anchor-without-href">no</a>
</body></html>"""


def test_parse_html_reads_head_and_links():
    page = parse_html(PAGE, "utf-8")
    assert page.title == "Hello world"
    assert page.base_href == "/base/"
    assert page.canonical == "/canon"
    assert page.meta_robots == "noindex"
    assert page.refresh_url is None  # 5 seconds: a page people see, not a redirect
    assert page.refresh_delay == 5
    assert ("/next", "meta", "refresh") in [(link.href, link.kind, link.rel) for link in page.links]
    assert [(a.href, a.text, a.rel) for a in page.anchors] == [
        ("/one", "One bold", "nofollow ugc"),
        ("/two", "Logo alt", ""),
        ("/map", "Map area", ""),
    ]


def test_parse_html_survives_garbage():
    assert parse_html(b"").anchors == []
    assert parse_html(b"\x00\xff\xfe garbage <a href=/x>x").anchors[0].href == "/x"


def test_parse_html_decodes_declared_charset():
    page = parse_html("<title>Caf\u00e9</title>".encode("latin-1"), "cp1252")
    assert page.title == "Caf\u00e9"


def test_visible_text_skips_scripts():
    text = visible_text(parse_html(PAGE, "utf-8"))
    assert "One bold" in text and "document.write" not in text


@pytest.mark.parametrize(
    "content, url",
    [
        ("0; url=/x", "/x"),
        ("0;URL='/y'", "/y"),
        ("3, https://e.com/", "https://e.com/"),
        ("30", None),
        ("", None),
    ],
)
def test_parse_refresh(content, url):
    assert parse_refresh(content) == url


@pytest.mark.parametrize(
    "values, flags",
    [
        (("noindex, follow",), (True, False)),
        (("none",), (True, True)),
        (("index", "googlebot: nofollow"), (False, True)),
        ((None, None), (False, False)),
    ],
)
def test_robots_flags(values, flags):
    assert robots_flags(*values) == flags


def test_redirect_steps():
    chain = [{"url": "https://e.com/a", "status": 301, "location": "/b"}]
    assert next_step(chain, "https://e.com/a", "/b", 10).next_url == "https://e.com/b"
    chain.append({"url": "https://e.com/b", "status": 302, "location": "/a"})
    assert next_step(chain, "https://e.com/b", "/a", 10).outcome is Status.REDIRECT_LOOP
    assert next_step(chain, "https://e.com/b", "/c", 2).outcome is Status.TOO_MANY_REDIRECTS
    assert next_step(chain, "https://e.com/b", "mailto:x@e.com", 10).outcome is Status.INVALID_RESPONSE


def test_summarize_flags_temporary_and_home():
    chain = [{"url": "https://e.com/old", "status": 302, "location": "/"}]
    summary = summarize("https://e.com/old", chain, "https://e.com/", Status.OK)
    assert summary == {"hops": 1, "is_loop": 0, "temp_redirect": 1, "to_home": 1}


TEMPLATE_TEXT = "Page not found. Sorry, we could not find the page you were looking for. Go back home."


def test_soft_404_matches_the_probed_template():
    template = NotFoundTemplate.from_page(404, "https://e.com/probe", "Oops", TEMPLATE_TEXT)
    assert classify(template, "Oops", TEMPLATE_TEXT)[:2] == (True, "matches_404_page")
    article = "Page not found errors: how we fixed ours. " + "We redirected every old URL to its match. " * 5
    assert classify(template, "Fixing 404 not found errors", article)[0] is False


def test_soft_404_phrase_only_without_template_and_on_thin_pages():
    assert classify(None, "404 - Not Found", "Nothing here")[:2] == (True, "not_found_phrase")
    long_article = "This guide explains what a 404 not found error is. " + "More words here. " * 100
    assert classify(None, "What is a 404?", long_article)[0] is False


def test_host_map():
    hostmap = HostMap.parse("*.example=127.0.0.1, shop.com=203.0.113.7 ,v6.test=::1")
    assert hostmap.lookup("a.b.EXAMPLE") == "127.0.0.1"
    assert hostmap.lookup("example") is None  # *.domain maps subdomains, as in Chromium
    assert hostmap.lookup("shop.com.") == "203.0.113.7"
    assert hostmap.lookup("other.com") is None
    assert (
        hostmap.chromium_host_rules()
        == "MAP *.example 127.0.0.1, MAP shop.com 203.0.113.7, MAP v6.test [::1]"
    )
    assert not HostMap.parse("")


@pytest.mark.parametrize("value", ["shop.com", "shop.com=not-an-ip", "=1.2.3.4", "a*.com=1.2.3.4"])
def test_host_map_rejects_bad_rules(value):
    with pytest.raises(ConfigError, match="LINKROT_RESOLVE"):
        HostMap.parse(value)


def test_an_image_of_a_url_before_a_link_to_it_still_makes_it_a_page():
    from linkrot.reader import links_of, read_page

    html = b'<img src="/guide.html"><a href="/guide.html">The guide</a><img src="/logo.png">'
    links = links_of(read_page("https://s.test/", html, "utf-8"), lambda url: True)
    assert [(l.target_url, l.kind, l.is_page, l.anchor_text) for l in links] == [
        ("https://s.test/guide.html", "a", True, "The guide"),
        ("https://s.test/logo.png", "img", False, ""),
    ]
