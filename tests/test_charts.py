"""Inline SVG charts (linkrot.charts) and the HTML report that carries them, offline."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree, html
from test_dashboard import add_backlinks_runs

from linkrot import charts
from linkrot.charts import Bar
from linkrot.cli import cli


def svg(markup: str) -> etree._Element:
    return etree.fromstring(markup)


def bars(markup: str) -> list[tuple[str, float]]:
    """(label, width) of each bar, as a reader of the SVG sees them."""
    root = svg(markup)
    return [
        (g.findall("text")[0].text, float(g.find("rect").get("width")))
        for g in root.iter("g")
        if g.get("class") == "bar"
    ]


# -- pure: data in, SVG out ---------------------------------------------------------------------------


def test_bar_chart_draws_one_bar_per_label_scaled_to_the_largest():
    markup = charts.bar_chart("Verdicts", [Bar("live", 10, charts.GREEN), Bar("not_found", 5, charts.RED)])
    drawn = bars(markup)
    assert [label for label, _ in drawn] == ["live", "not_found"]
    assert drawn[0][1] == pytest.approx(2 * drawn[1][1])
    root = svg(markup)
    assert root.get("role") == "img" and root.find("title").text == "Verdicts"
    assert root.find("desc").text == "live: 10; not_found: 5"  # what a screen reader reads
    assert [r.get("fill") for r in root.iter("rect")] == [charts.GREEN, charts.RED]


def test_a_zero_draws_no_bar_and_an_empty_chart_says_so():
    assert bars(charts.bar_chart("x", [Bar("a", 4), Bar("b", 0)]))[1] == ("b", 0.0)
    empty = svg(charts.bar_chart("Nothing yet", []))
    assert list(empty.iter("rect")) == [] and empty.find("desc").text == "no data"
    assert "no data" in "".join(empty.itertext())


@pytest.mark.parametrize(
    "label",
    [
        '<script>alert(1)</script>',
        '"><img src=x onerror=alert(1)>',
        "evil.test & co",
        "]]><!--",
    ],
)
def test_labels_from_hostile_pages_are_escaped(label):
    markup = charts.bar_chart(label, [Bar(label, 3)]) + charts.time_series(label, [(label, 2)])
    for one in re.findall(r"<svg.*?</svg>", markup, flags=re.S):
        root = svg(one)  # well-formed: nothing broke out of its text node
        assert root.find("title").text == label
        assert label in "".join(root.itertext())
    assert "<script" not in markup and "<img" not in markup


def test_long_labels_are_clipped_but_kept_whole_in_the_tooltip():
    long = "a-very-long-referring-domain-name-that-goes-on.example.test"
    root = svg(charts.bar_chart("Domains", [Bar(long, 1)]))
    label = next(t.text for t in root.iter("text") if t.text and t.text.startswith("a-very"))
    assert label.endswith("…") and len(label) == 40
    assert root.find(".//g/title").text == f"{long}: 1"


def test_time_series_keeps_the_order_and_height_follows_the_value():
    root = svg(charts.time_series("Losses", [("2025-01", 2), ("2025-02", 0), ("2025-03", 4)]))
    groups = [g for g in root.iter("g") if g.get("class") == "bar"]
    assert [g.find("text").text for g in groups] == ["2025-01", "2025-02", "2025-03"]
    heights = [float(g.find("rect").get("height")) for g in groups]
    assert heights[1] == 0 and heights[2] == pytest.approx(2 * heights[0])
    assert root.find("desc").text == "2025-01: 2; 2025-02: 0; 2025-03: 4"


# -- the HTML report --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html(demo_crawl, demo_server, tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "acme.db"
    shutil.copy(demo_crawl.db.conn.execute("PRAGMA database_list").fetchone()[2], db)
    add_backlinks_runs(db, demo_server.origin, tmp)
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--format", "html"])
    assert result.exit_code in (0, 2), result.output
    return result.stdout


def _chart(page: html.HtmlElement, title: str) -> html.HtmlElement:
    found = [s for s in page.iter("svg") if s.findtext("title") == title]
    assert len(found) == 1, f"no chart titled {title!r}"
    return found[0]


def test_the_html_report_has_inline_charts_beside_its_tables(report_html, demo_crawl):
    page = html.fromstring(report_html)
    verdicts = _chart(page, "Backlink verdicts")
    labels = [g.findtext("text") for g in verdicts.iter("g") if g.get("class") == "bar"]
    assert sorted(labels) == sorted(["live", "link_removed", "not_found", "nofollow", "domain_gone", "blocked"])
    assert verdicts.getparent().tag == "body" and verdicts.getprevious().text == "Backlink verdicts"
    assert verdicts.getnext().tag == "table"  # the chart heads its table
    crawl = _chart(page, "Pages of the latest crawl, by status")
    outcomes = {r["outcome"] for r in demo_crawl.rows("pages")}
    assert {g.findtext("text") for g in crawl.iter("g") if g.get("class") == "bar"} == outcomes
    losses = _chart(page, "Confirmed backlink losses per month")
    assert losses.findtext("desc") == "2025-03: 3"  # two losses confirmed in week 2, one in week 3
    domains = _chart(page, "Backlinks lost or devalued, by referring domain")
    assert len([g for g in domains.iter("g") if g.get("class") == "bar"]) == 4
    chains = _chart(page, "Redirect chains listed below, by length")
    listed = len(page.xpath("//h2[starts-with(., 'Redirect chains')]/following-sibling::table[1]//tbody/tr"))
    assert sum(int(t) for t in re.findall(r": (\d+)", chains.findtext("desc"))) == listed > 0


def test_the_html_report_loads_nothing_from_anywhere(report_html):
    page = html.fromstring(report_html)
    fetched = [e.get("src") for e in page.iter() if e.get("src")]
    fetched += [e.get("href") for e in page.iter("link", "use", "image") if e.get("href")]
    assert fetched == []  # no script, stylesheet, image or font from a CDN
    assert not re.search(r"url\(|@import|<script", report_html, flags=re.I)
    assert "default-src 'none'" in report_html  # and the browser would refuse one anyway
    # links exist only as the report's own data (the URLs it lists), never on a chart
    for chart in page.iter("svg"):
        assert not re.search(r"https?:|//", etree.tostring(chart, encoding="unicode"))
