"""Link matching (golden files: ``tests/golden/<case>/page.html + url.txt + expected.json``) and verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkrot.extract import parse_html
from linkrot.matching import chain_alternatives, find_link, link_key, same_page, site_key
from linkrot.middlewares import retry_after_seconds
from linkrot.status import Status, Verdict
from linkrot.verify import judge

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "expected.json").is_file())  # golden/links: extraction


@pytest.mark.parametrize("case", CASES)
def test_golden_link_matching(case):
    folder = GOLDEN / case
    expected = json.loads((folder / "expected.json").read_text())
    page = parse_html((folder / "page.html").read_bytes(), "utf-8")
    match = find_link(page, (folder / "url.txt").read_text().strip(), expected.pop("target"))
    assert (match is not None) == expected.pop("found")
    for name, value in expected.items():
        assert getattr(match, name) == value, name


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://www.ours.test/a/", "http://WWW.ours.test/a", True),
        ("https://www.ours.test:443/a#x", "https://www.ours.test/a", True),
        ("https://www.ours.test/a", "https://www.ours.test/A", False),  # paths are case-sensitive
        ("https://www.ours.test/a?x=1", "https://www.ours.test/a", False),
        ("https://www.ours.test/a", "https://ours.test/a", False),  # another host: target_changed at most
        ("https://www.ours.test:8080/a", "https://www.ours.test/a", False),
    ],
)
def test_same_page(a, b, same):
    assert same_page(a, b) is same


def test_keys():
    assert link_key("mailto:x@y.z") is None
    assert site_key("https://WWW.Ours.test:8080/x") == "ours.test"
    assert site_key("https://blog.ours.test/") == "blog.ours.test"


@pytest.mark.parametrize(
    ("page_url", "html", "found"),
    [
        # hrefs that browsers resolve to another host although they look relative
        ("http://blog.test/p", '<a href="/\\www.ours.test/a">x</a>', "http://www.ours.test/a"),
        ("http://blog.test/p", '<a href="\t//www.ours.test/a">x</a>', "http://www.ours.test/a"),
        ("http://blog.test/p", '<a href=" HTTP://WWW.OURS.TEST/a">x</a>', "http://www.ours.test/a"),
        ("http://blog.test/p", '<a href="ht\ntp://www.ours.test/a">x</a>', "http://www.ours.test/a"),
        # relative hrefs on a page whose base is our site
        ("http://blog.test/p", '<base href="http://www.ours.test/"><a href="a">x</a>', "http://www.ours.test/a"),
        ("http://www.ours.test/p", '<a href="../a">x</a>', "http://www.ours.test/a"),
        # hosts written in other forms are still ours (the shortcut that skips other hosts must not skip them)
        ("http://blog.test/p", '<a href="//WWW.Ours.Test./a">x</a>', "http://www.ours.test/a"),
        ("http://blog.test/p", '<a href="http://user@www.ours.test/a">x</a>', "http://www.ours.test/a"),
        ("http://blog.test/p", '<a href="http://www.ours.test:80/a">x</a>', "http://www.ours.test/a"),
        ("http://blog.test/p", '<a href="mailto:a@ours.test">x</a><a href="http://ours.other/a">y</a>', None),
        # relative hrefs of another site's page never point to ours
        ("http://blog.test/p", '<a href="/www.ours.test/a">x</a><a href="a">y</a>', None),
    ],
)
def test_relative_and_host_bearing_hrefs_are_told_apart_as_browsers_do(page_url, html, found):
    page = parse_html(f"<html><body>{html}</body></html>".encode(), "utf-8")
    match = find_link(page, page_url, "http://www.ours.test/a")
    assert (match and link_key(match.linked_url)) == (found and link_key(found))


def test_page_level_nofollow_makes_every_link_nofollow():
    page = parse_html(b'<a href="https://www.ours.test/x">x</a>', "utf-8")
    assert find_link(page, "https://ref.test/", "https://www.ours.test/x", page_nofollow=True).nofollow


@pytest.mark.parametrize(
    "outcome, code, verdict",
    [
        (Status.DNS_ERROR, None, Verdict.DOMAIN_GONE),
        (Status.CONNECTION_REFUSED, None, Verdict.DOMAIN_GONE),
        (Status.BLOCKED, None, Verdict.BLOCKED),
        (Status.CLIENT_ERROR, 403, Verdict.BLOCKED),
        (Status.RATE_LIMITED, 429, Verdict.BLOCKED),
        (Status.SERVER_ERROR, 502, Verdict.SERVER_ERROR),
        (Status.TIMEOUT, None, Verdict.SERVER_ERROR),
        (Status.TLS_ERROR, None, Verdict.SERVER_ERROR),
        (Status.TOO_LARGE, None, Verdict.SERVER_ERROR),
        (Status.INVALID_RESPONSE, 302, Verdict.SERVER_ERROR),  # a 3xx without Location
        (Status.OK, 204, Verdict.SERVER_ERROR),
        (Status.NOT_FOUND, 410, Verdict.NOT_FOUND),
        (Status.REDIRECT_LOOP, None, Verdict.NOT_FOUND),
        (Status.TOO_MANY_REDIRECTS, None, Verdict.NOT_FOUND),
        (Status.OK, 200, Verdict.LINK_REMOVED),
    ],
)
def test_fetch_outcomes_map_to_verdicts(outcome, code, verdict):
    result = judge(
        source_url="https://ref.test/p", final_url="https://ref.test/p", outcome=outcome, code=code
    )
    assert result.verdict is verdict and result.reason


def _match(nofollow=False):
    page = parse_html(
        f'<a href="https://www.ours.test/x" {"rel=nofollow" if nofollow else ""}>x</a>'.encode()
    )
    return find_link(page, "https://ref.test/p", "https://www.ours.test/x")


@pytest.mark.parametrize(
    "kwargs, verdict",
    [
        ({"final_url": "https://ref.test/elsewhere", "noindex": True}, Verdict.REDIRECTED),  # redirect first
        ({"final_url": "https://ref.test/p/", "noindex": True}, Verdict.NOINDEX),  # a slash is no redirect
        ({"canonical_url": "https://ref.test/other", "match": _match(nofollow=True)}, Verdict.NOT_CANONICAL),
        ({"canonical_url": "http://ref.test/p/", "match": _match(nofollow=True)}, Verdict.NOFOLLOW),
        ({"match": _match()}, Verdict.LIVE),
        ({}, Verdict.LINK_REMOVED),
    ],
)
def test_precedence_of_page_verdicts(kwargs, verdict):
    args = {
        "source_url": "https://ref.test/p",
        "final_url": "https://ref.test/p",
        "outcome": Status.OK,
        "code": 200,
    }
    assert judge(**{**args, **kwargs}).verdict is verdict


def test_reason_says_why():
    gone = judge(
        source_url="https://ref.test/p", final_url="https://ref.test/p", outcome=Status.DNS_ERROR, code=None
    )
    assert gone.reason == "the host name ref.test does not resolve"
    removed = judge(
        source_url="https://ref.test/p",
        final_url="https://ref.test/p",
        outcome=Status.OK,
        code=200,
        rendered=True,
        target_url="https://www.ours.test/x",
    )
    assert (
        removed.reason
        == "no link to https://www.ours.test/x or its site on the page (after rendering with Chromium)"
    )


@pytest.mark.parametrize(
    "value, seconds",
    [
        (b"7", 7.0),
        (None, 5.0),
        (b"soon", 5.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after(value, seconds):
    from datetime import datetime, timezone

    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(value, 5.0, now=now) == seconds


# -- a vendor's redirect chain: the URL on the page, later hops, the final target ----------------------

OLD = "https://www.acme-old.test"
CHAIN = [
    {"hop": 0, "url": "http://www.acme-old.test/oils", "status": 301},
    {"hop": 1, "url": "https://www.acme-old.test/oils-2", "status": 301},
]


@pytest.mark.parametrize(
    "href, matched, changed",
    [
        ("http://www.acme-old.test/oils", "chain_start", False),
        ("https://blog.acme-old.test/oils-2", None, False),  # a subdomain is another site
        ("https://www.acme-old.test/oils-2/", "chain_hop", False),
        ("https://www.ours.test/products/oils", "target", False),
        ("https://www.acme-old.test/about", "chain_start", True),  # elsewhere on the old site
        ("https://www.ours.test/other", "target", True),
    ],
)
def test_a_link_to_any_url_of_the_vendor_chain_is_found(href, matched, changed):
    page = parse_html(f'<p>see <a href="{href}">our oils</a></p>'.encode(), "utf-8")
    target = "https://www.ours.test/products/oils"
    match = find_link(page, "https://ref.test/p", target, alternatives=chain_alternatives(json.dumps(CHAIN)))
    if matched is None:
        assert match is None
        return
    assert (match.matched, match.target_changed, match.linked_url) == (matched, changed, href)
    # without the chain, a link to the old domain is no link to us at all
    assert (find_link(page, "https://ref.test/p", target) is not None) is (matched == "target")


def test_exact_chain_link_beats_a_link_elsewhere_on_the_site_and_followed_beats_nofollow():
    page = parse_html(
        b'<a href="https://www.ours.test/">home</a>'
        b'<a rel="nofollow" href="https://www.acme-old.test/">old, nofollow</a>'
        b'<a href="http://www.acme-old.test/">old</a>',
        "utf-8",
    )
    chain = [(0, "https://www.acme-old.test/", 301)]
    match = find_link(page, "https://ref.test/", "https://www.ours.test/x", alternatives=chain_alternatives(chain))
    assert (match.anchor_text, match.matched, match.nofollow, match.target_changed) == ("old", "chain_start", False, False)


def test_the_target_wins_when_a_chain_url_is_the_same_page():
    # Ahrefs lists http -> https of the same URL as a chain: a link to it is a link to the target
    page = parse_html(b'<a href="http://www.ours.test/es">es</a>', "utf-8")
    chain = [{"hop": 0, "url": "http://www.ours.test/es", "status": 301}]
    match = find_link(page, "https://ref.test/", "https://www.ours.test/es", alternatives=chain_alternatives(chain))
    assert (match.matched, match.target_changed) == ("target", False)


def test_no_chain_means_no_alternatives():
    assert chain_alternatives(None) == [] and chain_alternatives("") == []
    assert chain_alternatives(json.dumps(CHAIN)) == [
        ("http://www.acme-old.test/oils", "chain_start"),
        ("https://www.acme-old.test/oils-2", "chain_hop"),
    ]


def test_a_brand_of_several_words_is_a_mention_only_with_its_words_in_order():
    from linkrot.anchors import AnchorRules, classify, mentions

    rules = AnchorRules.build(["Acme Widgets", "Zo"], ["blue widgets"])
    text = "A review: we bought blue acme gadgets, then ACME widgets, sold by us."
    assert mentions(text, rules, None)
    assert mentions("… and then acme widgets", rules, None)  # at the very end of the text
    assert not mentions("widgets by acme; acme, the gadget maker", AnchorRules.build(["Acme Widgets"], []), None)
    assert mentions("ask Zo", rules, None) is False  # a brand of under three letters is no mention
    assert mentions("see shop.acme.test for more", AnchorRules.build([], [], "acme.test"), "acme.test")
    assert classify("Acme Widgets official", rules) == "branded"
    assert classify("acmewidgets", rules) == "branded"
    assert classify("blue widgets", rules) == "exact"
    assert classify("widgets acme", rules) == "partial"
