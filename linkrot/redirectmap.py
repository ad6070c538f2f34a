"""A redirect map from plain rows: build it, check it, render it for a web server.

Two sources: the broken targets of our backlinks (each to its suggested live
page) and our own redirect chains (each URL of a chain of two hops or more, and
each of its intermediate hops, straight to the page the chain ends on).  Before
anything is written the map is checked, because a redirect map that chains,
loops or lands on a 404 wastes the very link equity it was meant to recover:
a target that redirects is replaced by where it ends ("fixed"); a loop, a
broken target, a home-page fallback or a missing target is left out
("refused").  Pure functions on plain values; ``linkrot.cli`` reads the rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import unquote_to_bytes, urlsplit

from .status import Status
from .urls import hostname_of, normalize_url, registrable_domain

FORMATS = ("nginx", "apache", "netlify", "csv")
# a crawl's chain that never ended: its "final" URL is just where the crawl gave up
_UNFOLLOWABLE = frozenset({Status.REDIRECT_LOOP, Status.TOO_MANY_REDIRECTS})


@dataclass(frozen=True, slots=True)
class Redirect:
    """One line of the map: ``from_url`` should answer 301 to ``to_url``."""

    from_url: str
    to_url: str | None
    kind: str  # "backlink": a broken target with live backlinks; "chain": one of our redirect chains
    confidence: float = 1.0
    reason: str = ""
    is_home: bool = False  # the target is the home page as a last resort (a soft 404 to search engines)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the latest crawl saw at a URL: the status at the end of its chain, where that chain ends."""

    status: int | str | None  # HTTP code, or the status name when nothing answered
    final_url: str | None = None
    hops: int = 0


@dataclass(slots=True)
class CheckedMap:
    redirects: list[Redirect] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # "fixed: ..." lines
    refused: list[str] = field(default_factory=list)  # "refused: ..." lines


def backlink_redirects(rows: Iterable[Mapping]) -> list[Redirect]:
    """Rows of the ``broken_backlinks`` view (best first) as map candidates."""
    return [
        Redirect(
            r["url"],
            r["suggested_target"],
            "backlink",
            float(r["confidence"] or 0),
            r["suggestion_reason"] or "no suggestion computed",
            bool(r["suggestion_is_home"]),
        )
        for r in rows
    ]


def chain_redirects(rows: Iterable[Mapping]) -> list[Redirect]:
    """Rows of ``redirect_chains`` (``url``, ``hops``, ``final_url``, ``final_status``, ``chain`` as a list).

    Only chains of two hops or more that end on a 200 page can be collapsed; a
    chain that loops or ends in an error has nowhere to point to.
    """
    out: list[Redirect] = []
    for r in rows:
        if (r["hops"] or 0) < 2 or r["final_status"] != 200 or not r["final_url"]:
            continue
        out.append(Redirect(r["url"], r["final_url"], "chain", 1.0, f"collapses a chain of {r['hops']} hops"))
        ours = registrable_domain(hostname_of(r["url"]))
        for hop in (r["chain"] or [])[1:]:
            # a hop through another site (a tracker, a CDN) is not ours to configure
            if registrable_domain(hostname_of(hop["url"])) == ours:
                out.append(
                    Redirect(hop["url"], r["final_url"], "chain", 1.0, f"intermediate hop of {r['url']}")
                )
    return out


