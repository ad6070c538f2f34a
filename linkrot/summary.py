"""A short plain-text summary of the latest site crawl, read from the store."""

from __future__ import annotations

from .store import Store

_TOP = 10


def site_summary(store: Store, site: str | None = None) -> str:
    """What the latest crawl of ``site`` (or of every site) found, in a few lines."""
    where, params = ("WHERE site = ?", [site]) if site else ("", [])
    runs = store.rows(f"SELECT run_id, site FROM latest_site_runs {where} ORDER BY run_id", params)
    if not runs:
        return "No site crawl in this database yet: scrapy crawl site -a url=https://www.example.com/"
    lines: list[str] = []
    for run in runs:
        run_id = run["run_id"]

        def count(view: str, condition: str = "1") -> int:
            sql = f"SELECT count(*) AS n FROM [{view}] WHERE run_id = ? AND {condition}"
            return store.rows(sql, [run_id])[0]["n"]

        blocked = count("pages", "outcome = 'blocked'")
        lines.append(f"Site {run['site']} (run {run_id})")
        lines.append(
            f"  {count('pages')} pages, {count('broken_links')} broken links, "
            f"{count('redirect_chains')} redirecting URLs ({count('redirect_chains', 'is_loop = 1')} in loops), "
            f"{count('soft_404s')} soft 404s, {count('orphans')} orphans, "
            f"{blocked} blocked by robots.txt"
        )
        sections = [
            ("Broken links", "SELECT status, url, source_url AS found_on FROM broken_links", "status, url"),
            (
                "Redirect chains",
                "SELECT hops, final_status, url, final_url FROM redirect_chains",
                "hops DESC, url",
            ),
            ("Soft 404s", "SELECT url, reason FROM soft_404s", "url"),
            ("Orphans (in the sitemap, linked from nowhere)", "SELECT url FROM orphans", "url"),
        ]
        for title, sql, order in sections:
            rows = store.rows(f"{sql} WHERE run_id = ? ORDER BY {order} LIMIT {_TOP}", [run_id])
            if rows:
                lines.append(f"  {title}:")
                lines.extend("    " + "  ".join(str(v) for v in row.values()) for row in rows)
    return "\n".join(lines)
