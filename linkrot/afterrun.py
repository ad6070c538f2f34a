"""What happens when a run has written its last row: history, suggestions, archive lookups, alerts.

Each step is independent and guarded: a bad overrides file, an unreachable
Wayback endpoint or a failing alert channel is logged and never costs the run
its data, which is already committed when these steps start.
"""

from __future__ import annotations

import logging
from typing import Any

from .alerts import Alert, AlertConfig, select, send
from .config import as_bool, as_float, as_int
from .errors import LinkrotError
from .history import Policy
from .history import apply as apply_history
from .status import Change, Triage
from .store import Store
from .suggest import refresh_suggestions
from .wayback import enrich

logger = logging.getLogger(__name__)


def policy_from_settings(settings: Any) -> Policy:
    return Policy(
        confirm_checks=as_int("LINKROT_CONFIRM_CHECKS", settings.get("LINKROT_CONFIRM_CHECKS"), minimum=1),
        confirm_hours=as_float("LINKROT_CONFIRM_HOURS", settings.get("LINKROT_CONFIRM_HOURS")),
    )


def after_run(
    store: Store, run_id: int, spider: str, settings: Any, stats: Any, site: str | None = None
) -> None:
    if spider == "backlinks":
        changes = apply_history(store, run_id, policy_from_settings(settings))
        for key, value in changes.items():
            stats.set_value(f"linkrot/changes/{key}", value)
    try:
        stats.set_value(
            "linkrot/suggestions", refresh_suggestions(store, settings.get("LINKROT_REDIRECT_OVERRIDES"))
        )
    except LinkrotError as exc:
        logger.error("linkrot: redirect suggestions not refreshed: %s", exc)
    if spider != "backlinks":
        return
    if as_bool("LINKROT_WAYBACK", settings.get("LINKROT_WAYBACK")):
        snapshots = enrich(
            store.wayback_candidates(run_id),
            settings.get("LINKROT_WAYBACK_ENDPOINT"),
            timeout=as_float("LINKROT_WAYBACK_TIMEOUT", settings.get("LINKROT_WAYBACK_TIMEOUT")),
            user_agent=settings.get("USER_AGENT"),
            limit=as_int("LINKROT_WAYBACK_MAX", settings.get("LINKROT_WAYBACK_MAX")),
        )
        store.save_wayback(snapshots)
        stats.set_value("linkrot/wayback/looked_up", len(snapshots))
    try:
        config = AlertConfig.from_settings(settings)
    except LinkrotError as exc:
        logger.error("linkrot: alerts not sent: %s", exc)
        return
    selected = select(run_alerts(store, run_id), config)
    results = send(selected, config, site)
    store.record_alerts(run_id, results, len(selected))
    for result in results:
        stats.set_value(
            f"linkrot/alerts/{result.channel}", "sent" if result.ok else f"failed: {result.detail}"
        )


def run_alerts(store: Store, run_id: int) -> list[Alert]:
    """Changes of this run worth telling: confirmed losses, and new links and flips for who wants them."""
    return [
        Alert(
            change=Change(r["change"]),
            source_url=r["source_url"],
            target_url=r["target_url"],
            status=r["status"],
            reason=r["reason"] or "",
            evidence=r["evidence"],
            triage=None if r["triage"] is None else Triage(r["triage"]),
            authority=r["authority"],
            authority_metric=r["authority_metric"],
            source_domain=r["source_domain"],
            detected_at=r["detected_at"],
            mentions_site=bool(r["mentions_site"]),
        )
        for r in store.run_changes(run_id)
    ]
