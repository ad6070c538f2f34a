"""Backlink export import: sample files per vendor, case tables, and hostile input."""

from __future__ import annotations

import gc
import os
import random
from pathlib import Path

import pytest

from linkrot import importers
from linkrot.errors import ImportFileError, WrongExportError
from linkrot.importers import BacklinkRow, RowError, open_export, parse_bool, parse_date, read_export

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
T = "https://www.acme-widgets.test"


def read_all(path: Path) -> tuple[list[BacklinkRow], list[RowError]]:
    items = list(read_export(path))
    return [i for i in items if isinstance(i, BacklinkRow)], [i for i in items if isinstance(i, RowError)]


def write(tmp_path: Path, data: bytes | str, name: str = "backlinks.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    "name, fmt, encoding, delimiter, rows, errors",
    [
        ("plain.csv", "plain", "utf-8", ",", 4, 2),
        ("plain.tsv", "plain", "utf-8", "\t", 3, 2),
        ("ahrefs-backlinks.csv", "ahrefs", "utf-16-le", "\t", 3, 1),
        ("ahrefs-broken-backlinks.csv", "ahrefs", "utf-8-sig", "\t", 2, 1),
        ("ahrefs-utf8.csv", "ahrefs", "utf-8", ",", 2, 1),
        ("semrush-backlinks.csv", "semrush", "utf-8", ",", 2, 1),
        ("gsc-latest-links.csv", "gsc", "utf-8", ",", 4, 1),
        ("gsc-sample-links.csv", "gsc", "utf-8", ",", 3, 1),
        ("majestic.csv", "majestic", "utf-8", ",", 2, 1),
        ("moz-inbound-links.csv", "moz", "utf-8", ",", 3, 1),
        # shapes of real downloads (shared/realworld-exports/SOURCES.md), with invented data
        ("ahrefs-backlinks-v3-chains.csv", "ahrefs", "utf-16-le", "\t", 6, 1),
        ("ahrefs-backlinks-v3-resaved.csv", "ahrefs", "utf-8", ",", 6, 1),
        ("ahrefs-v2-backlinks.csv", "ahrefs", "utf-16-le", "\t", 2, 1),
        ("semrush-backlink-audit.csv", "semrush_audit", "utf-8", ",", 2, 1),
        ("semrush-backlinks-old.csv", "semrush", "utf-8", ",", 2, 1),
        ("moz-inbound-links-2022.csv", "moz", "utf-8-sig", ",", 2, 1),
        ("moz-ose-legacy.csv", "moz", "utf-8", ",", 2, 0),
        ("majestic-empty-flags.csv", "majestic", "utf-8", ",", 2, 0),
        ("gsc-internal-links.csv", "gsc", "utf-8", ",", 3, 0),  # refused on import, by the site
    ],
)
def test_sample_is_recognised_and_read(name, fmt, encoding, delimiter, rows, errors):
    export = open_export(SAMPLES / name)
    assert (export.format, export.encoding, export.delimiter) == (fmt, encoding, delimiter)
    good, bad = read_all(SAMPLES / name)
    assert (len(good), len(bad)) == (rows, errors)


