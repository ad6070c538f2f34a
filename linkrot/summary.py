"""A short plain-text summary of the latest site crawl, read from the store."""

from __future__ import annotations

from .store import Store

_TOP = 10
NO_SITEMAP = "no sitemap read"


_LIMIT_WORDS = {"max_pages": "stopped at {:,} pages", "max_depth": "stopped at depth {:,}"}


def describe_limits(stopped_by: str, not_crawled: int | None) -> str:
    """``stopped at 50,000 pages: 476,976 URLs not crawled; `-a max_pages=0` lifts the limit``."""
    limits = [part.split("=", 1) for part in stopped_by.split(",") if "=" in part]
    said = ", ".join(_LIMIT_WORDS.get(name, name + " {}").format(int(value)) for name, value in limits)
    lift = " and ".join(f"`-a {name}=0`" for name, _ in limits)
    missed = f"{not_crawled:,} URLs not crawled" if not_crawled is not None else "URLs not crawled"
    return f"{said}: {missed}; {lift} lift{'s' if len(limits) == 1 else ''} the limit{'s' if len(limits) > 1 else ''}"


def orphans_said(orphans: int, sitemap_urls: int, offsite: int = 0) -> str:
    """``3 orphans``; ``no sitemap read`` when the crawl read none (then 0 orphans would be no finding),
    or said why when its sitemaps list only another host's URLs (production's, on a staging copy)."""
    if sitemap_urls:
        return f"{orphans} orphans"
    if offsite:
        return (
            f"no URL of this site in its sitemaps ({offsite:,} of another host: "
            "-a sitemap_paths=1 reads their paths here)"
        )
    return NO_SITEMAP


def site_summary(store: Store, site: str | None = None) -> str:
    """What the latest crawl of ``site`` (or of every site) found, in a few lines."""
    runs = store.latest_site_runs(site)
    if not runs:
        return "No site crawl in this database yet: scrapy crawl site -a url=https://www.example.com/"
    lines: list[str] = []
    for run in runs:
        run_id = run["run_id"]
        n = store.site_run_totals(run_id)
        c = store.crawl_counts(run_id)
        offsite = store.run_stat(run_id, "linkrot/sitemap_urls_offsite") or 0
        lines.append(f"Site {run['site']} (run {run_id})")
        limits = store.run_limits(run_id)
        if limits:  # a truncated crawl says so before its figures, which are then partial
            lines.append(f"  {describe_limits(limits['stopped_by'], limits['not_crawled'])}")
        lines.append(
            f"  {c['html_pages']} HTML pages; {c['urls_checked']} URLs checked: {c['redirects']} redirecting, "
            f"{c['errors']} failed, {c['resources']} resources, {c['external']} external"
        )
        lines.append(
            f"  {n['broken_links']} broken links, {n['broken_resources']} broken resources, "
            f"{n['redirecting_links']} links to redirecting URLs, "
            f"{n['redirect_chains']} redirecting URLs ({n['redirect_loops']} in loops), "
            f"{n['soft_404s']} soft 404s, {orphans_said(n['orphans'], store.sitemap_url_count(run_id), offsite)}, "
            f"{n['blocked']} blocked by robots.txt"
        )
        sections = [
            ("Broken links", store.run_broken_links(run_id, _TOP)),
            ("Broken resources (images, scripts, stylesheets...)", store.run_broken_resources(run_id, _TOP)),
            (
                "Links to redirecting URLs (page, link, where it ends)",
                store.run_redirecting_links(run_id, _TOP),
            ),
            ("Redirect chains", store.run_redirect_chains(run_id, _TOP)),
            ("Soft 404s", store.run_soft_404s(run_id, _TOP)),
            ("Orphans (in the sitemap, linked from nowhere)", store.run_orphans(run_id, _TOP)),
        ]
        for title, rows in sections:
            if rows:
                lines.append(f"  {title}:")
                # each query names its columns in the order shown
                lines.extend("    " + "  ".join(str(v) for v in row.values()) for row in rows)
    return "\n".join(lines)
