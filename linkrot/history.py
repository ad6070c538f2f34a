"""A backlink's timeline: what changed between consecutive checks, and when a loss is confirmed.

Commercial tools flag a link "lost" after one failed recrawl; users drown in
false alarms.  Here a transient verdict (``server_error``, ``blocked``) never
changes what we know: the backlink keeps its last known state and the noise is
counted.  A removal verdict opens a *pending* loss that is confirmed only when
it holds on a re-check (``confirm_checks`` consecutive removal verdicts, at
least ``confirm_hours`` apart from the first; an immediate re-fetch in the same
run counts as one).  A link that comes back before confirmation was noise (the
pending loss is cancelled); after confirmation it is ``recovered``.

The rules are pure functions on plain values (:func:`transition`, :func:`plan`);
:func:`apply` runs them over one run's checks, reading and writing through the
store's primitives (``history_rows``, ``save_history``), which know the tables
and nothing of the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from .status import Change, Verdict

# what a "lost" event does: "open" (a new pending or confirmed loss), "confirm" (an earlier pending
# loss held on this check), "cancel" (the link came back before confirmation: it was noise)
Action = Literal["open", "confirm", "cancel"]


@dataclass(frozen=True)
class Policy:
    confirm_checks: int = 2  # consecutive removal verdicts that make a loss confirmed (1: at once)
    confirm_hours: float = 0.0  # and at least this long after the first one


@dataclass(frozen=True)
class Check:
    """What one check said (a row of ``backlink_checks``)."""

    status: str
    link_found: bool
    nofollow: bool
    anchor_text: str | None
    linked_url: str | None
    checked_at: str  # ISO 8601
    confirmations: int = 1  # 2 when an immediate re-fetch in the same run said the same


@dataclass(frozen=True)
class State:
    """What we know of a backlink between checks (a row of ``backlink_state``)."""

    standing: bool | None = None  # None: never seen standing or lost yet
    status: str | None = None  # last non-transient verdict
    nofollow: bool | None = None
    anchor_text: str | None = None
    linked_url: str | None = None
    pending_since: str | None = None  # first removal verdict of an unconfirmed loss
    pending_checks: int = 0
    noise: int = 0  # transient verdicts seen in all


@dataclass(frozen=True)
class Event:
    """One change on a backlink's timeline (a row of ``backlink_events``, or an update of one)."""

    change: Change
    previous_status: str | None
    status: str
    detected_at: str
    confirmed: bool = True
    action: Action = "open"  # anything but a loss is only ever opened


@dataclass
class Outcome:
    state: State
    changes: list[Event] = field(default_factory=list)
    noise: bool = False


def is_removal(check: Check) -> bool:
    """The check read the page (or learnt it is gone) and the link is not there."""
    return not Verdict(check.status).is_transient and not check.link_found


def _hours(since: str, now: str) -> float:
    return (datetime.fromisoformat(now) - datetime.fromisoformat(since)).total_seconds() / 3600


def transition(state: State, check: Check, policy: Policy) -> Outcome:
    """The new state of a backlink after one check, and what changed."""
    verdict = Verdict(check.status)
    if verdict.is_transient:
        return Outcome(replace(state, noise=state.noise + 1), noise=True)
    if is_removal(check):
        return _removal(state, check, policy)
    return _standing(state, check)


def _removal(state: State, check: Check, policy: Policy) -> Outcome:
    if state.standing is False:
        return Outcome(replace(state, status=check.status))  # still lost: nothing new
    pending_since = state.pending_since or check.checked_at
    count = state.pending_checks + check.confirmations
    confirmed = (
        count >= policy.confirm_checks and _hours(pending_since, check.checked_at) >= policy.confirm_hours
    )
    opened = state.pending_since is None
    if confirmed:
        new = replace(state, standing=False, status=check.status, pending_since=None, pending_checks=0)
        action = "open" if opened else "confirm"
        detected = check.checked_at if opened else pending_since
        return Outcome(new, [Event(Change.LOST, state.status, check.status, detected, True, action)])
    new = replace(state, status=state.status, pending_since=pending_since, pending_checks=count)
    if opened:
        return Outcome(new, [Event(Change.LOST, state.status, check.status, check.checked_at, False, "open")])
    return Outcome(new)