@pytest.mark.parametrize(
    "name, line, expected",
    [
        (
            "ahrefs-backlinks.csv",
            3,
            {
                "source_url": "https://forum.example/t/widget-owners/42",
                "target_url": f"{T}/blog/old-post",
                "anchor": "this thread",
                "source_title": "Widget owners \u00b7 Forum",
                "authority": 38.5,
                "authority_metric": "Domain rating",
                "first_seen": "2025-08-19T10:00:02",
                "last_seen": "2026-04-10T03:12:44",
                "nofollow": True,
                "ugc": True,
                "sponsored": False,
                "lost_status": "removedfromhtml",
                "extra": {
                    "Referring page HTTP code": "200",
                    "Type": "text",
                    "Rendered": "true",
                    "Raw": "true",
                    "Lost": "2026-04-10 03:12:44",
                    "Links in group": "1",
                },
            },
        ),
        (
            "ahrefs-broken-backlinks.csv",
            2,
            {
                "target_url": f"{T}/launch-2019",
                "authority": 45.0,
                "last_seen": "2026-04-17T11:20:00",
                "lost_status": None,
            },
        ),
        (
            "ahrefs-utf8.csv",
            3,
            {
                "source_url": "https://tools.example/list",
                "authority": None,
                "authority_metric": None,
                "nofollow": None,
                "first_seen": None,
            },
        ),
        (
            "semrush-backlinks.csv",
            3,
            {
                "source_url": "https://forum.example/t/widgets/7",
                "target_url": f"{T}/products/widget",
                "anchor": None,
                "source_title": "Forum: widgets",
                "authority": 18.0,
                "authority_metric": "Page ascore",
                "first_seen": "2025-06-11",
                "last_seen": "2026-03-02",
                "nofollow": True,
                "ugc": True,
                "sponsored": False,
                "lost_status": "true",
            },
        ),
        (
            "gsc-latest-links.csv",
            3,
            {
                "source_url": "https://forum.example/t/widget-owners/42",
                "target_url": None,
                "last_seen": "2026-09-28",
                "authority": None,
            },
        ),
        (
            "majestic.csv",
            2,
            {
                "source_url": "https://ref-blog.example/links",
                "target_url": f"{T}/",
                "anchor": "acme widgets",
                "authority": 17.0,
                "authority_metric": "SourceTrustFlow",
                "first_seen": "2024-06-30",
                "last_seen": "2026-04-01",
                "nofollow": False,
                "ugc": None,
                "lost_status": None,
            },
        ),
        ("majestic.csv", 4, {"anchor": 'Gizmo, "deal" of the week', "nofollow": True, "authority": 4.0}),
        (
            "moz-inbound-links.csv",
            3,
            {
                "source_url": "https://news.example/acme",
                "target_url": f"{T}/press/old",
                "authority": 58.0,
                "authority_metric": "Domain Authority",
                "first_seen": "2024-02-01",
                "lost_status": "lost",
                "extra": {"Spam Score": "2%", "Page Authority": "44", "Date Lost": "2026-03-30"},
            },
        ),
        # the URL on the page is the chain's first; the target is where the vendor's redirects end
        (
            "ahrefs-backlinks-v3-chains.csv",
            4,
            {
                "target_url": f"{T}/products/oils",
                "anchor": "our oils",
                "vendor_chain": [
                    (0, "http://www.acme-old.test/oils", 301),
                    (1, "https://www.acme-old.test/oils", 301),
                ],
                "nofollow": True,
                "ugc": True,
                "extra": {
                    "Referring page HTTP code": "200",
                    "Type": "text",
                    "Rendered": "false",
                    "Raw": "true",
                    "Discovered status": "linkfound",
                    "UR": "4.2",
                    "Links in group": "1",
                },
            },
        ),
        # a quoted field over two lines (lines 6-7): the next row starts on line 8
        (
            "ahrefs-backlinks-v3-chains.csv",
            8,
            {"lost_status": "removedfromhtml", "first_seen": "2024-02-01T08:00:00", "vendor_chain": []},
        ),
        (
            "ahrefs-backlinks-v3-resaved.csv",
            3,
            {
                "source_title": "Oils, soaps & co. \u00b7 Craft forum",
                "vendor_chain": [(0, "https://www.acme-old.test/", 301)],
                "anchor": "https://www.acme-old.test",
            },
        ),
        (
            "ahrefs-v2-backlinks.csv",
            2,
            {
                "source_url": "https://ref-blog.example/2019/tools",
                "target_url": f"{T}/products/widget",
                "anchor": "Acme widget",
                "source_title": "Tools we love",
                "authority": 47.0,
                "authority_metric": "Domain rating",
                "first_seen": "2019-05-02T10:11:12+00:00",
                "last_seen": "2020-02-20T06:07:08+00:00",
            },
        ),
        (
            "semrush-backlink-audit.csv",
            2,
            {
                "source_title": "widgets | Links, lists & more",
                "target_url": "http://www.acme-widgets.test/Default.aspx",
                "authority": 12.0,
                "authority_metric": "Domain Authority Score",
                "toxic_score": 37.0,
                "nofollow": False,
                "first_seen": "2025-10-04",
                "last_seen": "2026-02-03",
                "extra": {"Page Authority Score": "3", "Anchor Type": "branded", "Link Type": "a"},
            },
        ),
        ("semrush-backlink-audit.csv", 3, {"nofollow": True, "anchor": None, "source_title": None, "toxic_score": 32.0}),
        (
            "semrush-backlinks-old.csv",
            2,
            {"authority": 14.0, "authority_metric": "Page score", "nofollow": False, "lost_status": None},
        ),
        # Moz: no scheme; sources get http (a move to https is a redirect matching ignores), targets https
        (
            "moz-inbound-links-2022.csv",
            11,
            {
                "source_url": "http://www.hospital.example/",
                "target_url": f"{T}/prices",
                "source_title": "Hospital \u203a Home",
                "authority": 36.0,
                "authority_metric": "DA",
                "nofollow": False,
                "lost_status": None,
                "first_seen": "2021-03-24",
                "last_seen": "2022-01-04",
                "extra": {"Spam Score": "4%", "PA": "43", "HTTP Status Code": "200"},
            },
        ),
        # "--%" and "--" mean no value; "Link Type" says nofollow in words
        ("moz-inbound-links-2022.csv", 12, {"nofollow": True, "extra": {"PA": "20", "Date Lost": "2021-10-30"}}),
        ("moz-ose-legacy.csv", 8, {"nofollow": False, "authority": 45.0, "target_url": f"{T}/"}),
        ("moz-ose-legacy.csv", 9, {"nofollow": True, "source_url": "http://blog.example/2015/05/"}),
        # Majestic writes a flag only when set: empty is followed, not unknown
        ("majestic-empty-flags.csv", 2, {"nofollow": False, "extra": {}}),
        (
            "majestic-empty-flags.csv",
            3,
            {"nofollow": True, "source_url": "https://deals.example/acme%20page", "anchor": None},
        ),
        (
            "plain.csv",
            4,
            {
                "source_url": "https://forum.example/t/43",
                "target_url": f"{T}/blog/",
                "anchor": "forum, with a comma",
            },
        ),
        ("plain.tsv", 3, {"anchor": "two-line\nanchor", "target_url": f"{T}/products/gizmo"}),
    ],
)
def test_sample_known_row(name, line, expected):
    good, _ = read_all(SAMPLES / name)
    row = next(r for r in good if r.line == line)
    assert {k: getattr(row, k) for k in expected} == expected


