"""Property tests (Hypothesis): URL normalisation, link matching and importers never misbehave."""

from __future__ import annotations

import string
from unittest import mock
from urllib.parse import urlparse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request

import linkrot.urls
from linkrot.errors import ImportFileError
from linkrot.extract import parse_html
from linkrot.importers import BacklinkRow, read_export
from linkrot.matching import _elsewhere, find_link, link_key, same_page, site_key
from linkrot.urls import absolute_url, download_slot, normalize_url

LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
# a top-level label is never all digits: browsers read such a host as an IPv4 address (WHATWG)
TLD = st.text(string.ascii_lowercase, min_size=2, max_size=6)
SEGMENT = st.text(string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=10).filter(
    lambda s: s not in (".", "..")
)

# no deadline: this runs on small shared machines, where a VM's pause of half a second fails a
# 200 ms deadline for nothing the code did (seen in CI: 445 ms once, 0.96 ms when run again)
settings.register_profile("linkrot", deadline=None)
settings.load_profile("linkrot")


@st.composite
def urls(draw, host=None):
    host = host or ".".join([*draw(st.lists(LABEL, min_size=1, max_size=3)), draw(TLD)])
    path = "/" + "/".join(draw(st.lists(SEGMENT, max_size=4)))
    query = draw(st.one_of(st.just(""), st.text(string.ascii_lowercase + "=&", min_size=1, max_size=8)))
    return f"https://{host}{path}" + (f"?{query}" if query else "")


@given(st.text())
def test_normalize_never_raises_and_is_idempotent(text):
    normal = normalize_url(text)
    assert normal is None or normalize_url(normal) == normal


@given(st.text())
def test_link_keys_never_raise(text):
    link_key(text)
    site_key(text)


@given(urls(), st.booleans(), st.booleans(), st.booleans(), st.text(string.ascii_letters, max_size=6))
def test_equivalent_forms_match(url, http, upper, slash, fragment):
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    variant = f"{'http' if http else 'https'}://{host.upper() if upper else host}{':443' if not http else ''}/{path}"
    if slash and "?" not in variant and not variant.endswith("/"):
        variant += "/"
    variant += f"#{fragment}" if fragment else ""
    assert same_page(url, variant)
    page = parse_html(f'<a href="{variant}">x</a>'.encode(), "utf-8")
    match = find_link(page, "https://referrer.test/", url)
    assert match is not None and not match.target_changed


@given(urls(host="www.ours.test"), urls())
def test_different_sites_never_match(target, other):
    if site_key(other) == site_key(target):
        return
    page = parse_html(f'<a href="{other}">x</a>'.encode(), "utf-8")
    assert find_link(page, "https://referrer.test/", target) is None


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_importers_turn_any_bytes_into_rows_or_a_clear_error(tmp_path, data):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    try:
        for item in read_export(path):
            assert item.line >= 1
    except ImportFileError as exc:
        assert str(exc).startswith(str(path)) or "export.csv" in str(exc)


HEADERS = [
    "source_url,target_url",
    "Referring page URL\tTarget URL",
    "Linking page",
    "Source url,Target url,Page ascore",
]
GOOD_ROW = {  # a valid row for each header, delimiter as the header's
    "source_url,target_url": "https://ref.test/good,https://www.ours.test/x",
    "Referring page URL\tTarget URL": "https://ref.test/good\thttps://www.ours.test/x",
    "Linking page": "https://ref.test/good",
    "Source url,Target url,Page ascore": "https://ref.test/good,https://www.ours.test/x,12",
}


def _read(path):
    items, error = [], None
    try:
        for item in read_export(path):
            items.append(item)
    except ImportFileError as exc:
        error = exc
    return items, error


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(HEADERS), st.lists(st.text(max_size=80), max_size=20))
def test_importers_with_a_known_header_and_any_rows(tmp_path, header, lines):
    path = tmp_path / "export.csv"
    path.write_text(header + "\n" + "\n".join(lines), encoding="utf-8", errors="surrogatepass")
    items, error = _read(path)
    rows = [i for i in items if isinstance(i, BacklinkRow)]
    assert [i.line for i in items] == sorted(i.line for i in items) and all(i.line >= 2 for i in items)
    assert all(normalize_url(r.source_url) == r.source_url for r in rows)
    # the file is refused only when no row was usable, and then in one line naming the file and why
    assert (error is not None) == (not rows)
    if error is not None:
        message = str(error)
        assert message.startswith(f"{path}: no usable backlink row") and "\n" not in message


# no quote, no line break inside a line: nothing can join a junk line to the good one
PLAIN_LINE = st.text(st.characters(blacklist_characters='"\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029'), max_size=60)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(HEADERS), st.lists(PLAIN_LINE, max_size=10), st.lists(PLAIN_LINE, max_size=10))
def test_a_good_row_among_junk_lines_is_imported_on_its_line(tmp_path, header, before, after):
    path = tmp_path / "export.csv"
    path.write_text("\n".join([header, *before, GOOD_ROW[header], *after]), encoding="utf-8", errors="surrogatepass")
    items, error = _read(path)
    assert error is None
    good = [i for i in items if isinstance(i, BacklinkRow) and i.line == len(before) + 2]
    assert [r.source_url for r in good] == ["https://ref.test/good"]


