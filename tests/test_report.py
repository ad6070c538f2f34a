"""The report a site owner reads after a crawl: what to fix, and where.

One whole crawl of ``fixit.test`` (tests/sites/fixit.test): a retired guide linked from six pages, an
address that redirects once linked from two pages, a page that answers 200 with the site's "not
found" words, and no sitemap.  The report in its four formats says the same things.
"""

from __future__ import annotations

import json
import re
from contextlib import closing

import pytest
from click.testing import CliRunner
from conftest import Crawl, crawl

from linkrot.cli import cli
from linkrot.store import Store
from linkrot.summary import site_summary

GUIDES = [f"/guides/{page}.html" for page in "abcdef"]


@pytest.fixture(scope="module")
def fixit(vhost_server, tmp_path_factory) -> Crawl:
    db = tmp_path_factory.mktemp("fixit") / "linkrot.db"
    # a progress interval the crawl never reaches: only the last line is logged
    return crawl(
        db,
        f"http://fixit.test:{vhost_server.port}/",
        LINKROT_RESOLVE="*.test=127.0.0.1",
        LINKROT_PROGRESS_INTERVAL=3600,
    )


@pytest.fixture(scope="module")
def site(vhost_server) -> str:
    return f"http://fixit.test:{vhost_server.port}"


