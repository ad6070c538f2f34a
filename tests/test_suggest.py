"""Redirect suggestions: the most relevant live page, the home page only as a flagged last resort."""

from __future__ import annotations

import pytest

from linkrot.errors import ConfigError
from linkrot.suggest import Candidate, read_overrides, suggest, suggest_all, tokens

S = "https://www.acme.test"
PAGES = [
    Candidate(f"{S}/", "Acme Widgets - Home", "Welcome"),
    Candidate(f"{S}/products/", "All products", "Products"),
    Candidate(f"{S}/products/blue-widget-pro.html", "Blue Widget Pro", "Blue Widget Pro"),
    Candidate(f"{S}/products/red-widget.html", "Red Widget", "Red Widget"),
    Candidate(f"{S}/blog/blue-widget-review.html", "We review the blue widget", "Review"),
    Candidate(f"{S}/blog/", "Blog", "Blog"),
    Candidate(f"{S}/support/returns.html", "Returns and refunds", "How to return a product"),
    Candidate(f"{S}/about.html", "About Acme", "Our story"),
]


@pytest.mark.parametrize(
    "dead, expected, home",
    [
        (
            f"{S}/products/blue-widget-2019.html",
            f"{S}/products/blue-widget-pro.html",
            False,
        ),  # same section wins
        (f"{S}/blog/blue-widget-review-old.html", f"{S}/blog/blue-widget-review.html", False),
        (f"{S}/shop/red_widget", f"{S}/products/red-widget.html", False),  # slug words across sections
        (f"{S}/refund-policy", f"{S}/support/returns.html", False),  # a word of the title
        (f"{S}/careers/2017-internship", f"{S}/", True),  # nothing related: home, flagged
        (f"{S}/index.html", f"{S}/", True),  # no words at all
    ],
)
def test_suggestion_is_the_most_relevant_live_page(dead, expected, home):
    result = suggest(dead, PAGES)
    assert (result.suggested_target, result.is_home) == (expected, home), result.reason
    if home:
        assert result.confidence <= 0.05 and "last resort" in result.reason
    else:
        assert result.confidence >= 0.25 and result.reason.startswith("shares ")


def test_a_common_word_alone_is_not_relevance():
    # every product page says "products": sharing only that is not a reason to redirect there
    result = suggest(f"{S}/products/discontinued-gizmo.html", PAGES)
    assert result.suggested_target in (f"{S}/products/", f"{S}/")
    assert result.suggested_target != f"{S}/products/red-widget.html"


def test_no_home_page_means_no_suggestion():
    result = suggest(f"{S}/careers/2017", [c for c in PAGES if c.url != f"{S}/"])
    assert result.suggested_target is None and result.confidence == 0


def test_tokens_drop_extensions_and_split_slugs():
    assert tokens("/products/Blue_Widget-2019.HTML") == {"product", "blue", "widget", "2019"}


def test_overrides_win_and_can_say_no_redirect(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text(f"from_url,to_url,note\n{S}/old,{S}/new,agreed with marketing\n{S}/gone,,page retired\n")
    overrides = read_overrides(path)
    assert overrides[f"{S}/old"].suggested_target == f"{S}/new"
    assert (
        overrides[f"{S}/old"].reason == "agreed with marketing" and overrides[f"{S}/old"].origin == "override"
    )
    assert overrides[f"{S}/gone"].suggested_target is None
    assert read_overrides(tmp_path / "missing.csv") == {}


def test_bad_overrides_file_is_a_clear_error(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("old,new\nx,y\n")
    with pytest.raises(ConfigError, match="expected a header from_url,to_url"):
        read_overrides(path)
    path.write_text("from_url,to_url\nnot a url,https://x.test/\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_overrides(path)


def test_the_dead_url_under_another_scheme_is_never_its_own_target():
    pages = [
        Candidate(f"{S}/", "Home"),
        Candidate("http://www.acme.test/products/blue-widget-2019.html", "Blue"),
    ]
    result = suggest(f"{S}/products/blue-widget-2019.html", pages)
    assert result.suggested_target == f"{S}/" and result.is_home


def test_all_dead_urls_of_a_site_are_matched_in_two_reads_of_its_pages():
    """A million-page site is read twice for all its dead URLs, never held: the same answers as one by one."""
    dead = [
        f"{S}/products/blue-widget-2019.html",
        f"{S}/refund-policy",
        f"{S}/careers/2017-internship",
        f"{S}/index.html",
        "http://www.acme.test/products/blue-widget-pro.html",  # live under https: never its own target
    ]
    reads = []

    def pages():
        reads.append(1)
        return iter(PAGES)

    assert suggest_all(dead, pages) == [suggest(url, PAGES) for url in dead]
    assert len(reads) == 2
    # the dead URL that is live under another scheme gets another page, not itself
    assert suggest_all(dead, pages)[-1].suggested_target not in (None, f"{S}/products/blue-widget-pro.html")