def _standing(state: State, check: Check) -> Outcome:
    changes: list[Event] = []
    status = check.status
    if state.pending_since is not None:  # came back before confirmation: it was noise
        changes.append(Event(Change.LOST, state.status, status, state.pending_since, False, "cancel"))
    if state.standing is None:
        changes.append(Event(Change.NEW, None, status, check.checked_at))
    elif state.standing is False:
        changes.append(Event(Change.RECOVERED, state.status, status, check.checked_at))
    else:
        if check.link_found and state.nofollow is not None and check.nofollow != state.nofollow:
            kind = Change.NOFOLLOW if check.nofollow else Change.FOLLOWED
            changes.append(Event(kind, state.status, status, check.checked_at))
        if (
            _text(check.anchor_text) != _text(state.anchor_text)
            and check.link_found
            and state.anchor_text is not None
        ):
            changes.append(Event(Change.ANCHOR_CHANGED, state.status, status, check.checked_at))
        if check.linked_url and state.linked_url and check.linked_url != state.linked_url:
            changes.append(Event(Change.TARGET_CHANGED, state.status, status, check.checked_at))
    new = State(
        standing=True if check.link_found else state.standing,
        status=status,
        nofollow=check.nofollow if check.link_found else state.nofollow,
        anchor_text=check.anchor_text if check.link_found else state.anchor_text,
        linked_url=check.linked_url if check.link_found else state.linked_url,
        noise=state.noise,
    )
    return Outcome(new, changes)


def _text(value: str | None) -> str:
    return " ".join((value or "").lower().split())


# -- one run's checks, through the store ------------------------------------------------------------


@dataclass
class Ledger:
    """What one run's checks change: the store writes it in one transaction."""

    states: list[tuple[int, State]] = field(default_factory=list)  # (backlink id, its state after)
    events: list[tuple[int, Event, str]] = field(default_factory=list)  # new events, with the check's time
    confirmed: list[tuple[int, str]] = field(default_factory=list)  # pending loss that held: (id, when)
    cancelled: list[int] = field(default_factory=list)  # pending loss the link came back from: id
    # for the crawl stats (linkrot/changes/...): "noise", each change, "lost/open|confirm|cancel"
    counts: dict[str, int] = field(default_factory=lambda: {"noise": 0})


class HistoryStore(Protocol):
    def history_rows(self, run_id: int) -> list[dict[str, Any]]: ...

    def save_history(self, run_id: int, ledger: Ledger) -> None: ...


def _optional(value: Any) -> bool | None:
    return None if value is None else bool(value)


def check_of(row: Mapping[str, Any]) -> Check:
    """The check of a ``history_rows`` row."""
    found = bool(row["link_found"])
    return Check(
        status=row["status"],
        link_found=found,
        nofollow=bool(row["nofollow"]),
        anchor_text=row["anchor_text"],
        linked_url=row["linked_url"],
        checked_at=row["checked_at"],
        # an immediate re-fetch that found the link gone again is a second removal verdict
        confirmations=2 if row["rechecked"] and not found else 1,
    )


def state_of(row: Mapping[str, Any]) -> State:
    """What was known of the backlink before the check of a ``history_rows`` row (``state_*``)."""
    return State(
        standing=_optional(row["state_standing"]),
        status=row["state_status"],
        nofollow=_optional(row["state_nofollow"]),
        anchor_text=row["state_anchor_text"],
        linked_url=row["state_linked_url"],
        pending_since=row["state_pending_since"],
        pending_checks=row["state_pending_checks"] or 0,
        noise=row["state_noise"] or 0,
    )


def plan(rows: Iterable[Mapping[str, Any]], policy: Policy) -> Ledger:
    """The ledger of one run: every check (``history_rows``) through :func:`transition`."""
    ledger = Ledger()
    for row in rows:
        backlink_id, check = row["backlink_id"], check_of(row)
        outcome = transition(state_of(row), check, policy)
        ledger.counts["noise"] += outcome.noise
        ledger.states.append((backlink_id, outcome.state))
        for event in outcome.changes:
            key = f"{event.change}/{event.action}" if event.change == Change.LOST else str(event.change)
            ledger.counts[key] = ledger.counts.get(key, 0) + 1
            if event.action == "confirm":
                ledger.confirmed.append((backlink_id, check.checked_at))
            elif event.action == "cancel":
                ledger.cancelled.append(backlink_id)
            else:
                ledger.events.append((backlink_id, event, check.checked_at))
    return ledger


def apply(store: HistoryStore, run_id: int, policy: Policy) -> dict[str, int]:
    """Turn a run's checks into changes (``backlink_changes``) and new states; returns the counts."""
    ledger = plan(store.history_rows(run_id), policy)
    store.save_history(run_id, ledger)
    return ledger.counts