def check(
    candidates: Iterable[Redirect],
    seen: Mapping[str, Seen],
    *,
    allow_home: bool = False,
    min_confidence: float = 0.0,
) -> CheckedMap:
    """Keep the redirects that can be written as they are; fix chains, refuse the rest (one line each)."""
    result = CheckedMap()
    eligible: dict[str, Redirect] = {}
    for r in candidates:
        source = normalize_url(r.from_url)
        if source is None:
            result.refused.append(f"refused: not an http(s) URL: {r.from_url}")
            continue
        if source in eligible:
            continue  # the first reason to redirect a URL wins: backlinks come before chains
        target = normalize_url(r.to_url) if r.to_url else None
        if r.to_url is None:
            result.refused.append(f"refused: nothing to redirect to: {source} ({r.reason})")
        elif target is None:
            result.refused.append(f"refused: not an http(s) URL: {source} -> {r.to_url}")
        elif r.is_home and not allow_home:
            result.refused.append(
                f"refused: home-page fallback: {source} -> {target} (--allow-home to accept it, or add an override)"
            )
        elif r.confidence < min_confidence:
            result.refused.append(
                f"refused: confidence {r.confidence:.2f} below {min_confidence:.2f}: {source} -> {target}"
            )
        elif target == source:
            result.refused.append(f"refused: redirects to itself: {source}")
        else:
            eligible[source] = replace(r, from_url=source, to_url=target)

    for source, r in eligible.items():
        path, status, loop = _resolve(source, r.to_url or "", eligible, seen)
        final = path[-1]
        if loop:
            result.refused.append(f"refused: loop: {' -> '.join(path)}")
        elif status is not None and status != 200:
            result.refused.append(f"refused: broken target: {source} -> {final} ({status})")
        else:
            if len(path) > 2:
                result.fixed.append(
                    f"fixed: {source} -> {final} (its target {path[1]} redirects: {' -> '.join(path[1:])})"
                )
            result.redirects.append(replace(r, to_url=final))
    return result


def _resolve(
    source: str, target: str, eligible: Mapping[str, Redirect], seen: Mapping[str, Seen]
) -> tuple[list[str], int | str | None, bool]:
    """Follow ``target`` through the map and the crawl's redirects: (path, status at its end, loops?)."""
    path = [source, target]
    current = target
    status: int | str | None = None
    while True:
        nxt: str | None = None
        at = seen.get(current)
        if current in eligible:
            nxt, status = eligible[current].to_url, None
        elif at is not None and at.hops and at.final_url and at.status not in _UNFOLLOWABLE:
            nxt, status = at.final_url, at.status  # what the end of the chain answered
        elif at is not None:
            status = at.status
        if nxt is None or nxt == current:
            return path, status, False
        if nxt in path:
            return [*path, nxt], status, True
        path.append(nxt)
        current = nxt


