"""A backlink's timeline: changes between checks, losses confirmed only when they hold, noise never a loss."""

from __future__ import annotations

import pytest
import sqlite_utils
from conftest import check_backlinks

from demo.server import SiteServer
from linkrot import history
from linkrot.history import Check, Policy, State, transition

T0, T1, T2 = "2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00"


def check(status, at, found=None, nofollow=False, anchor="Acme", url="https://ours.test/x", confirmations=1):
    found = status in ("live", "nofollow") if found is None else found
    return Check(
        status, found, nofollow, anchor if found else None, url if found else None, at, confirmations
    )


def run(checks, policy=Policy()):
    state, changes = State(), []
    for c in checks:
        outcome = transition(state, c, policy)
        state = outcome.state
        changes += [(ch.change, ch.confirmed, ch.action) for ch in outcome.changes]
    return state, changes


def test_first_sight_is_new():
    assert run([check("live", T0)])[1] == [("new", True, "open")]


def test_a_removal_is_pending_until_it_holds_on_a_recheck():
    state, changes = run([check("live", T0), check("link_removed", T1)])
    assert changes[-1] == ("lost", False, "open") and state.standing is True and state.pending_checks == 1
    state, changes = run([check("live", T0), check("link_removed", T1), check("not_found", T2)])
    assert changes[-1] == ("lost", True, "confirm") and state.standing is False


def test_transient_verdicts_never_make_a_loss_and_are_counted():
    state, changes = run([check("live", T0), check("server_error", T1), check("blocked", T2)])
    assert changes == [("new", True, "open")]
    assert state.standing is True and state.noise == 2 and state.status == "live"


def test_a_link_back_before_confirmation_cancels_the_pending_loss():
    state, changes = run([check("live", T0), check("link_removed", T1), check("live", T2)])
    assert changes[-1] == ("lost", False, "cancel") and state.pending_since is None


def test_recovered_after_a_confirmed_loss():
    _, changes = run([check("live", T0), check("domain_gone", T1, confirmations=2), check("live", T2)])
    assert [c[0] for c in changes] == ["new", "lost", "recovered"]
    assert changes[1] == ("lost", True, "open")  # an immediate re-fetch in the same run confirmed it


def test_minimum_spacing_between_first_removal_and_confirmation():
    policy = Policy(confirm_checks=2, confirm_hours=24 * 10)
    _, changes = run([check("live", T0), check("link_removed", T1), check("link_removed", T2)], policy)
    assert changes[-1] == ("lost", False, "open")  # only a week apart: still pending
    _, changes = run([check("live", T0), check("link_removed", T0), check("link_removed", T2)], policy)
    assert changes[-1] == ("lost", True, "confirm")


@pytest.mark.parametrize(
    "before, after, change",
    [
        (check("live", T0), check("nofollow", T1, nofollow=True), "nofollow"),
        (check("nofollow", T0, nofollow=True), check("live", T1), "followed"),
        (check("live", T0), check("live", T1, anchor="Acme widgets"), "anchor_changed"),
        (check("live", T0), check("live", T1, url="https://ours.test/other"), "target_changed"),
    ],
)
def test_status_changes(before, after, change):
    assert run([before, after])[1][-1] == (change, True, "open")


def test_redirected_with_the_link_is_not_a_loss():
    _, changes = run([check("live", T0), check("redirected", T1, found=True)])
    assert changes == [("new", True, "open")]


PAGE = "<html><body><p>{}</p></body></html>"


@pytest.fixture
def web(tmp_path):
    root = tmp_path / "web"
    (root / "ref.test").mkdir(parents=True)
    (root / "www.ours.test").mkdir()
    (root / "www.ours.test" / "x.html").write_text(PAGE.format("our page"))
    with SiteServer(root) as server:
        yield server, root


def write(root, name, body):
    (root / "ref.test" / name).write_text(PAGE.format(body))


