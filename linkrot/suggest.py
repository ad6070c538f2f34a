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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
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
    pool = list(candidates)
    return suggest_all([dead_url], lambda: pool)[0]


@dataclass(slots=True)
class _Dead:
    """A dead URL being matched: what it wants, and the best page found so far."""

    url: str
    key: str | None
    slug: set[str]
    section: str | None
    wanted: set[str]
    weight: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    best: tuple[float, Candidate, list[str], bool] | None = None


def suggest_all(dead_urls: Sequence[str], candidates: Callable[[], Iterable[Candidate]]) -> list[Suggestion]:
    """The best live page for each of ``dead_urls`` (one site's), in their order.

    ``candidates()`` yields the site's live pages and is called twice: once to weigh the tokens by
    rarity, once to score.  No candidate is kept, so a site of a million pages is read in bounded
    memory, once for all its dead URLs (not once per dead URL).
    """
    deads = []
    for url in dead_urls:
        slug, path, section = _profile(url)
        deads.append(_Dead(url, link_key(url), slug, section, slug | path))
    wanting: dict[str, list[_Dead]] = {}  # token -> the dead URLs that want it
    for d in deads:
        for t in d.wanted:
            wanting.setdefault(t, []).append(d)
    dead_keys = {d.key for d in deads}
    # pass 1: how many pages, how many carry each wanted token; a page that is a dead URL itself
    # under another form (http/https, a slash) counts for the other dead URLs only
    count, seen = 0, Counter[str]()
    itself: dict[str | None, list[set[str]]] = {}
    homes: list[Candidate] = []
    for cand in candidates():
        url_tokens, text, _ = _candidate_tokens(cand)
        carried = (url_tokens | text) & wanting.keys()
        count += 1
        seen.update(carried)
        key = link_key(cand.url)
        if key in dead_keys:
            itself.setdefault(key, []).append(carried)
        if is_home(cand.url):
            homes.append(cand)
    for d in deads:
        same = itself.get(d.key, [])
        pool = count - len(same)
        for t in d.wanted:
            n = seen[t] - sum(t in tokens_ for tokens_ in same)
            d.weight[t] = math.log((pool + 1) / (n + 0.5)) + 0.1
        d.total = sum(d.weight[t] * (_SLUG_WEIGHT if t in d.slug else _PATH_WEIGHT) for t in d.wanted)
    # pass 2: score each page against the dead URLs that share a token with it
    for cand in candidates():
        if is_home(cand.url):
            continue
        url_tokens, text, c_section = _candidate_tokens(cand)
        carried = (url_tokens | text) & wanting.keys()
        if not carried:
            continue
        key = link_key(cand.url)
        for d in {id(d): d for t in carried for d in wanting[t]}.values():
            if key != d.key:
                _score(d, cand, url_tokens, text, c_section)
    results = []
    for d in deads:
        # the first home page that is not the dead URL itself
        home = next((h for h in homes if link_key(h.url) != d.key), None)
        if not d.wanted:
            results.append(_home_or_nothing(d.url, home, "the dead URL has no words to compare"))
        elif d.best is None or d.best[0] < MIN_SCORE:
            results.append(_home_or_nothing(d.url, home, "no live page shares enough words with it"))
        else:
            score, cand, shared, same_section = d.best
            reason = f"shares {', '.join(repr(t) for t in shared[:6])}"
            if same_section:
                reason += f" and the section /{d.section}/"
            results.append(Suggestion(d.url, cand.url, round(score, 2), reason))
    return results


def _candidate_tokens(cand: Candidate) -> tuple[set[str], set[str], str | None]:
    c_slug, c_path, c_section = _profile(cand.url)
    return c_slug | c_path, tokens(cand.title) | tokens(cand.h1), c_section


def _score(d: _Dead, cand: Candidate, url_tokens: set[str], text: set[str], c_section: str | None) -> None:
    """Score ``cand`` for ``d``; keep it when it beats the best so far (ties: the shorter URL, then the first)."""
    shared = d.wanted & (url_tokens | text)
    score = 0.0
    for t in shared:
        kind = _SLUG_WEIGHT if t in d.slug else _PATH_WEIGHT
        # a token in the live page's title or heading counts as much as one in its URL, or more
        score += d.weight[t] * max(kind if t in url_tokens else 0.0, _TEXT_WEIGHT if t in text else 0.0)
    score = min(1.0, score / d.total)
    same_section = d.section is not None and d.section == c_section
    if same_section:
        score = min(1.0, score + _SECTION_BONUS)
    if d.best is None or (score, -len(cand.url)) > (d.best[0], -len(d.best[1].url)):
        d.best = (score, cand, sorted(shared), same_section)


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
    targets = store.broken_targets()
    found = {url: overrides[url] for url in targets if url in overrides}
    by_host: dict[str, list[str]] = {}
    for url in targets:
        if url not in found:
            by_host.setdefault(host_of(url), []).append(url)
    for host, urls in by_host.items():

        def pages(host: str = host) -> Iterator[Candidate]:
            return (Candidate(r["url"], r["title"], r["h1"]) for r in store.live_pages(host))

        found.update((s.url, s) for s in suggest_all(list(dict.fromkeys(urls)), pages))
    return [found[url] for url in targets]


def refresh_suggestions(store: Any, overrides_path: str | Path | None) -> int:
    """Recompute and store the suggestion of every broken backlink target; returns how many."""
    suggestions = compute_suggestions(store, overrides_path)
    store.save_suggestions(suggestions)
    return len(suggestions)
