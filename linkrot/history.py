"""A backlink's timeline: what changed between consecutive checks, and when a loss is confirmed.

Commercial tools flag a link "lost" after one failed recrawl; users drown in
false alarms.  Here a transient verdict (``server_error``, ``blocked``) never
changes what we know: the backlink keeps its last known state and the noise is
counted.  A removal verdict opens a *pending* loss that is confirmed only when
it holds on a re-check (``confirm_checks`` consecutive removal verdicts, at
least ``confirm_hours`` apart from the first; an immediate re-fetch in the same
run counts as one).  A link that comes back before confirmation was noise (the
pending loss is cancelled); after confirmation it is ``recovered``.

Pure functions on plain values; the store keeps the states and the changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from .status import Verdict

CHANGES = ("new", "lost", "recovered", "nofollow", "followed", "anchor_changed", "target_changed")


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
class Change:
    change: str  # one of CHANGES
    previous_status: str | None
    status: str
    detected_at: str
    confirmed: bool = True
    # for a "lost" change: "open" (pending), "confirm" (an earlier pending loss is now confirmed),
    # "cancel" (the link came back before confirmation)
    action: str = "open"


@dataclass
class Outcome:
    state: State
    changes: list[Change] = field(default_factory=list)
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
        return Outcome(new, [Change("lost", state.status, check.status, detected, True, action)])
    new = replace(state, status=state.status, pending_since=pending_since, pending_checks=count)
    if opened:
        return Outcome(new, [Change("lost", state.status, check.status, check.checked_at, False, "open")])
    return Outcome(new)


def _standing(state: State, check: Check) -> Outcome:
    changes: list[Change] = []
    status = check.status
    if state.pending_since is not None:  # came back before confirmation: it was noise
        changes.append(Change("lost", state.status, status, state.pending_since, False, "cancel"))
    if state.standing is None:
        changes.append(Change("new", None, status, check.checked_at))
    elif state.standing is False:
        changes.append(Change("recovered", state.status, status, check.checked_at))
    else:
        if check.link_found and state.nofollow is not None and check.nofollow != state.nofollow:
            changes.append(
                Change("nofollow" if check.nofollow else "followed", state.status, status, check.checked_at)
            )
        if (
            _text(check.anchor_text) != _text(state.anchor_text)
            and check.link_found
            and state.anchor_text is not None
        ):
            changes.append(Change("anchor_changed", state.status, status, check.checked_at))
        if check.linked_url and state.linked_url and check.linked_url != state.linked_url:
            changes.append(Change("target_changed", state.status, status, check.checked_at))
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
