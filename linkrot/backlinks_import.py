"""Import backlink exports into the store: the glue between ``importers`` (reading) and ``store`` (writing).

Rows stream through in batches; a bad row is kept as an ``import_errors`` row
with its line number and reported in the log, the rest is imported.  A
Search Console export names no target: its backlinks point at the site given
with ``-a site=`` and any link to that site counts.  A Search Console file whose
every row is a page of that site is an internal links report: refused whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .errors import ConfigError, WrongExportError
from .importers import BacklinkRow, RowError, open_export
from .matching import site_key
from .store import Store
from .urls import hostname_of, normalize_url, registrable_domain

logger = logging.getLogger(__name__)

BATCH = 2000
_LOGGED_ERRORS = 10  # bad rows named in the log per file; all of them are in import_errors


def backlink_row(row: BacklinkRow, site: str | None, fmt: str | None = None) -> dict[str, Any]:
    """The ``backlinks`` columns of an imported row; ``fmt``: the export's format name."""
    target = row.target_url or site
    host = hostname_of(row.source_url)
    return {
        "line": row.line,
        "source_url": row.source_url,
        "target_url": target,
        "any_target": int(row.target_url is None),
        "target_site": site_key(target) or "",
        "source_host": host,
        "source_domain": registrable_domain(host),
        "anchor": row.anchor,
        "source_title": row.source_title,
        "authority": row.authority,
        "authority_metric": row.authority_metric,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "nofollow": _flag(row.nofollow),
        "ugc": _flag(row.ugc),
        "sponsored": _flag(row.sponsored),
        "lost_status": row.lost_status,
        "toxic_score": row.toxic_score,
        # lists, merged by the store when one export lists the pair twice (image and text link)
        "anchors": [row.anchor] if row.anchor else None,
        "vendor_chain": [{"hop": h, "url": u, "status": s} for h, u, s in row.vendor_chain] or None,
        "extra": row.extra or None,
        "source_format": fmt,
    }


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def import_files(store: Store, files: Iterable[str], *, site: str | None) -> tuple[list[int], dict[str, int]]:
    """Import each export; return the import ids and the counts (rows, new, skipped).

    Raises ImportFileError / ConfigError for a file that cannot be used.
    """
    ids = []
    totals = {"rows": 0, "new": 0, "skipped": 0}
    for path in files:
        import_id, counts = import_file(store, path, site=site)
        ids.append(import_id)
        for key, value in counts.items():
            totals[key] += value
    return ids, totals


def import_file(store: Store, path: str, *, site: str | None) -> tuple[int, dict[str, int]]:
    site_url = normalize_url(site) if site else None
    # a target written without a scheme (Moz) takes the site's: http would look like a redirect of ours
    export = open_export(path, target_scheme=site_url.partition(":")[0] if site_url else "https")
    if export.format == "gsc" and not site:
        raise ConfigError(
            f"{path}: a Google Search Console export names no target; give your site with -a site=https://your.site/"
        )
    own_site = site_key(site) if site else None
    import_id: int | None = None  # started at the first write, so that a refused file leaves nothing
    before = store.backlink_count()
    rows = skipped = own = 0
    batch: list[dict[str, Any]] = []
    errors: list[tuple[int, str]] = []
    for item in export:
        if isinstance(item, RowError):
            errors.append((item.line, item.reason))
        elif export.format == "gsc" and site_key(item.source_url) == own_site:
            errors.append((item.line, "a page of your own site, not a backlink"))
            own += 1
        else:
            batch.append(backlink_row(item, site, export.format))
            rows += 1
        if len(batch) >= BATCH or len(errors) >= BATCH:
            import_id = import_id or store.start_import(None, str(path), export.format, export.encoding)
            if batch:
                store.import_backlinks(import_id, batch)
            skipped += _flush_errors(store, import_id, path, errors, skipped)
            batch, errors = [], []
    if own and not rows:
        raise WrongExportError(
            f"{path}: every row is a page of {site} itself, so this is a Search Console internal links report, "
            'not a list of backlinks: use "Export external links" > "Latest links" in the Links report instead'
        )
    import_id = import_id or store.start_import(None, str(path), export.format, export.encoding)
    if batch:
        store.import_backlinks(import_id, batch)
    skipped += _flush_errors(store, import_id, path, errors, skipped)
    new = store.backlink_count() - before
    store.finish_import(import_id, rows, new, skipped)
    logger.info(
        "linkrot: imported %s (%s, %s): %d rows, %d new backlinks, %d skipped",
        path,
        export.format,
        export.encoding,
        rows,
        new,
        skipped,
    )
    return import_id, {"rows": rows, "new": new, "skipped": skipped}


def _flush_errors(store: Store, import_id: int, path: str, errors: list[tuple[int, str]], logged: int) -> int:
    if not errors:
        return 0
    store.import_errors(import_id, errors)
    for line, reason in errors[: max(0, _LOGGED_ERRORS - logged)]:
        logger.warning("linkrot: %s line %d skipped: %s", path, line, reason)
    return len(errors)
