"""Optional Wayback Machine enrichment: when was a lost page or a dead target last archived?

Off by default (``LINKROT_WAYBACK``): it calls a third-party service.  Uses the
availability API (https://archive.org/help/wayback_api.php); the endpoint is a
setting so tests and air-gapped users can point it elsewhere.  A failed lookup
is logged and skipped: it never costs the run its data.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://archive.org/wayback/available"


@dataclass(frozen=True)
class Snapshot:
    url: str
    archived: bool
    snapshot_url: str | None = None
    snapshot_at: str | None = None  # ISO 8601


def parse(url: str, payload: dict) -> Snapshot:
    """Read an availability API answer: ``{"archived_snapshots": {"closest": {...}}}``."""
    closest = (payload.get("archived_snapshots") or {}).get("closest") or {}
    if not closest.get("available") or not closest.get("url"):
        return Snapshot(url, False)
    stamp = str(closest.get("timestamp") or "")
    try:
        when = datetime.strptime(stamp, "%Y%m%d%H%M%S").isoformat() + "+00:00"
    except ValueError:
        when = None
    return Snapshot(url, True, str(closest["url"]), when)


def lookup(url: str, endpoint: str, timeout: float, user_agent: str) -> Snapshot:
    query = urllib.parse.urlencode({"url": url})
    request = urllib.request.Request(f"{endpoint}?{query}", headers={"User-Agent": user_agent})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) endpoint from settings
        return parse(url, json.loads(answer.read(1_000_000)))


def enrich(
    urls: Iterable[str], endpoint: str, *, timeout: float, user_agent: str, limit: int
) -> list[Snapshot]:
    found = []
    for url in list(dict.fromkeys(urls))[:limit]:
        try:
            found.append(lookup(url, endpoint, timeout, user_agent))
        except (OSError, ValueError) as exc:
            logger.warning("linkrot: Wayback lookup of %s failed: %s", url, exc)
    return found