def test_changes_across_runs(web, tmp_path):
    server, root = web
    port = server.port
    target = f"http://www.ours.test:{port}/x.html"
    link = f'<a href="{target}">Acme</a>'
    for name in ("stays", "removed", "flipped", "flaky"):
        write(root, f"{name}.html", f"We like {link}.")
    export = tmp_path / "export.csv"
    export.write_text(
        "source_url,target_url\n"
        + "".join(
            f"http://ref.test:{port}/{name}.html,{target}\n"
            for name in ("stays", "removed", "flipped", "flaky")
        )
    )
    db = tmp_path / "x.db"
    settings = {
        "LINKROT_RESOLVE": "*.test=127.0.0.1",
        "LINKROT_RENDER": "never",
        "RETRY_TIMES": 0,
        "LINKROT_BRANDS": "Acme",
    }
    first = check_backlinks(db, f"file={export}", **settings)
    assert sorted(r["change"] for r in first.rows("backlink_changes")) == ["new"] * 4

    write(root, "removed.html", "We used to link to Acme here.")
    write(root, "flipped.html", link.replace("<a ", '<a rel="sponsored" '))
    routes = {"ref.test/flaky.html": {"status": 503, "body": "down for maintenance"}}
    server.routes.update(routes)
    second = check_backlinks(db, **settings)  # no file: re-check every known backlink
    changes = {
        (r["source_url"].rsplit("/", 1)[1], r["change"]): r
        for r in second.rows("backlink_changes", run_id=second.run["id"])
    }
    assert set(changes) == {("removed.html", "lost"), ("flipped.html", "nofollow")}
    assert changes[("removed.html", "lost")]["confirmed"] == 0  # pending until a re-check
    assert changes[("removed.html", "lost")]["mentions_site"] == 1  # still names the brand: easy to reclaim
    assert second.stats["linkrot/changes/noise"] == 1  # the 503 is noise, not a loss

    third = check_backlinks(db, **settings)
    lost = third.rows("backlink_changes", change="lost")
    assert len(lost) == 1 and lost[0]["confirmed"] == 1 and lost[0]["confirmed_run_id"] == third.run["id"]
    # detected in run 2, confirmed in run 3 (a run can take less than the timestamps' second)
    assert lost[0]["run_id"] == second.run["id"] and lost[0]["detected_at"] <= lost[0]["confirmed_at"]
    assert not third.rows("backlink_changes", run_id=third.run["id"])  # nothing else changed

    write(root, "removed.html", f"Back again: {link}.")
    fourth = check_backlinks(db, **settings)
    assert [r["change"] for r in fourth.rows("backlink_changes", run_id=fourth.run["id"])] == ["recovered"]
    assert fourth.db["backlink_checks"].count == 16  # every check kept: a timeline per backlink

    # the KPIs, in the report and as views
    import json as jsonlib

    from click.testing import CliRunner

    from linkrot.cli import cli

    report = jsonlib.loads(CliRunner().invoke(cli, ["report", "--db", str(db), "--format", "json"]).output)
    month = report["kpi_monthly"][0]
    assert (month["links_live_at_start"], month["confirmed_losses"], month["loss_rate_pct"]) == (4, 1, 25.0)
    assert month["loss_rate_band"].startswith("reclamation problem")
    assert report["kpi_latest_run"]["referring_domains"] == 1 and report["kpi_latest_run"]["noise"] == 1
    assert report["anchor_mix"] == [
        {
            "anchor_class": "branded",
            "links": 3,
            "share_pct": 100.0,
            "healthy_low_pct": 40,
            "healthy_high_pct": 50,
            "versus_healthy": "above",
        }
    ]
    assert report["changes"] == {"recovered": 1}


def test_an_immediate_recheck_confirms_in_the_same_run(web, tmp_path):
    server, root = web
    port = server.port
    target = f"http://www.ours.test:{port}/x.html"
    write(root, "page.html", f'<a href="{target}">Acme</a>')
    export = tmp_path / "export.csv"
    export.write_text(f"source_url,target_url\nhttp://ref.test:{port}/page.html,{target}\n")
    db = tmp_path / "x.db"
    settings = {
        "LINKROT_RESOLVE": "*.test=127.0.0.1",
        "LINKROT_RENDER": "never",
        "LINKROT_CONFIRM_RECHECK": True,
    }
    check_backlinks(db, f"file={export}", **settings)
    write(root, "page.html", "gone")
    second = check_backlinks(db, **settings)
    lost = second.one("backlink_changes", change="lost")
    assert lost["confirmed"] == 1 and second.stats["linkrot/recheck/requested"] == 1


def test_overlapping_runs_of_a_spider_are_refused(tmp_path):
    from conftest import run_scrapy

    from linkrot.lock import RunLock

    db = tmp_path / "x.db"
    lock = RunLock(db, "backlinks").acquire()
    try:
        proc = run_scrapy(["crawl", "backlinks", "-s", f"LINKROT_DB={db}"])
        assert proc.returncode != 0
        assert (
            "another backlinks run (pid" in proc.stderr and "not starting an overlapping one" in proc.stderr
        )
    finally:
        lock.release()
    proc = run_scrapy(["crawl", "backlinks", "-s", f"LINKROT_DB={db}"])
    assert "no backlinks to check" in proc.stderr  # the lock is gone with its holder


