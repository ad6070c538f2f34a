"""Soft 404s: pages that answer 200 but are the site's "not found" page.

The site is probed with a URL that cannot exist; what it answers is the
site's own 404 template.  A page is a soft 404 when its text is nearly that
template (word 3-shingles, Jaccard similarity).  A phrase such as "not found"
alone is no evidence - an article about 404 errors has it too - so the phrase
only counts on a thin page when the probe taught us nothing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASES = re.compile(
    r"\b(404|not found|page (?:does not|doesn't|cannot|can't) (?:exist|be found)|no longer (?:exists|available))\b",
    re.I,
)
THIN_PAGE_WORDS = 150


def probe_path() -> str:
    """A path that no real site serves."""
    return f"/linkrot-probe-{secrets.token_hex(8)}-does-not-exist"


def shingles(text: str, size: int = 3) -> frozenset[int]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return frozenset([hash(" ".join(words))]) if words else frozenset()
    return frozenset(hash(" ".join(words[i : i + size])) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class NotFoundTemplate:
    """What the site answers for a URL that does not exist."""

    status: int | None
    final_url: str | None
    title: str
    words: int
    fingerprint: frozenset[int]
    size: int = 0  # bytes of the page

    @classmethod
    def from_page(
        cls, status: int | None, final_url: str | None, title: str | None, text: str, size: int = 0
    ) -> NotFoundTemplate:
        return cls(
            status, final_url, (title or "").strip().lower(), len(_WORD.findall(text)), shingles(text), size
        )

    def may_match(self, size: int) -> bool:
        """A cheap pre-check on a page's size in bytes, before any text is extracted."""
        if not self.fingerprint:
            return True  # nothing to compare with: the phrase heuristic needs the text
        return not self.size or self.size / 4 <= size <= self.size * 4

    @property
    def answers_200(self) -> bool:
        """The site answers 200 for missing pages: every such page is a soft 404."""
        return self.status is not None and 200 <= self.status < 300


def classify(
    template: NotFoundTemplate | None, title: str | None, text: str, threshold: float = 0.8
) -> tuple[bool, str | None, float]:
    """Decide whether a 200 page is a soft 404: (is_soft_404, reason, similarity)."""
    words = len(_WORD.findall(text))
    if template is not None and template.fingerprint:
        # pages of very different length cannot reach the threshold: skip the set work
        if template.words and 0.5 <= (words + 1) / (template.words + 1) <= 2.0:
            score = jaccard(shingles(text), template.fingerprint)
            if score >= threshold:
                return True, "matches_404_page", round(score, 3)
            return False, None, round(score, 3)
        return False, None, 0.0
    if words <= THIN_PAGE_WORDS and _PHRASES.search(f"{title or ''} {text[:2000]}"):
        return True, "not_found_phrase", 0.0
    return False, None, 0.0