# -- rendering -----------------------------------------------------------------------


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _location(source: str, target: str) -> str:
    """A path when the target is on the same origin; absolute when the scheme or the host differ.

    The scheme counts as well as the host: an http URL sent to its https page as
    a bare path would stay on http and cost one more hop.
    """
    a, b = urlsplit(source), urlsplit(target)
    return _path(target) if (a.scheme, a.netloc) == (b.scheme, b.netloc) else target


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a map keyed on the path: what the server matches, where it sends the visitor."""

    path: str  # path and query of the from URL
    location: str  # a path, or an absolute URL when the origin changes
    redirect: Redirect


def path_rules(redirects: Iterable[Redirect]) -> tuple[list[Rule], list[str]]:
    """The rules of the nginx, Apache and Netlify maps, and the redirects they cannot hold ("refused: ...").

    Those maps match the path alone, not the scheme or the host.  A chain's
    ``http://`` origin and its ``https://`` hop share a path and a final page:
    one rule with an absolute target serves both.  A redirect to the same path
    elsewhere would loop on the other side; one path with two targets is ambiguous.
    The CSV keeps them all (absolute URLs).
    """
    rules: dict[str, Rule] = {}
    refused: list[str] = []
    for r in redirects:
        target = r.to_url or ""
        key = _path(r.from_url)
        if _path(target) == key:
            refused.append(
                f"refused: same path, a path-keyed map would loop: {r.from_url} -> {target} (--format csv)"
            )
        elif key not in rules:
            rules[key] = Rule(key, _location(r.from_url, target), r)
        elif rules[key].redirect.to_url == target:
            rules[key] = Rule(key, target, rules[key].redirect)
        else:
            first = rules[key].redirect
            refused.append(
                f"refused: same path as {first.from_url} -> {first.to_url}, another target: {r.from_url} -> {target}"
            )
    return list(rules.values()), refused


def _count(rules: list[Rule]) -> str:
    return f"{len(rules)} redirect" + ("" if len(rules) == 1 else "s")


def _config_target(location: str) -> str:
    # "$1" is a back-reference in Apache and a variable in nginx: keep a literal "$" literal
    return location.replace("$", "%24")


def _regex(raw: bytes) -> str:
    """A PCRE literal for bytes: metacharacters escaped, anything unprintable or non-ASCII as \\xHH."""
    out = []
    for byte in raw:
        char = chr(byte)
        if 0x21 <= byte < 0x7F and char not in '"\\':
            out.append("\\" + char if char in ".^$|?*+()[]{}" else char)
        else:
            out.append(f"\\x{byte:02X}")
    return "".join(out)


def _nginx_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_nginx(redirects: list[Redirect]) -> str:
    rules, _ = path_rules(redirects)
    lines = [
        f"# linkrot redirect map: {_count(rules)}.",
        "# Include this file in the http block; in each server block of the site add:",
        "#     if ($linkrot_redirect) { return 301 $linkrot_redirect; }",
    ]
    longest = max((len(rule.path) for rule in rules), default=0)
    if longest > 48:
        # nginx refuses to start ("could not build map_hash") when a key outgrows the default bucket
        lines.append(
            f"# Long keys: if nginx asks for it, set map_hash_bucket_size {_bucket(longest)}; in the http block."
        )
    lines.append("map $request_uri $linkrot_redirect {")
    lines += [
        f"    {_nginx_quote(rule.path)} {_nginx_quote(_config_target(rule.location))};" for rule in rules
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _bucket(length: int) -> int:
    size = 64
    while size < length + 16:
        size *= 2
    return size


def render_apache(redirects: list[Redirect]) -> str:
    """``RedirectMatch`` on the exact path; mod_rewrite for a URL with a query string.

    Not ``Redirect``: mod_alias's ``Redirect /old /new`` is a prefix match that
    would also send ``/old/anything`` to ``/new/anything``.  Both match against
    the %-decoded path, hence the decoding; ``^/?`` makes the rewrite rule work
    in a virtual host and in ``.htaccess`` alike.
    """
    rules, _ = path_rules(redirects)
    lines = [f"# linkrot redirect map: {_count(rules)} (mod_alias; with a query string, mod_rewrite)."]
    rewrites: list[str] = []
    for rule in rules:
        parts = urlsplit(rule.redirect.from_url)
        target = _config_target(rule.location)
        path = _regex(unquote_to_bytes(parts.path))
        if not parts.query:
            lines.append(f"RedirectMatch 301 ^{path}$ {target}")
            continue
        substitution = target.replace("%", "\\%")  # "%1" would be a RewriteCond back-reference
        rewrites += [
            f"RewriteCond %{{QUERY_STRING}} ^{_regex(parts.query.encode())}$",
            f"RewriteRule ^/?{path.removeprefix('/')}$ {substitution} [R=301,L,QSD,NE]",
        ]
    if rewrites:
        lines += ["RewriteEngine On", *rewrites]
    return "\n".join(lines) + "\n"


def render_netlify(redirects: list[Redirect]) -> str:
    """``_redirects`` lines; a query string becomes Netlify's ``key=value`` conditions."""
    rules, _ = path_rules(redirects)
    lines = [f"# linkrot redirect map: {_count(rules)}."]
    for rule in rules:
        parts = urlsplit(rule.redirect.from_url)
        conditions = [p if "=" in p else f"{p}=" for p in parts.query.split("&") if p]
        lines.append("  ".join([parts.path, *conditions, rule.location, "301"]))
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # a spreadsheet runs a cell starting with one of these as a formula (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(redirects: list[Redirect]) -> str:
    """Absolute URLs, one row per redirect; readable back as an overrides file (``from_url,to_url``)."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF rows, so a CR inside a cell gets quoted too
    writer.writerow(["from_url", "to_url", "status", "kind", "confidence", "reason"])
    for r in redirects:
        writer.writerow(
            [_cell(v) for v in (r.from_url, r.to_url, 301, r.kind, f"{r.confidence:.2f}", r.reason)]
        )
    return out.getvalue()


RENDERERS = {"nginx": render_nginx, "apache": render_apache, "netlify": render_netlify, "csv": render_csv}


def render(redirects: list[Redirect], fmt: str) -> str:
    return RENDERERS[fmt](redirects)