def test_confirmed_high_value_loss_is_alerted_and_archived(web, tmp_path):
    """A confirmed loss above the authority threshold reaches a webhook and a mailbox; a dead channel costs nothing."""
    import json as jsonlib
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aiosmtpd.controller import Controller

    server, root = web
    port = server.port
    posts: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - stdlib name
            posts.append(jsonlib.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Mailbox:
        messages: list = []

        async def handle_DATA(self, server_, session, envelope):  # noqa: N802 - aiosmtpd name
            self.messages.append(envelope)
            return "250 OK"

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    mailbox = Mailbox()
    with socket.socket() as probe:  # aiosmtpd cannot listen on port 0: pick a free port first
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free)
    smtp.start()
    server.routes["/wayback/available"] = {
        "content_type": "application/json",
        "body": jsonlib.dumps(
            {
                "archived_snapshots": {
                    "closest": {
                        "available": True,
                        "url": "http://archive.test/web/2026/x",
                        "timestamp": "20260102030405",
                        "status": "200",
                    }
                }
            }
        ),
    }
    try:
        target = f"http://www.ours.test:{port}/x.html"
        write(root, "big.html", f'<a href="{target}">Acme</a>')
        write(root, "small.html", f'<a href="{target}">Acme</a>')
        export = tmp_path / "ahrefs.csv"
        export.write_text(
            '"Referring page URL","Target URL","Anchor","Domain rating"\n'
            f'"http://ref.test:{port}/big.html","{target}","Acme","72"\n'
            f'"http://ref.test:{port}/small.html","{target}","Acme","12"\n'
        )
        db = tmp_path / "x.db"
        settings = {
            "LINKROT_RESOLVE": "*.test=127.0.0.1",
            "LINKROT_RENDER": "never",
            "LINKROT_CONFIRM_CHECKS": 1,
            "LINKROT_ALERT_WEBHOOK": f"http://127.0.0.1:{hook.server_address[1]}/hook",
            "LINKROT_ALERT_SMTP": f"127.0.0.1:{smtp.port}",
            "LINKROT_ALERT_EMAIL_TO": "seo@ours.test",
            "LINKROT_WAYBACK": True,
            "LINKROT_WAYBACK_ENDPOINT": f"http://127.0.0.1:{port}/wayback/available",
        }
        check_backlinks(db, f"file={export}", **settings)
        assert not posts and not mailbox.messages  # new links do not alert by default
        write(root, "big.html", "gone")
        write(root, "small.html", "gone")
        second = check_backlinks(db, **settings)
        assert len(posts) == 1 and len(posts[0]["alerts"]) == 1  # DR 12 is under the threshold of 50
        alert = posts[0]["alerts"][0]
        assert alert["source_url"].endswith("/big.html") and alert["status"] == "link_removed"
        assert alert["triage"] == "reclaim" and 'href="' in alert["evidence"]
        assert "big.html" in posts[0]["text"] and "outreach" in posts[0]["text"]
        assert len(mailbox.messages) == 1 and mailbox.messages[0].rcpt_tos == ["seo@ours.test"]
        assert "big.html" in second.out and "small.html" not in second.out  # and on standard output
        sent = {r["channel"]: r["ok"] for r in second.rows("alerts")}
        assert sent == {"stdout": 1, "webhook": 1, "email": 1}
        lost = second.one("backlink_changes", change="lost", source_url=f"http://ref.test:{port}/big.html")
        assert lost["archived_snapshot"] == "http://archive.test/web/2026/x" and lost[
            "archived_at"
        ].startswith("2026-01-02")

        # a dead webhook and mail server: logged, the run's data is all there
        write(root, "big.html", f'<a href="{target}">Acme</a>')
        dead = {
            **settings,
            "LINKROT_ALERT_CHANGES": "recovered",
            "LINKROT_ALERT_WEBHOOK": "http://127.0.0.1:9/hook",
            "LINKROT_ALERT_SMTP": "127.0.0.1:9",
        }
        third = check_backlinks(db, **dead)
        assert third.one("backlink_changes", change="recovered")["source_url"].endswith("/big.html")
        failed = {r["channel"]: r["ok"] for r in third.rows("alerts") if r["run_id"] == third.run["id"]}
        assert failed == {"stdout": 1, "webhook": 0, "email": 0}
        assert third.run["state"] == "finished"
    finally:
        hook.shutdown()
        smtp.stop()