@pytest.mark.parametrize(
    "name, errors",
    [
        (
            "plain.csv",
            [(5, "source URL is not http(s): 'ftp://files.example/list.txt'"), (6, "no target URL")],
        ),
        # a quoted anchor spans lines 3-4, so the rows after it are one line further down
        ("plain.tsv", [(5, "no source URL"), (6, "unreadable row: 4 fields where the header has 3")]),
        ("ahrefs-backlinks.csv", [(4, "no source URL")]),
        ("ahrefs-broken-backlinks.csv", [(4, "source URL is not http(s): 'mailto:editor@news.example'")]),
        ("ahrefs-utf8.csv", [(4, "target URL is not an absolute http(s) URL: 'not a url'")]),
        ("semrush-backlinks.csv", [(4, "target URL is not http(s): 'mailto:sales@acme-widgets.test'")]),
        ("gsc-latest-links.csv", [(5, "source URL is not an absolute http(s) URL: 'not a url'")]),
        ("gsc-sample-links.csv", [(4, "source URL is not an absolute http(s) URL: '//cdn.example/embed'")]),
        # line 3 opens a quote it never closes; line 4 is read again on its own and imported
        (
            "majestic.csv",
            [(3, "unreadable row: a quoted field runs over 2 lines (21 fields where the header has 20)")],
        ),
        ("moz-inbound-links.csv", [(5, "source URL is not http(s): 'mailto:press@news.example'")]),
        ("moz-inbound-links-2022.csv", [(13, "source URL is not an absolute http(s) URL: 'not a url'")]),
        ("ahrefs-backlinks-v3-chains.csv", [(9, "no source URL")]),
        ("ahrefs-v2-backlinks.csv", [(4, "no target URL")]),
        ("semrush-backlinks-old.csv", [(4, "target URL is not http(s): 'javascript:void(0)'")]),
    ],
)
def test_sample_row_errors(name, errors):
    _, bad = read_all(SAMPLES / name)
    assert [(e.line, e.reason) for e in bad] == errors


def test_moz_without_scheme_takes_the_sites_scheme_for_targets(tmp_path):
    rows, _ = read_all(SAMPLES / "moz-inbound-links.csv")
    assert [r.source_url for r in rows if r.line == 4] == ["http://ref-blog.example/no-scheme"]
    export = open_export(SAMPLES / "moz-inbound-links-2022.csv", target_scheme="http")
    assert [r.target_url for r in export if isinstance(r, BacklinkRow)] == [
        "http://www.acme-widgets.test/prices",
        "http://www.acme-widgets.test/prices?sub=Pricing+Transparency",
    ]


