"""The demo's printed story: what the backlinks check found and what to repair, read from the public views.

Only views of the README's "The database" (``backlink_status``,
``backlink_changes``, ``broken_backlinks``) and the ``linkrot`` commands are
used, so the demo shows what a user can query themselves.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from typing import Any

import sqlite_utils

from linkrot.cli import cli
from linkrot.report import clean
from linkrot.status import Verdict
from linkrot.store import Store

# the good news first, then what to reclaim, then what is gone; the rest in the vocabulary's order
_ORDER = ["live", "nofollow", "link_removed", "not_found"] + [
    v.value for v in Verdict if v.value not in ("live", "nofollow", "link_removed", "not_found")
]


def views(store: Store, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Rows of linkrot's contract views, read as any user of the database would."""
    return list(sqlite_utils.Database(store.path).query(sql, params))


def short(url: str | None) -> str:
    """``http://techblog.test:41234/x`` -> ``techblog.test/x``: all demo URLs share the scheme and port."""
    return re.sub(r"^https?://([^/:]+)(:\d+)?", r"\1", clean(url)) if url else ""


def backlink_lines(store: Store) -> list[str]:
    """One line per verdict count, then each backlink: verdict, referring page, our page, why."""
    rows = views(
        store,
        "SELECT status, source_url, target_url, target_status, reason, rendered, mentions_site "
        "FROM backlink_status ORDER BY source_url, target_url",
    )
    rows.sort(key=lambda r: _rank(r["status"]))
    counts = Counter(r["status"] for r in rows)
    pages = len({r["source_url"] for r in rows})
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items(), key=lambda c: _rank(c[0])))
    lines = [f"  {len(rows)} backlinks on {pages} referring pages: {summary}"]
    for r in rows:
        ours = short(r["target_url"]).split("/", 1)[-1]
        dead = f"  (our page answers {r['target_status']})" if _broken_target(r["target_status"]) else ""
        lines.append(f"  {r['status']:<13} {short(r['source_url'])} -> /{ours}{dead}")
        lines.append(f"  {'':<13}   {clean(r['reason'])}")
    return lines


def _rank(verdict: str | None) -> int:
    return _ORDER.index(verdict) if verdict in _ORDER else len(_ORDER)


def _broken_target(status: Any) -> bool:
    return status is not None and str(status) not in ("200", "ok")


def lost_lines(store: Store) -> list[str]:
    """The losses this check opened (pending until a second check agrees) and the nofollow flips."""
    lost = views(
        store,
        "SELECT c.status, c.confirmed, c.source_url, c.mentions_site, s.http_status "
        "FROM backlink_changes c JOIN backlink_status s "
        "  ON s.source_url = c.source_url AND s.target_url = c.target_url "
        "WHERE c.change = 'lost' ORDER BY c.source_url",
    )
    flips = views(
        store,
        # the export (backlinks.nofollow) said followed; the page now says nofollow
        "SELECT s.source_url, s.rel FROM backlink_status s JOIN backlinks b ON b.id = s.backlink_id "
        "WHERE s.status = 'nofollow' AND coalesce(b.nofollow, 0) = 0 ORDER BY s.source_url",
    )
    pending = sum(1 for r in lost if not r["confirmed"])
    lines = [
        f"  {len(lost)} links lost since the export, {pending} of them pending: a loss is confirmed",
        "  when the next check agrees (LINKROT_CONFIRM_CHECKS=2), so one bad fetch is never a loss",
    ]
    for r in lost:
        why = f"HTTP {r['http_status']}" if r["http_status"] and r["status"] == "not_found" else ""
        if r["mentions_site"]:
            why = "the page still names you: ask for the link back"
        lines.append(f"    {r['status']:<13} {short(r['source_url'])}  {why}".rstrip())
    for r in flips:
        lines.append(
            f"  nofollow flip: {short(r['source_url'])} (followed in the export, rel={r['rel']} on the page)"
        )
    return lines


def broken_backlink_lines(store: Store) -> list[str]:
    """Our dead pages that live links point to, most valuable first, each with its suggested target."""
    rows = views(store, "SELECT * FROM broken_backlinks")
    lines = []
    for rank, r in enumerate(rows, start=1):
        authority = f", best authority {r['best_authority']:g}" if r["best_authority"] is not None else ""
        lines.append(
            f"  {rank}. {short(r['url'])}  {r['status']}: {_n(r['referring_domains'], 'referring domain')}, "
            f"{_n(r['backlinks'], 'backlink')}{authority}"
        )
        if r["suggested_target"]:
            home = ", the home page: a last resort" if r["suggestion_is_home"] else ""
            lines.append(
                f"     redirect to {short(r['suggested_target'])}  "
                f"(confidence {r['confidence']:.2f}{home}; {clean(r['suggestion_reason'])})"
            )
        else:
            lines.append(f"     no suggestion: {clean(r['suggestion_reason'])}")
    return lines or ["  none"]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run a ``linkrot`` command in this process: (exit code, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args=list(args), prog_name="linkrot", standalone_mode=False)
    return int(code or 0), out.getvalue(), err.getvalue()
