"""What happens when a run has written its last row: history, suggestions, archive lookups, alerts.

Each step is independent and guarded: a bad overrides file, an unreachable
Wayback endpoint or a failing alert channel is logged and never costs the run
its data, which is already committed when these steps start.
"""

from __future__ import annotations

import logging
from typing import Any

from .alerts import Alert, select, send
from .config import RunConfig
from .errors import LinkrotError
from .history import apply as apply_history
from .status import Change, Triage
from .store import Store
from .suggest import refresh_suggestions
from .wayback import enrich

logger = logging.getLogger(__name__)


def after_run(
    store: Store,
    run_id: int,
    config: RunConfig,
    stats: Any,
    site: str | None = None,
    *,
    history: bool = False,
) -> None:
    """The steps of a whole run; ``history``: the backlink steps (changes, archive lookups, alerts)."""
    if history:
        changes = apply_history(store, run_id, config.policy)
        for key, value in changes.items():
            stats.set_value(f"linkrot/changes/{key}", value)
    try:
        stats.set_value("linkrot/suggestions", refresh_suggestions(store, config.overrides))
    except LinkrotError as exc:
        logger.error("linkrot: redirect suggestions not refreshed: %s", exc)
    if not history:
        return
    wayback = config.wayback
    if wayback.enabled:
        snapshots = enrich(
            store.wayback_candidates(run_id),
            wayback.endpoint,
            timeout=wayback.timeout,
            user_agent=wayback.user_agent,
            limit=wayback.max_lookups,
        )
        store.save_wayback(snapshots)
        stats.set_value("linkrot/wayback/looked_up", len(snapshots))
    if config.alerts is None:
        return
    selected = select(run_alerts(store, run_id), config.alerts)
    results = send(selected, config.alerts, site)
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