def test_many_losses_from_one_domain_on_one_day_are_a_spike(tmp_path):
    from linkrot.items import BacklinkCheck
    from linkrot.store import Store

    store = Store(tmp_path / "x.db")
    rows = [
        {
            "source_url": f"https://blog.big.test/post-{i}",
            "target_url": "https://www.ours.test/",
            "target_site": "ours.test",
            "source_host": "blog.big.test",
            "source_domain": "big.test",
            "line": i + 2,
            "any_target": 0,
        }
        for i in range(4)
    ] + [
        {
            "source_url": "https://small.test/p",
            "target_url": "https://www.ours.test/",
            "target_site": "ours.test",
            "source_host": "small.test",
            "source_domain": "small.test",
            "line": 6,
            "any_target": 0,
        }
    ]
    store.import_backlinks(store.start_import(None, "x.csv", "plain", "utf-8"), rows)
    db = sqlite_utils.Database(store.path)
    ids = [r["id"] for r in db["backlinks"].rows_where(order_by="id")]
    for status, found in (("live", True), ("link_removed", False)):
        run = store.start_run("backlinks", None, {})
        store.write_checks(run, [BacklinkCheck(i, status, "", "ok", 200, link_found=found) for i in ids])
        history.apply(store, run, Policy(confirm_checks=1))
    spikes = list(db.query("SELECT source_domain, losses FROM loss_spikes"))
    assert spikes == [{"source_domain": "big.test", "losses": 4}]  # small.test's one loss is just a loss
    # and the report's named query says the same
    assert [(r["source_domain"], r["losses"], r["statuses"]) for r in store.loss_spikes()] == [
        ("big.test", 4, "link_removed")
    ]


# -- one run's checks through the store: history.plan (pure) and history.apply (store primitives) --------


def row(backlink_id, c, state=None):
    """A ``history_rows`` row: the check, and the state before it (none known by default)."""
    state = state or State()
    return {
        "backlink_id": backlink_id,
        "status": c.status,
        "link_found": int(c.link_found),
        "nofollow": int(c.nofollow),
        "anchor_text": c.anchor_text,
        "linked_url": c.linked_url,
        "checked_at": c.checked_at,
        "rechecked": int(c.confirmations == 2),
        **{f"state_{k}": getattr(state, k) for k in State.__dataclass_fields__},
    }


def test_plan_sorts_events_into_new_rows_confirmations_and_cancellations():
    pending = State(standing=True, status="live", pending_since=T1, pending_checks=1, anchor_text="Acme")
    ledger = history.plan(
        [
            row(1, check("live", T2)),  # first sight: a new event
            row(2, check("link_removed", T2), pending),  # the pending loss held: confirmed
            row(3, check("live", T2), pending),  # came back: the pending loss is cancelled
            row(4, check("server_error", T2), pending),  # noise: nothing changes
            row(5, check("link_removed", T2, confirmations=2), State(standing=True, status="live")),
        ],
        Policy(confirm_checks=2),
    )
    assert [(i, e.change, e.confirmed) for i, e, _ in ledger.events] == [(1, "new", True), (5, "lost", True)]
    assert ledger.confirmed == [(2, T2)] and ledger.cancelled == [3]
    assert [i for i, _ in ledger.states] == [1, 2, 3, 4, 5]
    assert ledger.counts == {"noise": 1, "new": 1, "lost/confirm": 1, "lost/cancel": 1, "lost/open": 1}


def test_apply_writes_the_timeline_through_the_store(tmp_path):
    from linkrot.items import BacklinkCheck
    from linkrot.store import Store

    store = Store(tmp_path / "x.db")
    rows = [
        {
            "source_url": f"https://ref.test/{name}",
            "target_url": "https://www.ours.test/",
            "target_site": "ours.test",
            "source_host": "ref.test",
            "source_domain": "ref.test",
            "line": i + 2,
            "any_target": 0,
        }
        for i, name in enumerate(("held", "back"))
    ]
    store.import_backlinks(store.start_import(None, "x.csv", "plain", "utf-8"), rows)
    db = sqlite_utils.Database(store.path)
    held, back = (r["id"] for r in db["backlinks"].rows_where(order_by="id"))
    runs = []
    for verdicts in (("live", "live"), ("link_removed", "link_removed"), ("link_removed", "live")):
        run = store.start_run("backlinks", None, {})
        runs.append(run)
        store.write_checks(
            run,
            [
                BacklinkCheck(i, v, "", "ok", 200, link_found=v == "live")
                for i, v in zip((held, back), verdicts)
            ],
        )
        counts = history.apply(store, run, Policy(confirm_checks=2))
    assert counts == {"noise": 0, "lost/confirm": 1, "lost/cancel": 1}
    changes = {(r["backlink_id"], r["change"]): r for r in db["backlink_changes"].rows}
    assert set(changes) == {(held, "new"), (back, "new"), (held, "lost")}  # back's loss was noise: cancelled
    lost = changes[(held, "lost")]
    assert (lost["run_id"], lost["confirmed"], lost["confirmed_run_id"]) == (runs[1], 1, runs[2])
    states = {r["backlink_id"]: r for r in db["backlink_state"].rows}
    assert states[held]["standing"] == 0 and states[back]["standing"] == 1
    assert states[back]["pending_since"] is None and states[back]["run_id"] == runs[2]
