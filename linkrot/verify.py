"""One verdict per backlink, and the reason a user reads: pure functions on plain values."""

from __future__ import annotations

from dataclasses import dataclass

from .matching import LinkMatch, rel_is_nofollow, same_page
from .status import Status, Verdict, fetch_verdict
from .urls import hostname_of

_FETCH_REASONS = {
    Status.DNS_ERROR: "the host name {host} does not resolve",
    Status.CONNECTION_REFUSED: "{host} refuses connections",
    Status.BLOCKED: "robots.txt of {host} disallows the page",
    Status.RATE_LIMITED: "{host} keeps answering 429 Too Many Requests",
    Status.TIMEOUT: "no answer within the download timeout",
    Status.TLS_ERROR: "the TLS handshake failed",
    Status.CONNECTION_ERROR: "the connection broke off",
    Status.TOO_LARGE: "the page is larger than the download size limit",
    Status.REDIRECT_LOOP: "the page's redirects loop",
    Status.TOO_MANY_REDIRECTS: "the page redirects too many times",
    Status.INVALID_RESPONSE: "the server's answer is not a page (HTTP {code})",
    Status.UNSUPPORTED: "not an http(s) URL",
}


@dataclass(slots=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(
    *,
    source_url: str,
    final_url: str | None,
    outcome: Status,
    code: int | None,
    noindex: bool = False,
    noindex_via: str = "meta robots",
    canonical_url: str | None = None,
    match: LinkMatch | None = None,
    rendered: bool = False,
    target_url: str = "",
    error: str | None = None,
    truncated: str | None = None,
) -> Judgement:
    """Decide the verdict of one backlink from what its referring page answered."""
    by_fetch = fetch_verdict(outcome, code)
    if by_fetch is not None and error and "not fetched:" in error:  # the address guard said no
        return Judgement(by_fetch, error[error.index("not fetched:") :])
    if by_fetch is not None:
        template = _FETCH_REASONS.get(outcome, "the page answers HTTP {code}")
        if code is not None and outcome in (
            Status.CLIENT_ERROR,
            Status.NOT_FOUND,
            Status.SERVER_ERROR,
            Status.OK,
        ):
            template = "the page answers HTTP {code}"
        return Judgement(by_fetch, template.format(host=hostname_of(final_url or source_url), code=code))
    where = " (after rendering with Chromium)" if rendered else ""
    link = _describe(match, where)
    if final_url and not same_page(source_url, final_url):
        return Judgement(Verdict.REDIRECTED, f"the page now redirects to {final_url}; {link}")
    if noindex:
        return Judgement(Verdict.NOINDEX, f"the page is noindex ({noindex_via}); {link}")
    if canonical_url and not same_page(canonical_url, final_url or source_url):
        return Judgement(Verdict.NOT_CANONICAL, f"the page's canonical URL is {canonical_url}; {link}")
    if match is None and truncated:
        # the parser gave up part-way: the link may be in what it could not read
        return Judgement(
            Verdict.SERVER_ERROR,
            f"the page could not be read whole ({truncated}); the link was not in the part read",
        )
    if match is None:
        return Judgement(
            Verdict.LINK_REMOVED, f"no link to {target_url or 'the site'} or its site on the page{where}"
        )
    if match.nofollow:
        return Judgement(Verdict.NOFOLLOW, link)
    return Judgement(Verdict.LIVE, link)


def _describe(match: LinkMatch | None, where: str) -> str:
    if match is None:
        return f"the link is not on it{where}"
    text = f"the link is there{where}"
    if match.target_changed:
        text += f", now to {match.linked_url}"
    if match.nofollow:
        text += f", rel={match.rel}" if rel_is_nofollow(match.rel) else ", the page is nofollow"
    return text
