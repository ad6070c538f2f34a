"""URL normalization and scope, as case tables (w3lib's test style)."""

from __future__ import annotations

import pytest

from linkrot.urls import Scope, absolute_url, normalize_url, registrable_domain


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://example.com", "http://example.com/"),
        ("HTTP://Example.COM:80/Path", "http://example.com/Path"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/page#section", "https://example.com/page"),
        ("https://example.com/?b=2&a=1", "https://example.com/?b=2&a=1"),  # query order kept
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"),
        ("https://b\u00fccher.de/", "https://xn--bcher-kva.de/"),
        ("https://example.com./x", "https://example.com/x"),
        ("  https://example.com/x  ", "https://example.com/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://user:pw@example.com/", "http://user:pw@example.com/"),
        ("mailto:someone@example.com", None),
        ("javascript:void(0)", None),
        ("ftp://example.com/file", None),
        ("http://example.com:99999/", None),
        ("http:///nohost", None),
        ("not a url", None),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["HTTP://Example.COM:80/a/../b#f", "https://b\u00fccher.de/caf\u00e9?q=1 2", "http://example.com"],
)
def test_normalize_is_idempotent(url):
    once = normalize_url(url)
    assert normalize_url(once) == once


@pytest.mark.parametrize(
    "base, href, expected",
    [
        ("https://example.com/a/b.html", "c.html", "https://example.com/a/c.html"),
        ("https://example.com/a/b.html", "../c.html", "https://example.com/c.html"),
        ("https://example.com/a/b.html", "/root", "https://example.com/root"),
        ("https://example.com/a/b.html", "//cdn.example.net/x", "https://cdn.example.net/x"),
        ("https://example.com/a/b.html", "?q=1", "https://example.com/a/b.html?q=1"),
        ("https://example.com/a/b.html", "#top", None),
        ("https://example.com/a/b.html", "", None),
        ("https://example.com/a/b.html", "tel:+441234", None),
    ],
)
def test_absolute_url(base, href, expected):
    assert absolute_url(base, href) == expected


@pytest.mark.parametrize(
    "host, domain",
    [
        ("www.example.com", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("user.github.io", "user.github.io"),  # a private suffix: each user is a site
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
    ],
)
def test_registrable_domain(host, domain):
    assert registrable_domain(host) == domain


def test_scope_same_host_any_scheme():
    scope = Scope("https://www.example.com/")
    assert scope.is_internal("http://www.example.com/x")
    assert not scope.is_internal("https://example.com/x")
    assert not scope.is_internal("https://blog.example.com/")
    assert not scope.is_internal("https://www.example.com:8080/")


def test_scope_with_subdomains():
    scope = Scope("https://www.example.co.uk/", subdomains=True)
    assert scope.is_internal("https://blog.example.co.uk/")
    assert scope.is_internal("https://example.co.uk/")
    assert not scope.is_internal("https://other.co.uk/")


@pytest.mark.parametrize(
    "base",
    [
        "https://example.com",
        "https://example.com/a/b",
        "https://example.com?x=1",
        "https://u@example.com:8443/x",
    ],
)
def test_root_relative_fast_path_matches_urljoin(base):
    from urllib.parse import urljoin

    for href in ["/p", "/p?q=1#frag", "/caf\u00e9 x", "/a/../b"]:
        assert absolute_url(base, href) == normalize_url(urljoin(base, href))
