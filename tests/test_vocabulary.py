"""The triage buckets and change kinds: the enums, the SQL that stores them and the code that reads
them must never drift apart.  A real database goes through every verdict and every change."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils
import yaml
from conftest import ROOT

from linkrot import history
from linkrot.alerts import ACTIONS, CHANGES
from linkrot.history import Policy
from linkrot.items import BacklinkCheck, UrlResult
from linkrot.status import Change, Triage, Verdict
from linkrot.store import Store

OURS = "https://www.ours.test/"


def test_the_stored_strings_are_a_public_contract():
    # users' SQL, Datasette's canned queries and alert settings name these values: renaming one breaks them
    assert [t.value for t in Triage] == ["reclaim", "plumbing", "rebuild", "noise", "ok"]
    assert [c.value for c in Change] == [
        "new",
        "lost",
        "recovered",
        "nofollow",
        "followed",
        "anchor_changed",
        "target_changed",
    ]


# our target as the backlink check found it: answering, gone, redirecting, or not fetched at all
TARGETS = {
    "healthy": UrlResult(url=OURS + "healthy", outcome="ok", is_internal=True, http_status=200),
    "broken": UrlResult(url=OURS + "broken", outcome="not_found", is_internal=True, http_status=404),
    "looping": UrlResult(url=OURS + "looping", outcome="redirect_loop", is_internal=True, hops=5, is_loop=1),
    "redirects": UrlResult(
        url=OURS + "redirects", outcome="ok", is_internal=True, http_status=200, final_url=OURS, hops=1
    ),
    "unfetched": None,
}


def readme_triage(verdict: Verdict, target: str) -> Triage:
    """README "Triage", row by row: the first that applies wins."""
    if verdict in (Verdict.BLOCKED, Verdict.SERVER_ERROR):
        return Triage.NOISE
    if verdict in (Verdict.DOMAIN_GONE, Verdict.NOT_FOUND):
        return Triage.REBUILD
    if target in ("broken", "looping", "redirects"):
        return Triage.PLUMBING
    if verdict in (Verdict.REDIRECTED, Verdict.NOT_CANONICAL, Verdict.NOINDEX):
        return Triage.NOISE
    if verdict in (Verdict.LINK_REMOVED, Verdict.NOFOLLOW):
        return Triage.RECLAIM
    return Triage.OK


@pytest.fixture(scope="module")
def triaged(tmp_path_factory) -> Path:
    """One backlink per (verdict, target state), checked once; one more never checked."""
    path = tmp_path_factory.mktemp("vocabulary") / "x.db"
    store = Store(path)
    pairs = [(v, t) for v in Verdict for t in TARGETS]
    store.import_backlinks(
        store.start_import(None, "x.csv", "plain", "utf-8"),
        [
            {
                "source_url": f"https://{v}.ref.test/{t}",
                "target_url": OURS + t,
                "target_site": "ours.test",
                "source_host": f"{v}.ref.test",
                "source_domain": "ref.test",
                "line": i + 2,
                "any_target": 0,
            }
            for i, (v, t) in enumerate([*pairs, (Verdict.LIVE, "never-checked")])
        ],
    )
    db = sqlite_utils.Database(store.path)
    ids = {r["source_url"]: r["id"] for r in db["backlinks"].rows}
    run = store.start_run("backlinks", None, {})
    store.write_results(run, [r for r in TARGETS.values() if r is not None])
    store.write_checks(
        run,
        [
            BacklinkCheck(
                ids[f"https://{v}.ref.test/{t}"], v, "", "ok", 200, link_found=v in ("live", "nofollow")
            )
            for v, t in pairs
        ],
    )
    store.close()
    return path


def test_the_triage_view_follows_the_readme_for_every_verdict_and_target(triaged):
    got = {
        (r["status"], r["target_url"].removeprefix(OURS)): r["triage"]
        for r in sqlite_utils.Database(triaged)["backlink_status"].rows
    }
    assert got.pop((None, "never-checked")) is None  # unchecked: no bucket yet
    expected = {(v.value, t): readme_triage(v, t).value for v in Verdict for t in TARGETS}
    assert got == expected


def test_every_bucket_the_sql_produces_is_a_triage_member_and_back(triaged):
    db = sqlite_utils.Database(triaged)
    produced = {r["triage"] for r in db.query("SELECT DISTINCT triage FROM backlink_status")} - {None}
    assert produced == {t.value for t in Triage}
    in_view = {r["triage"] for r in db.query("SELECT DISTINCT triage FROM triage")}
    assert in_view == {t.value for t in Triage} - {Triage.OK}  # the `triage` view leaves out what is fine


def test_the_report_counts_every_bucket_in_enum_order(triaged):
    from linkrot.report import gather

    store = Store(triaged)
    counts = gather(store, top=5)["triage"]
    assert list(counts) == list(Triage)
    assert sum(counts.values()) == len(Verdict) * len(TARGETS)


def _timeline(store: Store, checks: dict[str, list[BacklinkCheck]]) -> None:
    """Run each backlink's checks, one run per step, through the history."""
    for step in range(max(len(c) for c in checks.values())):
        run = store.start_run("backlinks", None, {})
        store.write_checks(run, [c[step] for c in checks.values() if step < len(c)])
        history.apply(store, run, Policy(confirm_checks=1))


