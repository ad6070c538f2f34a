"""The checks of one referring page: its backlinks judged on one reading of it (pure).

A referring page carries one or more imported backlinks, as the queue gives
them: ``(backlink_id, target_url, any_target, standing, vendor_chain)``.  A reading of the
page (static HTML, or the DOM Chromium built) gives each its link, found or
not (:mod:`linkrot.matching`), its verdict and reason (:mod:`linkrot.verify`),
the anchor class and unlinked mentions (:mod:`linkrot.anchors`): one
:class:`~linkrot.items.BacklinkCheck` each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import anchors
from .extract import visible_text
from .items import BacklinkCheck
from .matching import LinkMatch, chain_alternatives, find_link, site_key
from .reader import PageFacts
from .status import Status, Verdict
from .urls import host_of, hostname_of
from .verify import judge

# backlink_id, target_url, any_target, standing (1 there, 0 lost, None never seen), vendor chain JSON
Queued = tuple[int, str, int, "int | None", "str | None"]


@dataclass(slots=True)
class Reading:
    """How fetching a referring page ended, and what it held."""

    source_url: str  # the referring page as imported
    outcome: Status
    code: int | None
    final_url: str | None
    chain: list[dict]
    facts: PageFacts | None = None
    rendered: bool = False
    error: str | None = None
    latency: float | None = None
    rechecked: bool = False


def find_links(backlinks: Sequence[Queued], facts: PageFacts) -> dict[int, LinkMatch | None]:
    """The link of each backlink on the page (None: not there), found once per reading."""
    return {
        backlink_id: find_link(
            facts.page,
            facts.url,
            target,
            any_url_of_site=bool(any_target),
            page_nofollow=facts.nofollow,
            # an export that knows the link redirects (Ahrefs): the URL written on the page is the
            # chain's first, and a link to any of its hops is the same backlink
            alternatives=chain_alternatives(chain),
        )
        for backlink_id, target, any_target, _, chain in backlinks
    }


def needs_render(mode: str, facts: PageFacts, matches: dict[int, LinkMatch | None]) -> bool:
    """``auto``: only a page with scripts whose static HTML lacks one of its links."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    return facts.page.has_scripts and any(match is None for match in matches.values())


def sites_of(backlinks: Sequence[Queued]) -> list[str]:
    """The sites (host without www. and port) the page's backlinks point to: what a render waits for."""
    return sorted({key for _, target, *_ in backlinks if (key := site_key(target))})


class AnchorBook:
    """Brands and keywords for anchors pointing at a target (no brand given: the site's name)."""

    def __init__(self, brands: Sequence[str], keywords: Sequence[str]) -> None:
        self.brands, self.keywords = list(brands), list(keywords)
        self._rules: dict[str, anchors.AnchorRules] = {}

    def rules(self, target: str) -> anchors.AnchorRules:
        host = hostname_of(target)
        rules = self._rules.get(host)
        if rules is None:
            rules = self._rules[host] = anchors.AnchorRules.build(self.brands, self.keywords, host)
        return rules


def check_page(
    backlinks: Sequence[Queued],
    reading: Reading,
    book: AnchorBook,
    matches: dict[int, LinkMatch | None] | None = None,
) -> list[BacklinkCheck]:
    """One check per backlink of the page; ``matches``: links already found on this same reading."""
    facts = reading.facts
    ok = reading.outcome is Status.OK and facts is not None
    if matches is None and ok:
        matches = find_links(backlinks, facts)
    text = None
    checks = []
    for backlink_id, target, *_ in backlinks:
        match = matches.get(backlink_id) if matches else None
        verdict = judge(
            source_url=reading.source_url,
            final_url=reading.final_url,
            outcome=reading.outcome,
            code=reading.code,
            noindex=facts.noindex if facts else False,
            noindex_via=facts.noindex_via if facts else "meta robots",
            canonical_url=facts.canonical_url if facts else None,
            match=match,
            rendered=reading.rendered,
            target_url=target,
            error=reading.error,
            truncated=facts.page.truncated if facts else None,
        )
        mentions = False
        if match is None and ok:
            text = visible_text(facts.page) if text is None else text
            mentions = anchors.mentions(text, book.rules(target), host_of(target))
        checks.append(
            BacklinkCheck(
                backlink_id=backlink_id,
                status=verdict.verdict.value,
                reason=verdict.reason,
                outcome=reading.outcome.value,
                http_status=reading.code,
                final_url=reading.final_url,
                chain=reading.chain,
                link_found=match is not None,
                rendered=reading.rendered,
                linked_url=match.linked_url if match else None,
                anchor_text=match.anchor_text if match else None,
                rel=match.rel if match else None,
                nofollow=bool(match and match.nofollow),
                noindex=facts.noindex if facts else False,
                canonical_url=facts.canonical_url if facts else None,
                target_changed=bool(match and match.target_changed),
                evidence=match.evidence if match else None,
                error=reading.error,
                elapsed_ms=int(reading.latency * 1000) if reading.latency is not None else None,
                anchor_class=anchors.classify(match.anchor_text, book.rules(target)) if match else None,
                mentions_site=mentions,
                rechecked=reading.rechecked,
            )
        )
    return checks


def seems_removed(checks: Sequence[BacklinkCheck], backlinks: Sequence[Queued]) -> bool:
    """A link gone that would open a pending loss (not a transient failure, not already lost)."""
    standing = {backlink_id: s for backlink_id, _, _, s, _ in backlinks}
    return any(
        not c.link_found and not Verdict(c.status).is_transient and standing.get(c.backlink_id) != 0
        for c in checks
    )
