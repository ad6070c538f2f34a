"""Property tests (Hypothesis): URL normalisation, link matching and importers never misbehave."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkrot.errors import ImportFileError
from linkrot.extract import parse_html
from linkrot.importers import read_export
from linkrot.matching import find_link, link_key, same_page, site_key
from linkrot.urls import normalize_url

LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
# a top-level label is never all digits: browsers read such a host as an IPv4 address (WHATWG)
TLD = st.text(string.ascii_lowercase, min_size=2, max_size=6)
SEGMENT = st.text(string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=10).filter(
    lambda s: s not in (".", "..")
)


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


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(HEADERS), st.lists(st.text(max_size=80), max_size=20))
def test_importers_with_a_known_header_and_any_rows(tmp_path, header, lines):
    path = tmp_path / "export.csv"
    path.write_text(header + "\n" + "\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        for item in read_export(path):
            assert item.line >= 2
            if hasattr(item, "source_url"):
                assert normalize_url(item.source_url) is not None
    except ImportFileError:
        pass