HREF_PARTS = st.sampled_from(
    "http: HTTPS: mailto: ftp: javascript: // / \\ \t www. WWW. ours Ours other .test .test. :80 :8080 :99999 @ %2e é /p ?q #f x".split(" ")
    + [" "]
)


@given(st.lists(HREF_PARTS, max_size=8).map("".join))
def test_an_href_skipped_before_resolving_could_never_have_matched(href):
    """The shortcut of link matching (``_elsewhere``) only skips hrefs that resolve elsewhere."""
    sites = {"ours.test": "target"}
    if _elsewhere(href, sites):
        resolved = absolute_url("https://ours.test/page", href)
        assert resolved is None or site_key(resolved) not in sites, (href, resolved)


@given(st.one_of(st.text(), urls()))
def test_a_url_in_normal_form_needs_no_escaping_by_scrapy(text):
    """The site spider asks for its links verbatim (``verbatim_url``): they must be what Scrapy would ask for."""
    normal = normalize_url(text)
    if normal is not None:
        assert Request(normal).url == normal


URL_PARTS = st.sampled_from(
    "http:// HTTPS:// // / ./ ../ \\ www. Ours .test .test. :80 :443 :8080 : @ u:p@ % %2e %41 %zz é "
    "| ^ ' [ ] { } ` \" < > ; , ( ) * ! $ + = & ~ _ - p Q 9 ? ?? ?a=b #f".split(" ")
    + [" ", "\t"]
)


@settings(max_examples=1000)
@given(
    st.sampled_from(["https://www.ours.test/a/b.html", "http://h.test:8080/x/", "https://u@h.test./p?q"]),
    st.lists(URL_PARTS, max_size=10).map("".join),
)
def test_a_link_taken_as_written_by_ada_is_what_normalize_would_write(base, href):
    """Resolving skips normalize_url() for ada's output that is already normal (``_already_normal``):
    the URL is the same as with it."""
    import ada_url

    from linkrot.urls import resolve

    target = resolve(base, href)
    if target.url is not None:
        assert target.url == normalize_url(ada_url.join_url(base, href.strip()).partition("#")[0])


PLAIN_PARTS = st.sampled_from(
    "http:// HTTPS:// HtTp:// // / ./ ../ www. Ours .test .test. xn--bcher-kva . .. - -a a- :80 :443 :8080 "
    ": :x :99999 :0 ?? ?a=b&c=d ; , ( ) * ! $ + = & ~ _ p Q 9 ?".split(" ")
    + ["a" * 64, ""]
)


@settings(max_examples=1000)
@given(
    st.lists(
        st.one_of(PLAIN_PARTS, st.text(alphabet=sorted(linkrot.urls._PLAIN_URL), max_size=3)), max_size=10
    ).map("".join)
)
def test_a_plain_url_is_normalized_as_if_w3lib_had_escaped_it(url):
    """normalize_url() skips w3lib's ``safe_url_string`` for a URL of plain characters (the rows of an
    export, mostly): the normal form is the same as with it, malformed and overlong hosts included."""
    fast = normalize_url.__wrapped__(url)
    with mock.patch.object(linkrot.urls, "_PLAIN_URL", frozenset()):
        assert fast == normalize_url.__wrapped__(url), url


def test_plain_links_skip_normalizing_and_the_others_do_not():
    from linkrot.urls import _already_normal

    assert _already_normal("https://www.ours.test/docs/page-7.html?lang=en&v=2")
    for url, normal in (
        ("http://h.test./", "http://h.test/"),  # a host's trailing dot
        ("http://h.test.:8080/", "http://h.test:8080/"),
        ("http://h.test/p?", "http://h.test/p"),  # an empty query
        ("http://h.test/a|b", "http://h.test/a%7Cb"),  # w3lib escapes what the URL standard leaves
        ("http://u@h.test/", "http://u@h.test/"),  # userinfo and escapes are left to normalize_url()
        ("http://h.test/%7e", "http://h.test/%7e"),
    ):
        assert not _already_normal(url), url
        assert normalize_url(url) == normal


@settings(max_examples=500)
@given(
    st.one_of(urls(), st.text(), st.lists(URL_PARTS, max_size=8).map("".join)),
    st.sampled_from(["", "user@", "u:p@", "a@b@"]),
    st.sampled_from(["", ":8080", ":"]),
    st.booleans(),
)
def test_a_requests_download_slot_is_the_one_scrapy_would_find(url, userinfo, port, upper):
    """The scheduler's host of a request (linkrot.scratch.SlotPriorityQueue) without urlparse: the same
    slot as Scrapy's downloader, or requests would wait behind the wrong slot's activity."""
    if url.startswith("https://"):
        rest = url[len("https://") :]
        host, sep, path = rest.partition("/")
        host = host.upper() if upper else host
        url = f"https://{userinfo}{host}{port}{sep}{path}"
    try:
        url = Request(url).url  # as requests have them: with a scheme, escaped
        expected = urlparse(url).hostname or ""
    except ValueError:  # no request ("no scheme"), or no URL Scrapy could download ("http://[")
        return
    assert download_slot(url) == expected
