"""The row of one URL of a site crawl: its page columns, and the stats it counts in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .extract import main_text, robots_flags
from .items import Link, UrlResult
from .reader import PageFacts, header_values, links_of
from .soft404 import NotFoundTemplate, classify
from .status import Status


def describe_page(
    result: UrlResult,
    facts: PageFacts | None,
    *,
    body_size: int,
    template: NotFoundTemplate | None,
    threshold: float,
    is_internal: Callable[[str], bool],
    resources: bool = True,
    fragments: bool = False,
) -> None:
    """Fill the page columns (and links) of a result from the page its chain ended on.

    The response columns (method, content type, size, timing, ``X-Robots-Tag``)
    are set by the caller; ``facts`` is None for an answer that is not read as
    a page (an external URL, a file).
    """
    if facts is None:
        result.noindex, result.nofollow = robots_flags(result.x_robots_tag)
        return
    page = facts.page
    result.title, result.h1, result.meta_robots = page.title, page.h1, page.meta_robots
    result.noindex, result.nofollow, result.canonical_url = facts.noindex, facts.nofollow, facts.canonical_url
    if template is None or template.may_match(body_size):
        verdict = classify(template, page.title, main_text(page), threshold)
        result.soft_404, result.soft_404_reason = verdict.soft_404, verdict.reason
        result.similarity, result.soft_404_explanation = verdict.similarity or None, verdict.explanation
    result.links = links_of(facts, is_internal, resources=resources, fragments=fragments)
    if fragments:
        result.anchor_ids = page.anchor_ids


def describe_response(result: UrlResult, response: Any) -> None:
    """The response columns of the answer that ended a chain: method, type, size, timing, X-Robots-Tag."""
    headers = response.headers
    result.method = response.request.method
    result.content_type = (headers.get(b"Content-Type") or b"").decode("latin-1") or None
    length = headers.get(b"Content-Length")
    stopped = "download_stopped" in response.flags  # the body was not read: its size is the header's
    result.size = (int(length) if length and length.isdigit() else None) if stopped else len(response.body)
    latency = response.meta.get("download_latency")
    result.elapsed_ms = int(latency * 1000) if latency is not None else None
    result.x_robots_tag = header_values(headers.getlist(b"X-Robots-Tag"))


def invalid_result(link: Link, depth: int | None) -> UrlResult:
    """The row of an href that is no URL: the href as written, never "repaired" into another URL."""
    child = None if depth is None else depth + 1
    return UrlResult(
        url=link.target_url,
        outcome=Status.INVALID_URL.value,
        is_internal=False,
        depth=child,
        error=f"invalid URL: {link.invalid}",
        is_resource=not link.is_page,
    )


def count_result(stats: Any, result: UrlResult) -> UrlResult:
    """The crawl stats of one result (``linkrot/status/<status>`` and friends)."""
    stats.inc_value(f"linkrot/status/{result.outcome}")
    stats.inc_value(
        "linkrot/resources"
        if result.is_resource
        else "linkrot/pages"
        if result.is_internal
        else "linkrot/external"
    )
    if Status(result.outcome).is_error:
        stats.inc_value("linkrot/broken")
    if result.hops:
        stats.inc_value("linkrot/chains")
    if result.soft_404:
        stats.inc_value("linkrot/soft_404")
    if result.links:
        stats.inc_value("linkrot/links", len(result.links))
    return result
