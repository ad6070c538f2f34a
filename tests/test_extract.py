"""Link extraction: every kind of link a browser loads or follows, as data.

Golden files in ``tests/golden/links/<case>/``: ``page.html`` + ``url.txt``
(+ ``encoding.txt``) -> ``expected.json``, the links of the page with their
kind and what each resolves to.  ``LINKROT_REGOLD=1`` rewrites the expected
files (review the diff before committing it).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from linkrot.extract import LinkKind, css_urls, parse_html, parse_meta_refresh, parse_srcset
from linkrot.matching import find_link
from linkrot.redirects import refresh_hop
from linkrot.urls import document_base, resolve

GOLDEN = Path(__file__).resolve().parent / "golden" / "links"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "page.html").is_file())


def extracted(folder: Path) -> dict:
    """What the pure core makes of a page: what the site spider will schedule or report."""
    encoding_file = folder / "encoding.txt"
    encoding = encoding_file.read_text().strip() if encoding_file.exists() else "utf-8"
    url = (folder / "url.txt").read_text().strip()
    page = parse_html((folder / "page.html").read_bytes(), encoding, anchor_ids=True)
    base = document_base(url, page.base_href)
    links = []
    for link in page.links:
        target = resolve(base, link.href, encoding)
        row = {"kind": link.kind.value, "href": link.href}
        if link.text:
            row["text"] = link.text
        if link.rel:
            row["rel"] = link.rel
        row["target"] = target.url or (
            f"invalid: {target.invalid}" if target.invalid else f"skipped: {target.skipped}"
        )
        if target.fragment is not None:
            row["fragment"] = target.fragment
        links.append(row)
    return {
        "base": base,
        "refresh_url": page.refresh_url,
        "refresh_delay": page.refresh_delay,
        "anchor_ids": sorted(page.anchor_ids or ()),
        "links": links,
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_links(case):
    folder = GOLDEN / case
    got = extracted(folder)
    expected_file = folder / "expected.json"
    if os.environ.get("LINKROT_REGOLD"):
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_file.read_text())


def test_golden_cases_cover_every_kind():
    kinds = {row["kind"] for case in CASES for row in json.loads((GOLDEN / case / "expected.json").read_text())["links"]}
    assert kinds == {kind.value for kind in LinkKind}


@pytest.mark.parametrize(
    "value, urls",
    [
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("a.jpg", ["a.jpg"]),
        ("a.jpg, b.jpg", ["a.jpg", "b.jpg"]),
        ("a.jpg,, b.jpg", ["a.jpg", "b.jpg"]),  # commas that end a URL are not part of it
        ("a.jpg,b.jpg", ["a.jpg,b.jpg"]),  # no space: one URL, as in browsers
        ("/r?w=1,2 1x, /r?w=3,4 2x", ["/r?w=1,2", "/r?w=3,4"]),  # a comma inside a URL does not
        ("  a.jpg   100w ,\n b.jpg 200w,  ", ["a.jpg", "b.jpg"]),
        ("a.jpg (min-width: 1px, 2px) 1x, b.jpg", ["a.jpg", "b.jpg"]),  # a comma inside parentheses
        ("", []),
        (",,,", []),
        (None, []),
    ],
)
def test_parse_srcset(value, urls):
    assert parse_srcset(value) == urls


@pytest.mark.parametrize(
    "css, urls",
    [
        ("background: url(/a.png)", ["/a.png"]),
        ("background: URL( '/b c.png' )", ["/b c.png"]),
        ('src: url("/f.woff2") format("woff2"), url(/f.woff)', ["/f.woff2", "/f.woff"]),
        ("/* url(/hidden.png) */ color: red", []),
        ('@import "print.css" print; @import url(screen.css);', ["print.css", "screen.css"]),
        ("background: url()", []),
        ("color: red", []),
    ],
)
def test_css_urls(css, urls):
    assert css_urls(css) == urls


@pytest.mark.parametrize(
    "content, parsed",
    [
        ("0; url=/x", (0, "/x")),
        ("0.9;URL='/y'", (0, "/y")),  # the integer part: under a second is immediate
        ("5, https://e.test/", (5, "https://e.test/")),
        ("30", (30, None)),  # a reload, no target
        ("  12 ; url = \"/z\" ", (12, "/z")),
        ("soon", None),
    ],
)
def test_parse_meta_refresh(content, parsed):
    assert parse_meta_refresh(content) == parsed


def test_only_an_immediate_refresh_is_a_redirect_hop():
    delayed = parse_html(b'<meta http-equiv="refresh" content="5; url=/later"><a href="/x">x</a>', "utf-8")
    assert delayed.refresh_url is None and delayed.refresh_delay == 5
    assert refresh_hop("https://e.test/", 200, delayed.refresh_url) is None
    assert [(link.kind, link.href) for link in delayed.links] == [(LinkKind.META, "/later"), (LinkKind.A, "/x")]
    immediate = parse_html(b'<meta http-equiv="refresh" content="0; url=/now">', "utf-8")
    hop = refresh_hop("https://e.test/", 200, immediate.refresh_url)
    assert hop is not None and hop[1] == "/now" and immediate.links == []


def test_kinds_that_are_pages():
    assert {kind for kind in LinkKind if kind.is_page} == {LinkKind.A, LinkKind.FRAME}
    page = parse_html(b'<meta http-equiv="refresh" content="9;url=/next"><meta property="og:image" content="/i.png">')
    assert [link.is_page for link in page.links] == [True, False]  # a refresh target is navigated to


def test_anchor_ids_only_when_asked():
    body = b'<p id="a"></p><a name="b"></a><div name="c"></div>'
    assert parse_html(body, "utf-8").anchor_ids is None
    assert parse_html(body, "utf-8", anchor_ids=True).anchor_ids == {"a", "b"}


def test_anchors_stay_as_they_were_for_backlink_matching():
    page = parse_html(
        b'<link rel="canonical" href="/c"><img src="/i.png"><a href="/x" rel="NoFollow">X</a><area href="/m" alt="M">',
        "utf-8",
    )
    assert [(a.href, a.text, a.rel) for a in page.anchors] == [("/x", "X", "nofollow"), ("/m", "M", "")]


def _nested(depth: int, inner: bytes) -> bytes:
    return b"<html><body>" + b"<div>" * depth + inner + b"</div>" * depth + b"</body></html>"


def test_a_link_below_libxml2s_depth_limit_is_found():
    # issue 14: 200,000 nested elements; libxml2 stops at 2048, every browser shows the link
    inner = b'<a href="/bottom" id="end">The <b>bottom</b> <!-- <a href="/no"> --></a><img src="/deep.png" alt="d">'
    page = parse_html(_nested(200_000, b'<p id="top"><a href="/top">Top</a></p>' + inner), "utf-8", anchor_ids=True)
    assert page.truncated and "depth" in page.truncated
    assert [(a.href, a.text) for a in page.anchors] == [("/top", "Top"), ("/bottom", "The bottom")]
    assert [(link.kind.value, link.href) for link in page.links] == [
        ("a", "/top"),
        ("a", "/bottom"),
        ("img", "/deep.png"),
    ]
    assert {"top", "end"} <= page.anchor_ids


def test_a_cut_page_links_as_the_tree_does():
    # the tokenizer pass finds what the tree pass finds on the pages both can read
    body = (GOLDEN / "every-kind-of-link-has-its-kind" / "page.html").read_bytes()
    tree = parse_html(body, "utf-8")
    cut = parse_html(_nested(3000, body.split(b"<body>")[1].split(b"</body>")[0]).replace(
        b"<html><body>", body.split(b"<body>")[0] + b"<body>"), "utf-8")
    assert cut.truncated
    key = lambda link: (link.kind, link.href, link.text, link.rel)  # noqa: E731
    assert sorted(map(key, cut.links)) == sorted(map(key, tree.links))


def test_a_cut_page_still_matches_backlinks():
    body = _nested(5000, b'<a href="https://ours.test/target">ours</a>')
    match = find_link(parse_html(body, "utf-8"), "https://ref.test/", "https://ours.test/target")
    assert match is not None and match.anchor_text == "ours"


def test_typical_pages_are_not_slowed_by_the_depth_fallback():
    # the tokenizer runs only on cut trees: a 2,000-element page parses in milliseconds
    body = b"<html><body>" + b'<p><a href="/p/1">one</a> <img src="/i.png"></p>' * 1000 + b"</body></html>"
    start = time.process_time()
    for _ in range(5):
        page = parse_html(body, "utf-8")
    assert page.truncated is None and len(page.links) == 2000
    assert (time.process_time() - start) / 5 < 0.25
