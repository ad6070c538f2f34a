"""The most relevant live page for a dead URL: where its redirect should point.

A blanket redirect to the home page recovers nothing (search engines treat it
as a soft 404), so each dead URL is compared with every live page of the latest
site crawl of its host (200, indexable, not redirecting): its path tokens and
slug against theirs, their title and first heading.  Tokens are weighted by
rarity (a token every page has, such as ``products`` or ``html``, says little),
and a page in the same section (first path segment) is preferred.  The home
page is suggested only when nothing else is related, and flagged.  A user's
overrides (CSV ``from_url,to_url[,note]``) win over any guess.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ConfigError
from .matching import link_key
from .redirects import is_home
from .urls import host_of, normalize_url

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    "html htm php asp aspx jsp cgi www index default page pages the a an and or of to in for on with en de fr".split()
)
MIN_SCORE = 0.25  # below this a candidate is "not related"
HOME_CONFIDENCE = 0.05
_SLUG_WEIGHT, _PATH_WEIGHT, _TEXT_WEIGHT = 3.0, 1.0, 2.0
_SECTION_BONUS = 0.15


def tokens(text: str | None) -> set[str]:
    """Lower-cased word tokens without the words every URL or title has."""
    if not text:
        return set()
    return {
        _stem(t)
        for t in _TOKEN.findall(unquote(text).lower())
        if t not in _STOP and (len(t) > 1 or t.isdigit())
    }


def _stem(token: str) -> str:
    """A plural is the same word: "refunds" in a title matches "refund" in a URL."""
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _segments(url: str) -> list[str]:
    return [s for s in urlsplit(url).path.split("/") if s]


@dataclass(frozen=True, slots=True)
class Candidate:
    url: str
    title: str | None = None
    h1: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    url: str
    suggested_target: str | None
    confidence: float  # 0..1
    reason: str
    is_home: bool = False
    origin: str = "auto"  # auto or override


def _profile(url: str) -> tuple[set[str], set[str], str | None]:
    segments = _segments(url)
    slug = tokens(segments[-1]) if segments else set()
    path = set().union(*(tokens(s) for s in segments[:-1])) if len(segments) > 1 else set()
    path |= tokens(urlsplit(url).query)
    section = segments[0].lower() if len(segments) > 1 else None
    return slug, path, section


def suggest(dead_url: str, candidates: Iterable[Candidate]) -> Suggestion:
    """The best live page for ``dead_url`` among ``candidates`` (pages of the same site)."""
    dead_key = link_key(dead_url)
    # the dead URL itself under another scheme or with a slash is not a target: it would loop
    pool = [c for c in candidates if link_key(c.url) != dead_key]
    home = next((c for c in pool if is_home(c.url)), None)
    slug, path, section = _profile(dead_url)
    wanted = slug | path
    if not wanted:
        return _home_or_nothing(dead_url, home, "the dead URL has no words to compare")
    # rarity weights over the candidates: idf of each token of the dead URL
    seen: Counter[str] = Counter()
    profiles = []
    for cand in pool:
        c_slug, c_path, c_section = _profile(cand.url)
        text = tokens(cand.title) | tokens(cand.h1)
        profiles.append((cand, c_slug | c_path, text, c_section))
        for t in wanted & (c_slug | c_path | text):
            seen[t] += 1
    weight = {t: math.log((len(pool) + 1) / (seen[t] + 0.5)) + 0.1 for t in wanted}
    total = sum(weight[t] * (_SLUG_WEIGHT if t in slug else _PATH_WEIGHT) for t in wanted)
    best: tuple[float, Candidate, list[str], bool] | None = None
    for cand, url_tokens, text, c_section in profiles:
        if is_home(cand.url):
            continue
        shared = wanted & (url_tokens | text)
        if not shared:
            continue
        score = 0.0
        for t in shared:
            kind = _SLUG_WEIGHT if t in slug else _PATH_WEIGHT
            # a token in the live page's title or heading counts as much as one in its URL, or more
            score += weight[t] * max(kind if t in url_tokens else 0.0, _TEXT_WEIGHT if t in text else 0.0)
        score = min(1.0, score / total)
        same_section = section is not None and section == c_section
        if same_section:
            score = min(1.0, score + _SECTION_BONUS)
        key = (score, -len(cand.url))
        if best is None or key > (best[0], -len(best[1].url)):
            best = (score, cand, sorted(shared), same_section)
    if best is None or best[0] < MIN_SCORE:
        return _home_or_nothing(dead_url, home, "no live page shares enough words with it")
    score, cand, shared, same_section = best
    reason = f"shares {', '.join(repr(t) for t in shared[:6])}"
    if same_section:
        reason += f" and the section /{section}/"
    return Suggestion(dead_url, cand.url, round(score, 2), reason)


def _home_or_nothing(dead_url: str, home: Candidate | None, why: str) -> Suggestion:
    if home is None:
        return Suggestion(
            dead_url, None, 0.0, f"{why}; no live home page either: recreate the page or accept the loss"
        )
    return Suggestion(
        dead_url,
        home.url,
        HOME_CONFIDENCE,
        f"{why}; the home page is a last resort (a redirect there is treated as a soft 404)",
        is_home=True,
    )


def read_overrides(path: str | Path) -> dict[str, Suggestion]:
    """A user's redirect decisions: CSV ``from_url,to_url[,note]``; an empty ``to_url`` means "no redirect"."""
    file = Path(path)
    if not file.exists():
        return {}
    overrides: dict[str, Suggestion] = {}
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = {f.strip().lower() for f in reader.fieldnames or ()}
        if not {"from_url", "to_url"} <= fields:
            raise ConfigError(f"{path}: expected a header from_url,to_url[,note]; got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            source = normalize_url(row["from_url"])
            if source is None:
                raise ConfigError(f"{path} line {line}: from_url {row['from_url']!r} is not an http(s) URL")
            target = normalize_url(row["to_url"]) if row["to_url"] else None
            if row["to_url"] and target is None:
                raise ConfigError(f"{path} line {line}: to_url {row['to_url']!r} is not an http(s) URL")
            note = row.get("note") or ("your override" if target else "your override: no redirect")
            overrides[source] = Suggestion(
                source, target, 1.0, note, is_home=bool(target and is_home(target)), origin="override"
            )
    return overrides


def compute_suggestions(store: Any, overrides_path: str | Path | None) -> list[Suggestion]:
    """The suggestion of every broken backlink target (the user's overrides first), not stored."""
    overrides = read_overrides(overrides_path) if overrides_path else {}
    pools: dict[str, list[Candidate]] = {}
    suggestions = []
    for url in store.broken_targets():
        if url in overrides:
            suggestions.append(overrides[url])
            continue
        host = host_of(url)
        if host not in pools:
            pools[host] = [Candidate(r["url"], r["title"], r["h1"]) for r in store.live_pages(host)]
        suggestions.append(suggest(url, pools[host]))
    return suggestions


def refresh_suggestions(store: Any, overrides_path: str | Path | None) -> int:
    """Recompute and store the suggestion of every broken backlink target; returns how many."""
    suggestions = compute_suggestions(store, overrides_path)
    store.save_suggestions(suggestions)
    return len(suggestions)