def test_every_change_kind_is_written_and_every_written_kind_is_a_member(tmp_path):
    store = Store(tmp_path / "x.db")
    names = ("flips", "moves", "lost-and-back")
    store.import_backlinks(
        store.start_import(None, "x.csv", "plain", "utf-8"),
        [
            {
                "source_url": f"https://ref.test/{n}",
                "target_url": OURS,
                "target_site": "ours.test",
                "source_host": "ref.test",
                "source_domain": "ref.test",
                "line": i + 2,
                "any_target": 0,
            }
            for i, n in enumerate(names)
        ],
    )
    db = sqlite_utils.Database(store.path)
    ids = {r["source_url"].rsplit("/", 1)[1]: r["id"] for r in db["backlinks"].rows}

    def seen(name: str, verdict: str = "live", anchor: str = "Ours", url: str = OURS) -> BacklinkCheck:
        found = verdict in ("live", "nofollow")
        return BacklinkCheck(
            ids[name],
            verdict,
            "",
            "ok",
            200,
            link_found=found,
            nofollow=verdict == "nofollow",
            anchor_text=anchor if found else None,
            linked_url=url if found else None,
        )

    _timeline(
        store,
        {
            "flips": [seen("flips"), seen("flips", "nofollow"), seen("flips")],
            "moves": [seen("moves"), seen("moves", anchor="Ours, again"), seen("moves", url=OURS + "new")],
            "lost-and-back": [
                seen("lost-and-back"),
                seen("lost-and-back", "link_removed"),
                seen("lost-and-back"),
            ],
        },
    )
    written = [r["change"] for r in db.query("SELECT change FROM backlink_events")]
    assert set(written) == {c.value for c in Change}
    in_view = {r["change"] for r in db.query("SELECT DISTINCT change FROM backlink_changes")}
    assert in_view == {c.value for c in Change}


def test_code_and_canned_queries_know_every_member():
    assert set(ACTIONS) == set(Triage)  # every bucket has an action in alerts
    assert CHANGES == set(Change)  # every change kind can be asked for in LINKROT_ALERT_CHANGES
    metadata = yaml.safe_load((ROOT / "linkrot" / "metadata.yml").read_text(encoding="utf-8"))
    triage_summary = metadata["databases"]["linkrot"]["queries"]["triage_summary"]["sql"]
    # its ORDER BY ranks the buckets by name; `ok` is the ELSE
    assert {t.value for t in Triage if f"'{t.value}'" in triage_summary} == {t.value for t in Triage} - {"ok"}
