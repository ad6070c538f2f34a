"""Soft 404s: pages that answer 200 but are the site's "not found" page.

The site is probed with a URL that cannot exist; what it answers is the site's
own 404 page.  A page is a soft 404 when what it says of its own is nearly
what that 404 page says (3-shingles of tokens, Jaccard similarity), compared
on what each page says, not on the template every page of the site shares:

- only the main content is compared (:func:`linkrot.extract.main_text`: the
  ``<main>``, ``role=main`` or ``<article>``, without navigation, header,
  footer and sidebars).  On a documentation site 640 of the 775 words of every
  page are its menus and footer: compared whole, every short article was "84%
  the 404 page".
- what the 404 page's main content shares with an ordinary page of the site
  (the start page, fetched with the probe) is the site's boilerplate (a
  licence line, "edit this page", a sidebar in a ``<div>``): it counts on
  neither side.
- text written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese)
  is one token per character, so its shingles are character trigrams; the
  ``\\w+`` of words made each run of Chinese characters between two commas one
  "word" (an 808-character article was 131 of them).

A phrase such as "not found" alone is no evidence - an article about 404
errors has it too - so the phrase only counts on a thin page when the probe
taught us nothing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import NamedTuple

# Scripts written without spaces between words: each character is a token.  Hangul is spaced.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\uff66-\uff9f"  # halfwidth Katakana
    "\U00020000-\U0003134f"  # CJK Unified Ideographs Extensions B to G, compatibility supplement
)
_TOKEN = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+")
_PHRASES = re.compile(
    r"\b(404|not found|page (?:does not|doesn't|cannot|can't) (?:exist|be found)|no longer (?:exists|available))\b",
    re.IGNORECASE,
)
THIN_PAGE_WORDS = 150
MATCHES_404_PAGE = "matches_404_page"
NOT_FOUND_PHRASE = "not_found_phrase"


class Soft404(NamedTuple):
    """Whether a 200 page is a soft 404, why (a reason value and a sentence), and its similarity."""

    soft_404: bool
    reason: str | None = None
    similarity: float = 0.0  # with the 404 page's main content, 0.0 when not compared
    explanation: str | None = None


NOT_SOFT_404 = Soft404(False)


def probe_path() -> str:
    """A path that no real site serves."""
    return f"/linkrot-probe-{secrets.token_hex(8)}-does-not-exist"


def tokens(text: str) -> list[str]:
    """Words, and each character of the scripts written without spaces, lower-cased."""
    return _TOKEN.findall(text.lower())


def shingles(text: str | list[str], size: int = 3) -> frozenset[int]:
    """Hashes of the runs of ``size`` tokens (one shingle for a shorter text, none for an empty one)."""
    words = tokens(text) if isinstance(text, str) else text
    if len(words) < size:
        return frozenset([hash(tuple(words))]) if words else frozenset()
    return frozenset(map(hash, zip(*(words[i:] for i in range(size)))))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class NotFoundTemplate:
    """What the site answers for a URL that does not exist."""

    status: int | None
    final_url: str | None
    title: str  # its <title>, for the explanation of a verdict
    words: int  # tokens of its main content
    fingerprint: frozenset[int]  # shingles of its main content that the reference page lacks
    size: int = 0  # bytes of the page
    shared: frozenset[int] = frozenset()  # shingles of its main content the reference page has too

    @classmethod
    def from_page(
        cls,
        status: int | None,
        final_url: str | None,
        title: str | None,
        text: str,
        size: int = 0,
        *,
        reference: str | None = None,
        threshold: float = 0.8,
    ) -> NotFoundTemplate:
        """The template from the 404 page's main text; ``reference``: the main text of an ordinary page.

        What both say is the site's boilerplate, left out on both sides of every
        comparison.  A reference that is itself nearly the 404 page (a site that
        answers every URL with one page) teaches nothing and is not used.
        """
        words = tokens(text)
        fingerprint = shingles(words)
        shared: frozenset[int] = frozenset()
        if reference:
            seen = shingles(reference)
            if jaccard(seen, fingerprint) < threshold:
                shared = fingerprint & seen
                fingerprint = fingerprint - shared
        return cls(status, final_url, (title or "").strip(), len(words), fingerprint, size, shared)

    def may_match(self, size: int) -> bool:
        """A cheap pre-check on a page's size in bytes, before any text is extracted."""
        if not self.fingerprint:
            return True  # nothing to compare with: the phrase heuristic needs the text
        return not self.size or self.size / 4 <= size <= self.size * 4

    @property
    def shared_share(self) -> float:
        """The share of its main content's shingles that the reference page has too (left out)."""
        total = len(self.shared) + len(self.fingerprint)
        return len(self.shared) / total if total else 0.0

    @property
    def answers_200(self) -> bool:
        """The site answers 200 for missing pages: every such page is a soft 404."""
        return self.status is not None and 200 <= self.status < 300


def classify(
    template: NotFoundTemplate | None, title: str | None, text: str, threshold: float = 0.8
) -> Soft404:
    """Decide whether a 200 page is a soft 404 from its title and main text (``main_text``)."""
    words = tokens(text)
    if template is not None and template.fingerprint:
        # pages of very different length cannot reach the threshold: skip the set work
        if not (template.words and 0.5 <= (len(words) + 1) / (template.words + 1) <= 2.0):
            return NOT_SOFT_404
        own = shingles(words)
        score = jaccard(own - template.shared if template.shared else own, template.fingerprint)
        if score < threshold:
            return Soft404(False, None, round(score, 3))
        named = f' ("{template.title}")' if template.title else ""
        return Soft404(
            True,
            MATCHES_404_PAGE,
            round(score, 3),
            f"its main content is {int(score * 100)}% the same as the site's 404 page{named}",
        )
    if len(words) <= THIN_PAGE_WORDS:
        found = _PHRASES.search(f"{title or ''} {text[:2000]}")
        if found:
            return Soft404(
                True, NOT_FOUND_PHRASE, 0.0, f"thin page ({len(words)} words) that says '{found.group(0)}'"
            )
    return NOT_SOFT_404
