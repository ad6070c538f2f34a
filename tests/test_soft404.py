"""Soft 404s judged on what a page says of its own: main content, the site's boilerplate left out,
text without spaces read character by character, query-string variants of one page counted once.

tests/sites/wiki.test is a wiki shaped like a MkDocs site: every page is mostly a shared template
(header, a sidebar of ~60 bilingual entries inside <main>, a long footer), the articles are short
Chinese and Japanese texts, two stubs are only a title and the edit/licence lines, every page links
to /edit-landing/?ref=<its source> (one real page, many URLs), its 404.html answers 404, and
/algo/deleted/ and /old-wiki/?page=... are that 404 page answered with 200.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_SITES, crawl

from linkrot.extract import main_text, parse_html
from linkrot.soft404 import NotFoundTemplate, classify, shingles, tokens

WIKI = TEST_SITES / "wiki.test"
REAL_PAGES = [
    "",
    "algo/",
    "lang/",
    "about/",
    "algo/sorting/",
    "algo/graph/",
    "algo/dp/",
    "ja/binary-search/",
]
STUBS = ["algo/top-tree/", "lang/pointer/"]


# -- tokens: words, and one token per character of the scripts written without spaces ---------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Page not found", ["page", "not", "found"]),
        ("排序算法", ["排", "序", "算", "法"]),
        ("二分探索は速い", ["二", "分", "探", "索", "は", "速", "い"]),
        ("カタカナ", ["カ", "タ", "カ", "ナ"]),
        ("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]),
        ("페이지를 찾을 수 없습니다", ["페이지를", "찾을", "수", "없습니다"]),  # Korean is spaced: words
        ("在 2016 年用 C++ 写的 sort()", ["在", "2016", "年", "用", "c", "写", "的", "sort"]),
        ("，。！404？", ["404"]),  # CJK punctuation is no token
    ],
)
def test_tokens(text, expected):
    assert tokens(text) == expected


def test_a_chinese_article_is_as_many_tokens_as_characters_not_one_word_per_clause():
    article = "动态规划把一个大问题拆成重叠的子问题，并把子问题的答案记下来，避免重复计算。"
    assert len(tokens(article)) == 35  # the \w+ of words made it 3 "words", one per clause
    assert len(shingles(article)) == 33 - 1  # 33 character trigrams across the commas; 子问题 twice


# -- main_text: the page without the template every page shares ---------------------------------------


@pytest.mark.parametrize(
    "html, expected",
    [
        pytest.param(
            "<header>Site</header><nav>Home About</nav><main><nav>Side menu</nav><h1>Title</h1><p>Own"
            " text</p><aside>Related</aside></main><footer>Licence</footer>",
            "Title Own text",
            id="main-without-its-nav-and-aside",
        ),
        pytest.param(
            "<nav>Menu</nav><div role=main><p>Role main</p></div><div>Sidebar</div>",
            "Role main",
            id="role-main",
        ),
        pytest.param(
            "<nav>Menu</nav><article><header><h1>Kept</h1></header><p>Body</p><footer>By me</footer>"
            "</article><div>Elsewhere</div>",
            "Kept Body By me",
            id="one-article-keeps-its-own-header-and-footer",
        ),
        pytest.param(
            "<header>Top</header><nav>Menu</nav><div id=content><p>Div soup</p></div><footer>End</footer>",
            "Div soup",
            id="no-landmark-body-without-chrome",
        ),
        pytest.param(
            "<nav>Menu</nav><article><p>One</p></article><article><p>Two</p></article><footer>End</footer>",
            "One Two",
            id="several-articles-are-a-list-body-without-chrome",
        ),
        pytest.param(
            "<main><p>Text <script>var x = 1;</script>after <style>p{}</style><select><option>Opt"
            "</option></select>script</p><noscript>No JS</noscript></main>",
            "Text after script",
            id="scripts-styles-options-are-not-text",
        ),
        pytest.param(
            "<header><h1>Page not found</h1></header><nav>Menu</nav><main></main>",
            "Page not found Menu",
            id="empty-main-reads-the-whole-page",
        ),
    ],
)
def test_main_text(html, expected):
    assert main_text(parse_html(f"<html><body>{html}</body></html>".encode())) == expected


def test_main_text_of_a_page_nested_past_the_parser_depth_limit_does_not_recurse():
    deep = "<div>" * 3000 + "deep" + "</div>" * 3000
    page = parse_html(f"<html><body><main><p>top</p>{deep}</main></body></html>".encode())
    assert main_text(page).startswith("top")


# -- the classifier, on the fixture wiki's own files -----------------------------------------------


def _main(path: str) -> tuple[str | None, str]:
    file = WIKI / path / "index.html" if not path.endswith(".html") else WIKI / path
    page = parse_html(file.read_bytes(), "utf-8")
    return page.title, main_text(page)


@pytest.fixture(scope="module")
def learned() -> NotFoundTemplate:
    """The template as the spider learns it: the 404 page, the start page as the reference."""
    title, text = _main("404.html")
    return NotFoundTemplate.from_page(404, "http://wiki.test/probe", title, text, reference=_main("")[1])


def test_real_short_articles_and_section_pages_are_not_soft_404s(learned):
    for path in REAL_PAGES + STUBS + ["edit-landing/"]:
        title, text = _main(path)
        assert classify(learned, title, text).soft_404 is False, path


def test_the_404_page_answered_with_200_is_a_soft_404_and_says_why(learned):
    verdict = classify(learned, *_main("algo/deleted/"))
    assert verdict.soft_404 and verdict.reason == "matches_404_page" and verdict.similarity == 1.0
    assert verdict.explanation == (
        'its main content is 100% the same as the site\'s 404 page ("404 - 算法百科 CJK Algorithms Wiki")'
    )


def test_what_the_404_page_shares_with_the_start_page_is_left_out(learned):
    own = shingles(_main("404.html")[1])
    assert learned.shared and learned.shared | learned.fingerprint == own
    # the licence and edit lines of every article are shared; "页面不存在" (page does not exist) is not
    assert shingles("本页面的全部内容在") <= learned.shared
    assert shingles("页面不存在") <= learned.fingerprint
    # without the start page, the stubs (a title and those lines) come close to the 404 page
    alone = NotFoundTemplate.from_page(404, None, "404", _main("404.html")[1])
    assert not alone.shared
    assert (
        classify(alone, *_main("algo/top-tree/")).similarity
        > classify(learned, *_main("algo/top-tree/")).similarity
    )


def test_a_reference_page_that_is_itself_the_404_page_teaches_nothing():
    text = _main("404.html")[1]
    catch_all = NotFoundTemplate.from_page(200, None, "404", text, reference=_main("algo/deleted/")[1])
    assert not catch_all.shared and catch_all.fingerprint == shingles(text)
    assert classify(catch_all, *_main("old-wiki/")).soft_404


def test_similarity_is_of_main_content_a_page_that_adds_a_paragraph_is_not_the_404_page(learned):
    title, text = _main("404.html")
    assert classify(learned, title, text).similarity == 1.0
    longer = (
        text + " 另外，本页还介绍了如何用二分查找在有序数组中定位元素，以及它的时间复杂度为什么是对数级别。"
    )
    assert classify(learned, title, longer).soft_404 is False


def test_a_thin_page_saying_not_found_explains_itself_when_the_probe_taught_nothing():
    verdict = classify(None, "Oops", "Sorry, this page was not found. Go home.")
    assert verdict.soft_404 and verdict.reason == "not_found_phrase"
    assert verdict.explanation == "thin page (8 words) that says 'not found'"
    assert classify(None, "Widgets", "Blue widgets, in stock. " * 10).soft_404 is False


# -- the whole crawl ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wiki(vhost_server, tmp_path_factory):
    origin = f"http://wiki.test:{vhost_server.port}/"
    db: Path = tmp_path_factory.mktemp("wiki") / "wiki.db"
    return origin, crawl(db, origin, LINKROT_RESOLVE="*.test=127.0.0.1")


def test_crawl_flags_only_the_404_page_answered_with_200_once_per_page(wiki):
    origin, result = wiki
    flagged = {r["url"].removeprefix(origin): r for r in result.rows("soft_404s")}
    assert set(flagged) == {"algo/deleted/", "old-wiki/?page=heap"}
    # three URLs of one page (its query strings) are one soft 404, the first URL naming it
    assert flagged["old-wiki/?page=heap"]["variants"] == 3
    assert flagged["algo/deleted/"]["variants"] == 1
    for row in flagged.values():
        assert row["reason"] == "matches_404_page" and row["similarity"] == 1.0
        assert row["explanation"].startswith("its main content is 100% the same as the site's 404 page")
    # each URL keeps its own verdict, and is counted
    old = [r for r in result.rows("pages") if "/old-wiki/" in r["url"]]
    assert len(old) == 3 and all(r["soft_404"] == 1 for r in old)
    assert result.stats["linkrot/soft_404"] == 4
    assert result.stats["linkrot/probe/status"] == 404


def test_crawl_keeps_every_real_article_and_section_page(wiki):
    origin, result = wiki
    pages = {r["url"].removeprefix(origin): r for r in result.rows("pages")}
    for path in REAL_PAGES + STUBS:
        assert pages[path]["status"] == 200 and pages[path]["soft_404"] == 0, path
    # one real page reached with a query string per article: none is a soft 404
    landing = [r for url, r in pages.items() if url.startswith("edit-landing/?ref=")]
    assert len(landing) >= 10 and not any(r["soft_404"] for r in landing)
