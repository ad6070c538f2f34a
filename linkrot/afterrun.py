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
        changes = store.apply_history(run_id, config.policy)
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
    rows = store.rows(
        """
        SELECT ch.change, ch.source_url, ch.target_url, ch.status, ch.detected_at, ch.authority, ch.authority_metric,
               ch.source_domain, ch.backlink_id, s.reason, s.triage, s.mentions_site,
               coalesce(ch.evidence, (SELECT evidence FROM backlink_checks k WHERE k.backlink_id = ch.backlink_id
                                      AND k.evidence IS NOT NULL ORDER BY k.run_id DESC LIMIT 1)) AS evidence
        FROM backlink_changes ch JOIN backlink_status s ON s.backlink_id = ch.backlink_id
        WHERE (ch.change = 'lost' AND ch.confirmed_run_id = :run) OR (ch.change != 'lost' AND ch.run_id = :run)
        """,
        {"run": run_id},
    )
    return [
        Alert(
            change=r["change"],
            source_url=r["source_url"],
            target_url=r["target_url"],
            status=r["status"],
            reason=r["reason"] or "",
            evidence=r["evidence"],
            triage=r["triage"],
            authority=r["authority"],
            authority_metric=r["authority_metric"],
            source_domain=r["source_domain"],
            detected_at=r["detected_at"],
            mentions_site=bool(r["mentions_site"]),
        )
        for r in rows
    ]