@pytest.mark.parametrize(
    "urls, codes, chain",
    [
        ("", "", []),
        ("https://a.example/", "301", [(0, "https://a.example/", 301)]),
        (
            "http://a.example/x, https://a.example/x",
            "301, 308",
            [(0, "http://a.example/x", 301), (1, "https://a.example/x", 308)],
        ),
        # a comma inside a URL is no separator (Ahrefs puts a space after its own)
        (
            "https://a.example/x,y, https://b.example/",
            "302, 301",
            [(0, "https://a.example/x,y", 302), (1, "https://b.example/", 301)],
        ),
        # an unusable hop is left out, the others keep their place; a missing code is unknown
        ("mailto:x@a.example, https://b.example/", "301", [(1, "https://b.example/", None)]),
    ],
)
def test_parse_chain(urls, codes, chain):
    assert importers.parse_chain(urls, codes) == chain


@pytest.mark.parametrize(
    "text, scheme, expected",
    [
        ("www.dosher.org/", "http", "http://www.dosher.org/"),
        ("shop.example/p?sub=A+B", "https", "https://shop.example/p?sub=A+B"),
        ("shop.example:8080/x", "http", "http://shop.example:8080/x"),
        ("https://www.dosher.org/", "http", "https://www.dosher.org/"),
        ("mailto:a@b.example", "http", "mailto:a@b.example"),
        ("//cdn.example/x", "http", "//cdn.example/x"),
        ("not a url", "http", "not a url"),
        ("localhost/x", "http", "localhost/x"),
    ],
)
def test_with_scheme(text, scheme, expected):
    assert importers.with_scheme(text, scheme) == expected


def test_schemeless_urls_are_refused_outside_moz(tmp_path):
    good, bad = read_all(write(tmp_path, f"source_url,target_url\nref.example/a,{T}/\nhttps://ref.example/b,{T}/\n"))
    assert [r.line for r in good] == [3]
    assert [(e.line, e.reason) for e in bad] == [(2, "source URL is not an absolute http(s) URL: 'ref.example/a'")]


@pytest.mark.parametrize(
    "name, problem",
    [
        (
            "semrush-refdomains.csv",
            'a Semrush "Referring domains" export (one row per domain), not a list of backlinks: '
            "export Backlink Analytics > Backlinks instead",
        ),
        (
            "gsc-top-linking-sites.csv",
            'the Search Console "Top linking sites" table (one row per site), not a list of backlinks: '
            'use "Export external links" > "Latest links" in the Links report instead',
        ),
    ],
)
def test_domain_level_report_says_what_to_download(name, problem):
    with pytest.raises(WrongExportError) as info:
        open_export(SAMPLES / name)
    assert str(info.value) == f"{SAMPLES / name}: this is {problem}"


def test_all_rows_refused_names_the_first_reason_not_the_header(tmp_path):
    path = write(tmp_path, "URL,Target URL,DA\nnot a url,www.acme-widgets.test/,3\n,x,1\n")
    with pytest.raises(ImportFileError) as info:
        list(read_export(path))
    assert str(info.value) == (
        f"{path}: no usable backlink row in this Moz export "
        "(2 rows could not be read; line 2: source URL is not an absolute http(s) URL: 'not a url')"
    )


