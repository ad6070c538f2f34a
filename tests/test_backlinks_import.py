"""Exports into the store as users download them: what lands in ``backlinks`` and ``backlink_status``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlite_utils

from linkrot.backlinks_import import import_file
from linkrot.errors import WrongExportError
from linkrot.matching import chain_alternatives
from linkrot.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
T = "https://www.acme-widgets.test"
SITE = f"{T}/"


def rows_of(store: Store, sql: str, params=()) -> list[dict]:
    return list(sqlite_utils.Database(store.path).query(sql, params))


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "linkrot.db")
    yield store
    store.close()


def backlink(store: Store, source: str, target: str | None = None) -> dict:
    sql = "SELECT * FROM backlink_status WHERE source_url = ?" + (" AND target_url = ?" if target else "")
    rows = rows_of(store, sql, [source, target] if target else [source])
    assert len(rows) == 1, rows
    return rows[0]


def test_ahrefs_redirect_chain_is_stored_beside_our_target_hops(store):
    _, counts = import_file(store, str(SAMPLES / "ahrefs-backlinks-v3-chains.csv"), site=SITE)
    assert counts == {"rows": 6, "new": 5, "skipped": 1}
    row = backlink(store, "https://bakery.example/recipes/buns/")
    assert row["target_url"] == f"{T}/products/oils"
    assert json.loads(row["export_chain"]) == [
        {"hop": 0, "url": "http://www.acme-old.test/oils", "status": 301},
        {"hop": 1, "url": "https://www.acme-old.test/oils", "status": 301},
    ]
    assert row["export_hops"] == 2
    assert chain_alternatives(row["export_chain"])[0] == ("http://www.acme-old.test/oils", "chain_start")
    plain = backlink(store, "https://ref-blog.example/widget-care")
    assert (plain["export_chain"], plain["export_hops"]) == (None, None)


def test_an_image_link_and_a_text_link_keep_both_anchors(store):
    import_file(store, str(SAMPLES / "ahrefs-backlinks-v3-chains.csv"), site=SITE)
    row = backlink(store, "https://gadget-news.example/roundup")
    # one backlink (one page, one target), the first listing's facts, every anchor listed
    assert row["export_anchor"] == "Widget Pro logo"
    assert json.loads(row["export_anchors"]) == ["Widget Pro logo", "Widget Pro"]
    extra = json.loads(
        rows_of(store, "SELECT extra FROM backlinks WHERE id = ?", [row["backlink_id"]])[0]["extra"]
    )
    assert extra["Type"] == "image"


def test_reimport_does_not_repeat_anchors_and_a_newer_export_refreshes_them(store, tmp_path):
    path = SAMPLES / "ahrefs-backlinks-v3-resaved.csv"
    import_file(store, str(path), site=SITE)
    import_file(store, str(path), site=SITE)
    assert json.loads(backlink(store, "https://gadget-news.example/roundup")["export_anchors"]) == [
        "Widget Pro logo",
        "Widget Pro",
    ]
    newer = tmp_path / "newer.csv"
    text = path.read_text(encoding="utf-8").replace("Widget Pro logo", "Widget Pro badge")
    newer.write_text(text, encoding="utf-8")
    import_file(store, str(newer), site=SITE)
    row = backlink(store, "https://gadget-news.example/roundup")
    assert json.loads(row["export_anchors"]) == ["Widget Pro badge", "Widget Pro"]
    assert row["export_anchor"] == "Widget Pro badge"


def test_utf16_download_and_utf8_resave_give_the_same_backlinks(tmp_path):
    tables = []
    for name in ("ahrefs-backlinks-v3-chains.csv", "ahrefs-backlinks-v3-resaved.csv"):
        store = Store(tmp_path / f"{name}.db")
        import_file(store, str(SAMPLES / name), site=SITE)
        tables.append(
            rows_of(
                store,
                "SELECT source_url, target_url, anchor, anchors, source_title, authority, first_seen, last_seen, "
                "nofollow, ugc, sponsored, lost_status, vendor_chain, extra FROM backlinks ORDER BY id",
            )
        )
        store.close()
    assert tables[0] == tables[1] and len(tables[0]) == 5


def test_semrush_audit_lands_with_toxic_score_title_and_nofollow(store):
    import_file(store, str(SAMPLES / "semrush-backlink-audit.csv"), site=SITE)
    row = backlink(store, "https://links.example/tag/widgets/")
    assert (row["toxic_score"], row["source_title"], row["authority"], row["source_format"]) == (
        37.0,
        "widgets | Links, lists & more",
        12.0,
        "semrush_audit",
    )
    flags = rows_of(store, "SELECT nofollow FROM backlinks ORDER BY id")
    assert [f["nofollow"] for f in flags] == [0, 1]


@pytest.mark.parametrize(
    "site, scheme", [("http://www.acme-widgets.test/", "http"), (SITE, "https"), (None, "https")]
)
def test_moz_targets_without_scheme_take_the_sites(store, site, scheme):
    import_file(store, str(SAMPLES / "moz-inbound-links-2022.csv"), site=site)
    row = backlink(store, "http://www.hospital.example/")
    assert row["target_url"] == f"{scheme}://www.acme-widgets.test/prices"
    assert row["target_site"] == "acme-widgets.test"
    flags = rows_of(store, "SELECT source_url, nofollow FROM backlinks ORDER BY id")
    assert [(f["source_url"], f["nofollow"]) for f in flags] == [
        ("http://www.hospital.example/", 0),
        ("http://clinic.example/patients/billing", 1),
    ]


def test_search_console_internal_links_report_is_refused_and_leaves_nothing(store):
    with pytest.raises(WrongExportError) as info:
        import_file(store, str(SAMPLES / "gsc-internal-links.csv"), site=SITE)
    message = str(info.value)
    assert "every row is a page of https://www.acme-widgets.test/ itself" in message
    assert '"Export external links" > "Latest links"' in message and "\n" not in message
    assert rows_of(store, "SELECT count(*) AS n FROM imports")[0]["n"] == 0
    assert store.backlink_count() == 0


def test_queued_pages_carries_the_vendor_chain(store, tmp_path):
    # a copy under a new name: the store keys imports by path
    path = tmp_path / "example.com-backlinks-subdomains_2026-04-18_15-44-46.csv"
    shutil.copy(SAMPLES / "ahrefs-backlinks-v3-chains.csv", path)
    import_id, _ = import_file(store, str(path), site=SITE)
    run_id = store.start_run("backlinks", SITE, {})
    store.queue_checks(run_id, [import_id])
    chained = {p[1]: p[2] for p in store.queued_pages(run_id, 0, 100)}
    assert all(len(b) == 5 for backlinks in chained.values() for b in backlinks)
    (bakery,) = chained["https://bakery.example/recipes/buns/"]
    assert [kind for _, kind in chain_alternatives(bakery[4])] == ["chain_start", "chain_hop"]
    assert chained["https://ref-blog.example/widget-care"][0][4] is None