def report(crawl: Crawl, *args: str) -> tuple[int, str]:
    path = crawl.db.conn.execute("PRAGMA database_list").fetchone()[2]
    result = CliRunner().invoke(cli, ["report", "--db", path, *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def section(text: str, title: str) -> list[str]:
    """The lines of one section of the text report (its title up to the next blank line)."""
    assert f"\n{title}\n" in text, f"no section {title!r} in:\n{text}"
    return text.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()


def test_the_text_report_says_what_to_fix_and_where(fixit, site):
    code, text = report(fixit)
    assert code == 2  # broken links found
    broken = section(text, "Broken links (site crawl)")
    assert len(broken) == 2  # the header and the one broken URL, with its six pages
    assert re.match(
        rf"  {re.escape(site)}/retired-guide\.html +404 +6  /guides/a\.html, /guides/b\.html, /guides/c\.html "
        r"and 3 more pages  our old safety guide$",
        broken[1],
    ), broken
    redirecting = section(text, "Links to redirecting URLs (edit the link to point where it ends)")
    assert [line.split()[:4] for line in redirecting[1:]] == [
        ["/", f"{site}/moved", "301", f"{site}/workshop.html"],
        ["/guides/a.html", f"{site}/moved", "301", f"{site}/workshop.html"],
    ]
    soft = section(text, 'Soft 404s (answer 200, look like the site\'s "not found" page)')
    assert soft[0].split() == ["url", "reason", "explanation", "similarity", "variants", "title"]
    assert soft[1].split()[:2] == [f"{site}/discontinued.html", "matches_404_page"]
    assert "the same as the site's 404 page" in soft[1]  # why, in words
    summary = dict(re.split(r" {2,}", line.strip(), maxsplit=1) for line in section(text, "Summary")[1:-1])
    # the home page, six guides, the workshop and the soft 404 answered 200 with HTML; the 404 and the
    # redirecting address are URLs checked, not pages
    assert summary["HTML pages (answered 200 with a page)"] == "9"
    assert summary["URLs checked (pages, files, resources, external)"] == "11"
    assert summary["links to redirecting URLs (page, link)"] == "2"
    assert summary["soft 404s"] == "1"
    assert section(text, "Summary")[-1] == "  orphans: no sitemap read"  # not "0 orphans": none looked for
    # a site crawl alone: no backlink section, empty or not
    for absent in ("Backlink", "backlink", "KPI", "Anchor-text", "Loss", "Lost links", "none"):
        assert absent not in text, absent
    # the hints that apply: edit our pages; the redirect map is for backlinks, not found here
    hints = text.split("\nNext:\n", 1)[1].splitlines()
    assert [hint.split(":")[0] for hint in hints] == [
        "  - Broken links",
        "  - Links to redirecting URLs",
        "  - Soft 404s",
    ]
    assert "linkrot redirects" not in text and "linkrot suggest" not in text


def test_the_json_report_holds_the_same_and_every_page(fixit, site):
    code, out = report(fixit, "--format", "json")
    data = json.loads(out)
    assert code == 2
    assert (data["site_crawled"], data["backlinks_checked"], data["sitemap_read"]) == (True, False, False)
    (broken,) = data["broken_links"]
    assert broken["url"] == f"{site}/retired-guide.html" and broken["status"] == 404
    assert broken["linked_from"] == [site + page for page in GUIDES]  # every page, not the first three
    assert [
        (r["source_url"], r["url"], r["final_url"], r["hops"], r["redirects"])
        for r in data["redirecting_links"]
    ] == [
        (f"{site}/", f"{site}/moved", f"{site}/workshop.html", 1, "301"),
        (f"{site}/guides/a.html", f"{site}/moved", f"{site}/workshop.html", 1, "301"),
    ]
    assert [(r["url"], r["reason"]) for r in data["soft_404s"]] == [
        (f"{site}/discontinued.html", "matches_404_page")
    ]
    totals = data["totals"]
    assert (totals["html_pages"], totals["urls_checked"], totals["redirects"], totals["errors"]) == (
        9,
        11,
        1,
        1,
    )
    assert (totals["redirecting_links"], totals["soft_404s"], totals["sitemap_urls"]) == (2, 1, 0)
    _, text = report(fixit)
    assert data["hints"] == [line.removeprefix("  - ") for line in text.split("\nNext:\n", 1)[1].splitlines()]


def test_markdown_and_html_leave_out_the_same_sections(fixit):
    _, text = report(fixit)
    titles = [line for line in text.splitlines()[2:] if line and not line.startswith(" ") and line != "Next:"]
    _, markdown = report(fixit, "--format", "markdown")
    assert [line[3:] for line in markdown.splitlines() if line.startswith("## ")] == [*titles, "Next"]
    _, page = report(fixit, "--format", "html")
    headings = re.findall(r"<h2>([^<]*)</h2>", page)
    assert headings == [t.replace("'", "&#x27;").replace('"', "&quot;") for t in titles] + ["Next"]
    assert "and 3 more pages" in markdown and "and 3 more pages" in page
    assert "Backlink" not in markdown and "Backlink" not in page


def test_the_crawl_and_its_summary_end_with_soft_404s_and_no_sitemap(fixit):
    done = [line for line in fixit.log.splitlines() if "linkrot done (finished)" in line]
    assert len(done) == 1 and done[0].endswith(", 1 broken, 1 redirecting, 1 soft 404s, no sitemap read"), (
        done
    )
    path = fixit.db.conn.execute("PRAGMA database_list").fetchone()[2]
    with closing(Store(path)) as store:
        text = site_summary(store)
    assert "9 HTML pages; 11 URLs checked: 1 redirecting, 1 failed, 0 resources, 0 external" in text
    assert "6 broken links, 0 broken resources, 2 links to redirecting URLs" in text
    assert "1 soft 404s, no sitemap read, 0 blocked by robots.txt" in text
    assert "0 orphans" not in text


def test_a_crawl_that_read_a_sitemap_ends_with_its_orphans(demo_server, tmp_path):
    # the demo site: a sitemap listing a page no page links to, and a soft 404
    result = crawl(tmp_path / "demo.db", f"{demo_server.origin}/", LINKROT_PROGRESS_INTERVAL=3600)
    done = [line for line in result.log.splitlines() if "linkrot done (finished)" in line]
    assert len(done) == 1 and done[0].endswith(" redirecting, 1 soft 404s, 1 orphans"), done


def test_orphans_are_never_a_count_of_nothing():
    from linkrot.summary import orphans_said

    assert orphans_said(3, 120) == "3 orphans"
    assert orphans_said(0, 0) == "no sitemap read"
    # staging's sitemap lists production's URLs: read, but nothing of this site in it
    said = orphans_said(0, 0, 355)
    assert said.startswith("no URL of this site in its sitemaps (355 of another host")
    assert "-a sitemap_paths=1" in said