def test_duplicates_are_kept_for_the_store_to_merge():
    good, _ = read_all(SAMPLES / "plain.csv")
    assert [r.line for r in good if r.source_url == "https://ref-blog.example/widgets-review"] == [2, 3]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-09-28", "2026-09-28"),
        ("Sep 28, 2026", "2026-09-28"),
        ("September 28, 2026", "2026-09-28"),
        ("28 Sep 2026", "2026-09-28"),
        ("28/09/2026", "2026-09-28"),
        ("03/04/2026", "2026-04-03"),  # ambiguous slashes are day-first
        ("9/28/2026", "2026-09-28"),  # impossible day-first, so month-first
        ("28.09.2026", "2026-09-28"),
        ("2026-04-18 15:44:46", "2026-04-18T15:44:46"),
        ("2026-04-18T15:44:46Z", "2026-04-18T15:44:46+00:00"),
        ("2026-04-18 15:44:46 UTC", "2026-04-18T15:44:46"),
        ("1790553600", "2026-09-28T00:00:00+00:00"),  # Unix time
        ("  2026-09-28 ", "2026-09-28"),
        ("", None),
        ("   ", None),
        ("28 sept. 2026", "28 sept. 2026"),  # not understood: kept as written
        ("yesterday", "yesterday"),
        ("2026-02-30", "2026-02-30"),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        (" Yes ", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("", None),
        ("-", None),
        ("maybe", None),
    ],
)
def test_parse_bool(text, expected):
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    "content, fmt, expected",
    [
        (
            "P\u00e1gina de enlace,\u00daltimo rastreo\nhttps://a.example/x,28/09/2026\n",
            "gsc",
            {"source_url": "https://a.example/x", "target_url": None, "last_seen": "2026-09-28"},
        ),
        (
            (
                "SourceURL, AnchorText, FlagNoFollow, TargetURL, FirstIndexedDate, LastSeenDate, DateLost, ReasonLost\n"
                f"https://a.example/x, hi, 1, {T}/, 2025-01-02, 2026-01-02, 2026-02-01, 3\n"
            ),
            "majestic",
            {
                "anchor": "hi",
                "nofollow": True,
                "first_seen": "2025-01-02",
                "last_seen": "2026-01-02",
                "lost_status": "2026-02-01",
                "extra": {"DateLost": "2026-02-01", "ReasonLost": "3"},
            },
        ),
        (f"url_from;url_to;anchor_text\nhttps://a.example/x;{T}/;hi\n", "plain", {"anchor": "hi"}),
        (f"Source,Target\nhttps://a.example/x,{T}/\n", "plain", {"target_url": f"{T}/"}),
        (f"Source URL,Target URL\nhttps://a.example/x,{T}/\n", "plain", {"target_url": f"{T}/"}),
        # header names compared without case, spacing, quotes or a BOM
        (
            f'\ufeff" REFERRING PAGE URL ","target_url"\nhttps://a.example/x,{T}/\n',
            "ahrefs",
            {"source_url": "https://a.example/x"},
        ),
        # Excel's "sep=" hint line before the header
        (f"sep=;\nsource_url;target_url\nhttps://a.example/x;{T}/\n", "plain", {"line": 3}),
        (f"source_url,target_url\r\nhttps://a.example/x,{T}/\r\n", "plain", {"line": 2}),
        (
            f"source_url,target_url\rhttps://a.example/y,{T}/\rhttps://a.example/x,{T}/\r",
            "plain",
            {"line": 3},
        ),
        (
            f"Page ascore;Source url;Target url\n45,5;https://a.example/x;{T}/\n",
            "semrush",
            {"authority": 45.5},
        ),
        (
            f"URL,Target URL,Domain Authority,Link State\nhttps://a.example/x,{T}/,nan,active\n",
            "moz",
            {"authority": None, "authority_metric": None, "lost_status": None},
        ),
    ],
)
def test_header_variants(tmp_path, content, fmt, expected):
    path = write(tmp_path, content)
    assert open_export(path).format == fmt
    good, bad = read_all(path)
    assert bad == []
    assert {k: getattr(good[-1], k) for k in expected} == expected


def test_utf16_big_endian(tmp_path):
    path = write(tmp_path, "Linking page\nhttps://a.example/\u00e9t\u00e9\n".encode("utf-16-be"))
    path.write_bytes(b"\xfe\xff" + path.read_bytes())
    export = open_export(path)
    assert export.encoding == "utf-16-be"
    assert [r.source_url for r in export] == ["https://a.example/%C3%A9t%C3%A9"]


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "the file is empty"),
        (b"\n\n  \n", "no header line"),
        (bytes(random.Random(42).randrange(256) for _ in range(200_000)), "backlinks.csv: "),
        (b"PK\x03\x04rest of a workbook", "Excel or zip file"),
        (b"Target,Anchor\nref-blog.example,3\n", "header not recognised: 'Target,Anchor'"),
    ],
)
def test_unusable_file_is_one_clear_error(tmp_path, data, problem):
    path = write(tmp_path, data)
    with pytest.raises(ImportFileError) as info:
        list(read_export(path))
    message = str(info.value)
    assert problem in message and message.startswith(str(path))
    assert "\n" not in message
    assert '"Referring page URL"+"Target URL" (Ahrefs)' in message and '"Linking page"' in message


def test_missing_file(tmp_path):
    with pytest.raises(ImportFileError, match="cannot read the file"):
        open_export(tmp_path / "nope.csv")


