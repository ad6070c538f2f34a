"""Anchor-text mix: branded, naked URL, generic, exact match, partial match (article 004's KPI).

Brand names and target keywords come from settings (``LINKROT_BRANDS``,
``LINKROT_KEYWORDS``); with no brand given, the site's own domain label is the
brand (``acme-widgets.com`` → "acme widgets").  The healthy ranges are the
article's, kept as data beside the figures in the views and the report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CLASSES = ("branded", "naked_url", "generic", "exact", "partial", "other", "empty")
#: article 004, "Anchor Text Strategy": share of links, in percent (low, high)
HEALTHY_RANGES = {
    "branded": (40, 50),
    "naked_url": (20, 25),
    "generic": (10, 15),
    "partial": (10, 15),
    "exact": (3, 5),
}
GENERIC = frozenset(
    {
        "click here",
        "here",
        "this",
        "this link",
        "link",
        "read more",
        "more",
        "learn more",
        "see more",
        "find out more",
        "more info",
        "more information",
        "details",
        "website",
        "this website",
        "this site",
        "site",
        "homepage",
        "home page",
        "home",
        "visit",
        "visit site",
        "visit website",
        "source",
        "via",
        "this article",
        "this post",
        "this page",
        "this resource",
        "article",
        "blog",
        "check it out",
        "go",
        "continue",
        "continue reading",
        "download",
        "view",
        "see here",
        "go here",
        "official site",
        "web site",
    }
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_URLISH = re.compile(r"^(https?://|www\.)|^[\w-]+(\.[\w-]+)+(/\S*)?$", re.I)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class AnchorRules:
    brands: tuple[tuple[str, ...], ...]  # each brand as its words
    keywords: tuple[tuple[str, ...], ...]

    @classmethod
    def build(
        cls, brands: Iterable[str], keywords: Iterable[str], site_host: str | None = None
    ) -> AnchorRules:
        names = [b for b in brands if b.strip()]
        if not names and site_host:
            label = site_host.lower().removeprefix("www.").split(".")[0]
            names = [label.replace("-", " "), label.replace("-", "")]
        return cls(
            brands=tuple(tuple(words(b)) for b in names if words(b)),
            keywords=tuple(tuple(words(k)) for k in keywords if words(k)),
        )


def classify(anchor: str | None, rules: AnchorRules) -> str:
    """One of :data:`CLASSES` for an anchor text (an image link's alt counts as its text)."""
    text = " ".join((anchor or "").split())
    if not text:
        return "empty"
    if _URLISH.match(text):
        return "naked_url"
    tokens = words(text)
    joined = " ".join(tokens)
    for brand in rules.brands:
        if _contains(tokens, brand) or "".join(brand) in "".join(tokens):
            return "branded"
    if joined in GENERIC:
        return "generic"
    for keyword in rules.keywords:
        if tokens == list(keyword):
            return "exact"
    for keyword in rules.keywords:
        shared = set(keyword) & set(tokens)
        if shared and len(shared) * 2 >= len(keyword):
            return "partial"
    return "other"


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    if not phrase:
        return True
    n, first, rest = len(phrase), phrase[0], list(phrase[1:])
    # only where the first word is: a page's text is thousands of words, a brand one or two
    return any(w == first and tokens[i + 1 : i + n] == rest for i, w in enumerate(tokens))


def mentions(text: str, rules: AnchorRules, site_host: str | None) -> bool:
    """Whether a page's text names the site (its domain) or one of its brands: an unlinked mention."""
    lowered = text.lower()
    if site_host:
        host = site_host.lower().split(":")[0].removeprefix("www.")
        if host and host in lowered:
            return True
    tokens = words(text)
    return any(
        _contains(tokens, brand) for brand in rules.brands if len(brand) > 0 and len("".join(brand)) > 2
    )