def test_only_bad_rows_raise_after_the_row_errors(tmp_path):
    path = write(tmp_path, f"source_url,target_url\nftp://a.example/,{T}/\n,{T}/\n\n,,\n")
    export = open_export(path)
    seen = []
    expected = r"backlinks\.csv: no usable backlink row in this plain export \(2 rows could not be read; line 2: "
    with pytest.raises(ImportFileError, match=expected):
        seen.extend(export)  # keeps what was yielded before the error
    assert [(e.line, e.reason[:9]) for e in seen] == [(2, "source UR"), (3, "no source")]


def test_header_only_file(tmp_path):
    with pytest.raises(ImportFileError, match="no usable backlink row"):
        list(read_export(write(tmp_path, "Linking page,Last crawled\n")))


def test_nul_bytes_are_stripped(tmp_path):
    path = write(tmp_path, f"source_url,target_url,anchor\nhttps://a.example/x,{T}/,a\x00b\n\x00\n".encode())
    good, bad = read_all(path)
    assert [(r.anchor, bad) for r in good] == [("ab", [])]


def test_field_of_several_megabytes(tmp_path):
    big = "x" * 5_000_000
    path = write(
        tmp_path,
        f'source_url,target_url,anchor\nhttps://a.example/x,{T}/,"{big}"\nhttps://a.example/y,{T}/,y\n',
    )
    good, bad = read_all(path)
    assert [len(r.anchor) for r in good] == [5_000_000, 1] and bad == []


def test_line_over_the_limit_is_reported_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "_FIELD_LIMIT", 1024 * 1024)
    path = write(
        tmp_path,
        f"source_url,target_url,anchor\nhttps://a.example/x,{T}/,{'x' * 3_000_000}\n"
        f"https://a.example/y,{T}/,y\n",
    )
    good, bad = read_all(path)
    assert [r.line for r in good] == [3]
    assert [(e.line, e.reason) for e in bad] == [(2, "unreadable row: a line longer than 1 MB")]


def test_mixed_utf8_and_cp1252_lines(tmp_path):
    data = (
        b"source_url,target_url,anchor\n"
        + f"https://a.example/x,{T}/,caf\u00e9 \u2013 utf-8\n".encode()
        + f"https://a.example/y,{T}/,caf\u00e9 \u2013 cp1252\n".encode("cp1252")
    )
    good, bad = read_all(write(tmp_path, data))
    assert [r.anchor for r in good] == ["caf\u00e9 \u2013 utf-8", "caf\u00e9 \u2013 cp1252"] and bad == []


def test_unclosed_quote_does_not_swallow_the_rest(tmp_path):
    rows = "".join(f"https://a.example/{i},{T}/,a{i}\n" for i in range(300))
    path = write(tmp_path, f'source_url,target_url,anchor\nhttps://a.example/q,{T}/,"never closed\n{rows}')
    good, bad = read_all(path)
    assert [(e.line, e.reason) for e in bad] == [(2, "unreadable row: a quoted field is never closed")]
    assert len(good) == 300 and good[0].line == 3 and good[-1].line == 302


def test_any_bytes_give_rows_or_a_clear_error(tmp_path):
    rng = random.Random(42)
    headers = [b"source_url,target_url\n", b"Linking page\n", b"\xff\xfeL\x00i\x00", b""]
    for case in range(300):
        noise = bytes(rng.choice(b'\x00\r\n",;\t\xe9\x80hs:/.ab ') for _ in range(rng.randrange(300)))
        path = write(tmp_path, rng.choice(headers) + noise, f"fuzz{case}.csv")
        try:
            items = list(read_export(path))
        except ImportFileError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert all(isinstance(i, BacklinkRow | RowError) for i in items)


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the RSS from /proc")
def test_large_file_streams_in_bounded_memory(tmp_path):
    # RSS rather than tracemalloc: tracing every allocation makes this 200,000-row read take
    # 25 s instead of 4.  Keeping the rows, or the URLs in a cache, would add 50 MB and more.
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("source_url,target_url,anchor\n")
        for i in range(200_000):
            out.write(f"https://ref{i % 997}.example/post/{i},{T}/products/{i % 50},anchor {i}\n")
    gc.collect()
    base, peak, count, last = _rss(), 0, 0, None
    for item in read_export(path):
        count += isinstance(item, BacklinkRow)
        last = item
        if count % 10_000 == 0:
            peak = max(peak, _rss() - base)
    assert count == 200_000
    assert peak < 20 * 2**20, f"memory grew by {peak / 2**20:.1f} MB"
    # every row came through in order, the last one whole and on its own line
    assert (last.line, last.anchor, last.target_url) == (200_001, "anchor 199999", f"{T}/products/49")
