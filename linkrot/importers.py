"""Read backlink exports (Ahrefs, Semrush, Search Console, Majestic, Moz, plain CSV/TSV).

A file in, ``BacklinkRow`` / ``RowError`` out, streamed line by line.  The vendor is
recognised from the header, never named by the user, and columns are matched by
header name: vendors reorder and rename columns between report types, and Search
Console translates them (see shared/export-formats.md).  Users feed us downloaded
third-party files, so any bytes give rows or one ``ImportFileError``, never another
traceback.  No deduplication here: the store dedupes on (source, target).
A report that is not a backlink list (referring domains, top linking sites) is refused
with ``WrongExportError``, naming the export to download instead.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from linkrot.errors import ImportFileError, WrongExportError
from linkrot.urls import normalize_url

_FIELD_LIMIT = 64 * 1024 * 1024  # several-MB fields occur (page contexts); a longer line is reported
_HEADER_LIMIT = 64 * 1024  # a "header" longer than this is binary data, stop looking there
_HEADER_SCAN = 10  # lines tried as header: Excel writes "sep=;" and some tools a title line first
_RECORD_LINES = 100  # an unclosed quote would swallow the rest of the file; cap and re-read
_DELIMITERS = ",\t;"
if csv.field_size_limit() < _FIELD_LIMIT:
    csv.field_size_limit(_FIELD_LIMIT)

# Sources are one-off values: the memoised normalize_url would keep up to 262k of them
# (tens of MB) and evict the crawl's hot entries.  Targets are the user's own pages, few
# and also crawled, so they do go through the cache.
_normalize_once = getattr(normalize_url, "__wrapped__", normalize_url)


@dataclass(slots=True)
class BacklinkRow:
    line: int  # physical line the record starts on (the header is line 1)
    source_url: str  # normalized
    target_url: str | None  # normalized; None for Search Console (no target column)
    anchor: str | None = None
    source_title: str | None = None
    authority: float | None = None  # the export's score of the referring page or domain
    authority_metric: str | None = None  # the column it came from, as the vendor names it
    first_seen: str | None = None  # ISO 8601 when parseable, else the raw text
    last_seen: str | None = None
    nofollow: bool | None = None  # None when the export does not say
    ugc: bool | None = None
    sponsored: bool | None = None
    lost_status: str | None = None  # the vendor's raw "lost" token/date/state; None while live
    toxic_score: float | None = None  # Semrush Backlink Audit's 0-100 toxicity
    # Ahrefs: the URL written on the referring page, then each later hop, as (hop, url, status);
    # ``target_url`` is where that chain ends.  Hops whose URL is unusable are left out.
    vendor_chain: list[tuple[int, str, int | None]] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # EXTRA columns kept, non-empty only


@dataclass(slots=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True)
class ExportFormat:
    name: str
    label: str
    required: tuple[str, ...]  # canonical fields that must all be present
    any_of: tuple[str, ...] = ()  # and one of these: the vendor's own columns, telling it apart
    schemeless: bool = False  # URLs may come without a scheme (Moz writes "www.example.org/page")
    # False: a nofollow/ugc/sponsored flag is set when its cell is non-empty, not set when empty
    # (Majestic).  None: an empty or unreadable cell means "the export does not say".
    empty_flag: bool | None = None

    def expected(self) -> str:
        aliases = COLUMN_ALIASES[self.name]
        names = [aliases[f][0] for f in self.required + self.any_of[:1]]
        return "+".join(f'"{n}"' for n in names) + f" ({self.label})"


# Format name -> canonical field -> header aliases, compared case-, space- and
# punctuation-insensitively.  The first non-empty alias column wins; "extra" lists
# columns all kept in BacklinkRow.extra.  Edit here when a vendor renames a column.
# Real headers of each variant: shared/realworld-exports/SOURCES.md.
# fmt: off
COLUMN_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "ahrefs": {  # v3 names first, then the legacy v2 export ("Link URL", "Link Anchor", "Last Check")
        "source_url": ("Referring page URL",), "target_url": ("Target URL", "Link URL"),
        "anchor": ("Anchor", "Link Anchor"), "source_title": ("Referring page title",),
        "authority": ("Domain rating", "DR"),
        "nofollow": ("Nofollow",), "ugc": ("UGC",), "sponsored": ("Sponsored",),
        "first_seen": ("First seen",),
        # the Broken backlinks export has only "Ref. page checked"; v2 has "Last Check"
        "last_seen": ("Last seen", "Ref. page checked", "Last Check"),
        "lost_status": ("Lost status", "Lost", "Backlink Status"),
        # the URL on the page, then each hop; "Target URL" is where they end
        "chain_urls": ("Redirect Chain URLs",), "chain_codes": ("Redirect Chain status codes",),
        "extra": ("Referring page HTTP code", "Target page HTTP code", "Last HTTP Code", "Type", "Rendered",
                  "Raw", "Js rendered", "Lost", "Drop reason", "Discovered status", "Is spam", "Target checked",
                  "UR", "URL Rating", "Links in group"),
    },
    "semrush": {  # Backlink Analytics; the older export has "Page score" / "Page trust score"
        "source_url": ("Source url",), "target_url": ("Target url",),
        "authority": ("Page ascore", "Page AS", "Page score"), "lost_status": ("Lost link",),
        "anchor": ("Anchor",), "source_title": ("Source title",),
        "nofollow": ("Nofollow",), "ugc": ("Ugc",), "sponsored": ("Sponsored",),
        "first_seen": ("First seen",), "last_seen": ("Last seen",),
        "extra": ("Text", "Image", "Frame", "Form", "Sitewide", "New link", "Page trust score"),
    },
    "semrush_audit": {  # Backlink Audit: authority scores, "No Follow" and the toxic score
        "source_url": ("Source URL",), "target_url": ("Target URL",),
        "authority": ("Domain Authority Score",), "toxic_score": ("Toxic Score",),
        "anchor": ("Anchor",), "source_title": ("Source Page Title",),
        "nofollow": ("No Follow",), "first_seen": ("First Seen",), "last_seen": ("Last Seen",),
        "extra": ("Page Authority Score", "Anchor Type", "Link Type", "Comment"),
    },
    "majestic": {  # the Site Explorer download, then API-style names
        "source_url": ("Source URL", "SourceURL"), "target_url": ("Target URL", "TargetURL"),
        "authority": ("SourceTrustFlow",), "nofollow": ("FlagNoFollow",),
        "first_seen": ("Source First Found Date", "FirstIndexedDate"),
        "last_seen": ("Source Crawl Date", "LastSeenDate"),
        "lost_status": ("DateLost", "ReasonLost"),
        "anchor": ("Anchor Text", "AnchorText"), "source_title": ("Source Title", "SourceTitle"),
        "extra": ("FlagImageLink", "FlagImages", "FlagRedirect", "FlagFrame", "FlagOldCrawl", "FlagAltText",
                  "FlagMention", "FlagDeleted", "DateLost", "ReasonLost", "SourceCitationFlow"),
    },
    "moz": {  # Link Explorer (URLs without a scheme), then the legacy Open Site Explorer export
        "source_url": ("Source URL", "URL", "Source Page URL"),
        "target_url": ("Target URL", "Target Page URL", "Target"),
        "authority": ("Domain Authority", "Page Authority", "DA", "PA"),
        "lost_status": ("Link State", "Date Lost"),
        "anchor": ("Anchor Text", "Anchor"), "source_title": ("Title", "Source Title", "Page Title"),
        # "Link Type" holds follow/nofollow; Open Site Explorer said "Only rel=nofollow" Yes/No
        "nofollow": ("Nofollow", "No Follow", "Link Type", "Only rel=nofollow"),
        "first_seen": ("Date First Seen", "First Seen"), "last_seen": ("Date Last Seen", "Last Seen"),
        "extra": ("Spam Score", "Page Authority", "PA", "Date Lost", "HTTP Status Code", "301"),
    },
    "gsc": {  # headers follow the Search Console UI language
        "source_url": ("Linking page", "Página de enlace"),
        "last_seen": ("Last crawled", "Último rastreo"),
    },
    "plain": {
        "source_url": ("source_url", "source", "from", "url_from", "source url"),
        "target_url": ("target_url", "target", "to", "url_to", "target url"),
        "anchor": ("anchor", "anchor_text", "anchor text"),
    },
}

# Most specific first: Majestic, Moz and plain files share "Source URL"/"Target URL",
# so those with distinguishing columns are tried before the generic fallback.
FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("ahrefs", "Ahrefs", ("source_url", "target_url")),
    ExportFormat("semrush", "Semrush", ("source_url", "target_url"), ("authority", "lost_status")),
    ExportFormat("semrush_audit", "Semrush Backlink Audit", ("source_url", "target_url"), ("toxic_score",)),
    # Majestic writes a flag only when it is set (SOURCES.md, the Hostelz importer)
    ExportFormat("majestic", "Majestic", ("source_url", "target_url"),
                 ("authority", "nofollow", "first_seen", "last_seen", "lost_status"), empty_flag=False),
    ExportFormat("moz", "Moz", ("source_url", "target_url"), ("authority", "lost_status"), schemeless=True),
    ExportFormat("gsc", "Google Search Console", ("source_url",)),
    ExportFormat("plain", "plain", ("source_url", "target_url")),
)

_FORMAT = {f.name: f for f in FORMATS}

# Reports users download by mistake: one row per domain, site or target, no linking page.
# (header names that all identify it, what it is, what to download instead)
WRONG_EXPORTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("Domain ascore", "Domain", "Backlinks"), 'a Semrush "Referring domains" export (one row per domain)',
     'export Backlink Analytics > Backlinks instead'),
    (("Domain", "Links to target"), 'an Ahrefs "Referring domains" export (one row per domain)',
     'export Site Explorer > Backlinks instead'),
    (("Subnet", "Links to target"), 'an Ahrefs "Referring IPs" export (one row per subnet)',
     'export Site Explorer > Backlinks instead'),
    (("Site", "Linking pages"), 'the Search Console "Top linking sites" table (one row per site)',
     'use "Export external links" > "Latest links" in the Links report instead'),
    (("Target page", "Incoming links"), 'the Search Console "Top linked pages" table (one row per page of yours)',
     'use "Export external links" > "Latest links" in the Links report instead'),
    (("Target page", "Internal links"), 'the Search Console internal "Top linked pages" table',
     'use "Export external links" > "Latest links" in the Links report instead'),
    (("Rank", "Link text"), 'the Search Console "Top linking text" table (anchor texts only)',
     'use "Export external links" > "Latest links" in the Links report instead'),
)

# Month names are English: strptime's %b follows LC_TIME, which stays "C" in linkrot.
# Slashes are read day-first: Search Console writes "Sep 28, 2026" in US English.
DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d",
                "%d.%m.%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
# fmt: on
EXPECTED_HEADERS = ", ".join(f.expected() for f in reversed(FORMATS))
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_LIVE = _FALSE | {"active", "live"}  # "lost" columns that say the link is still there
# Moz's "Link Type" says follow/nofollow in words rather than as a boolean
_NOFOLLOW_WORDS = {"nofollow": True, "follow": False, "dofollow": False}
# "no value" as Moz writes it ("--", "--%"); only read so in data columns, never in an anchor or title
_PLACEHOLDER = re.compile(r"-+%?|n/a")
_TEXT_FIELDS = frozenset({"source_url", "target_url", "anchor", "source_title", "chain_urls"})
_NON_WORD = re.compile(r"[\W_]+")
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):")
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# "https://a.example/, https://b.example/": Ahrefs joins chain URLs with ", " (a URL has no space)
_CHAIN_SPLIT = re.compile(r",\s+")
# a host name as Moz writes it before the path: labels with a dot, no scheme, no userinfo
_BARE_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+\.?(?::\d+)?(?:[/?#]|$)")


def header_key(name: str) -> str:
    """'Referring page URL', 'referring_page_url' and '"Página de enlace"' compare by this."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKD", name).casefold())


def parse_bool(text: str) -> bool | None:
    text = text.strip().casefold()
    return True if text in _TRUE else False if text in _FALSE else None


def parse_flag(text: str, name: str = "") -> bool | None:
    """A nofollow/ugc/sponsored cell: a boolean, or Moz's follow/nofollow words for nofollow."""
    value = parse_bool(text)
    if value is None and name == "nofollow":
        value = _NOFOLLOW_WORDS.get(text.strip().casefold())
    return value


def parse_chain(urls: str, codes: str) -> list[tuple[int, str, int | None]]:
    """Ahrefs' "Redirect Chain URLs" and "... status codes" as (hop, normalized URL, status).

    Hop 0 is the URL written on the referring page.  An unusable URL is left out but keeps
    its hop number, so that hop 0 is never mistaken for another hop.
    """
    statuses = [c.strip() for c in codes.split(",")] if codes.strip() else []
    chain = []
    for hop, raw in enumerate(u for u in _CHAIN_SPLIT.split(urls.strip()) if u):
        url = _normalize_once(raw)
        if url is None:
            continue
        status = statuses[hop] if hop < len(statuses) else ""
        chain.append((hop, url, int(status) if status.isdigit() else None))
    return chain


def with_scheme(url: str, scheme: str) -> str:
    """``www.example.org/page`` as ``scheme://www.example.org/page``; any other text unchanged."""
    text = url.strip()
    if _HAS_SCHEME.match(text) or not _BARE_HOST.match(text):
        return url
    return f"{scheme}://{text}"


def parse_date(text: str) -> str | None:
    """ISO 8601 date or datetime when the text is a known date form, else the text itself."""
    text = text.strip()
    if not text:
        return None
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text.removesuffix(" UTC")).isoformat()
        except ValueError:
            pass
    if text.isascii() and text.isdigit() and len(text) in (9, 10):  # Unix time, as the Semrush API writes it
        return datetime.fromtimestamp(int(text), UTC).isoformat()
    for fmt in DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.date().isoformat() if "%H" not in fmt else parsed.isoformat()
    return text


def parse_score(text: str) -> float | None:
    try:  # scores are 0-100, so a comma is a decimal comma (semicolon-separated exports)
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def detect_format(header: list[str]) -> tuple[ExportFormat, dict[str, list[tuple[int, str]]]] | None:
    """The first format whose columns the header has, and field -> [(index, header name)]."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(header_key(name), i)
    for fmt in FORMATS:
        columns = {}
        for name, aliases in COLUMN_ALIASES[fmt.name].items():
            # named as in the table, not the file: stable keys for BacklinkRow.extra and the metric
            found = [(index[k], alias) for alias in aliases if (k := header_key(alias)) in index]
            if found:
                columns[name] = found
        if all(f in columns for f in fmt.required) and (
            not fmt.any_of or any(f in columns for f in fmt.any_of)
        ):
            return fmt, columns
    return None


def _show(text: str, limit: int = 80) -> str:
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _file_error(path: Path, problem: str) -> ImportFileError:
    return ImportFileError(f"{path}: {problem}; expected a header like {EXPECTED_HEADERS}")


class _Lines:
    """Physical lines of a text file, numbered, with push-back, NULs stripped.

    A line over ``limit`` characters is read in pieces (bounded memory), handed on as a
    blank line and its number kept in ``overlong``.  Lines that are not valid UTF-8
    (surrogate-escaped by the decoder) are decoded again as cp1252: exports get
    concatenated or hand-edited, so one file can mix both.
    """

    def __init__(self, text: TextIO, limit: int, recode: bool) -> None:
        self._text, self._limit, self._recode = text, limit, recode
        self._back: deque[tuple[int, str]] = deque()
        self.number = 0
        self.overlong: set[int] = set()
        self.record: list[tuple[int, str]] = []
        self.open_ended = False

    def next(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.popleft()
        line = self._text.readline(self._limit)
        if not line:
            return None
        self.number += 1
        if len(line) == self._limit and not line.endswith(("\n", "\r")):
            self.overlong.add(self.number)
            while (rest := self._text.readline(self._limit)) and not rest.endswith(("\n", "\r")):
                pass
            return self.number, "\n"
        if "\x00" in line:  # csv rejects NUL in some Python versions; it never means anything here
            line = line.replace("\x00", "")
        if self._recode and not line.isascii():
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                line = line.encode("utf-8", "surrogateescape").decode("cp1252", "replace")
        return self.number, line

    def take(self) -> Iterator[str]:
        """Feed one CSV record; ``open_ended`` tells that csv wanted more than EOF or the cap gave."""
        self.record, self.open_ended = [], False
        while item := (self.next() if len(self.record) < _RECORD_LINES else None):
            self.record.append(item)
            yield item[1]
        self.open_ended = bool(self.record)

    def push_back(self, items: list[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(items))


def _open_text(path: Path, encoding: str) -> TextIO:
    if encoding.startswith("utf-16"):  # the codec reads the BOM itself
        return path.open(encoding="utf-16", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


@dataclass(eq=False)
class Export:
    """An open export file: its format (name), encoding, delimiter and header.

    Iterating reads the file again from the start and yields ``BacklinkRow | RowError``
    in file order; it raises ImportFileError at the end when no row was usable.
    """

    path: Path
    format: str
    encoding: str
    delimiter: str
    header: list[str]
    header_line: int  # 1 unless a preamble ("sep=;", a title) comes first
    _columns: dict[str, list[tuple[int, str]]] = field(repr=False)
    # the scheme given to a target URL written without one (Moz): the user's site's, when known
    target_scheme: str = "https"

    @property
    def label(self) -> str:
        return _FORMAT[self.format].label

    def __iter__(self) -> Iterator[BacklinkRow | RowError]:
        total = usable = 0
        first_error: RowError | None = None
        try:
            with _open_text(self.path, self.encoding) as text:
                lines = _Lines(text, _FIELD_LIMIT, not self.encoding.startswith("utf-16"))
                while lines.number < self.header_line and lines.next():
                    pass
                for item in self._records(lines):
                    total, usable = total + 1, usable + isinstance(item, BacklinkRow)
                    first_error = first_error or (item if isinstance(item, RowError) else None)
                    yield item
        except OSError as exc:
            raise _file_error(self.path, f"cannot read the file ({exc})") from exc
        if not usable:
            # The header was recognised: say why the rows were refused, not what a header looks like.
            why = f"; line {first_error.line}: {first_error.reason}" if first_error else ""
            raise ImportFileError(
                f"{self.path}: no usable backlink row in this {self.label} export "
                f"({total} rows could not be read{why})"
            )

    def _records(self, lines: _Lines) -> Iterator[BacklinkRow | RowError]:
        dialect = {"delimiter": self.delimiter, "skipinitialspace": True, "strict": False}
        while True:
            try:  # one reader per record, so that a bad record's lines can be fed again
                fields, problem = next(csv.reader(lines.take(), **dialect), None), None
            except csv.Error as exc:  # e.g. a field over the size limit
                fields, problem = [], f"unreadable row: {exc}"
            if fields is None:
                return
            problem = problem or self._shape_problem(fields, lines)
            if problem:
                # A bad record over several lines is most likely a stray quote: re-read its other lines.
                lines.push_back(lines.record[1:])
                yield RowError(lines.record[0][0], problem)
            elif any(f.strip() for f in fields):  # blank and ",,,," lines are not rows
                fields += [""] * (len(self.header) - len(fields))
                try:
                    yield self._row(lines.record[0][0], fields)
                except (ValueError, UnicodeError, OverflowError) as exc:  # URL/number parsers' signals
                    yield RowError(lines.record[0][0], f"unreadable row: {exc}")

    def _shape_problem(self, fields: list[str], lines: _Lines) -> str | None:
        if lines.overlong and any(n in lines.overlong for n, _ in lines.record):
            return f"unreadable row: a line longer than {_FIELD_LIMIT // 2**20} MB"
        if lines.open_ended:
            return "unreadable row: a quoted field is never closed"
        n, width = len(fields), len(self.header)
        named = max((i + 1 for i, h in enumerate(self.header) if h.strip()), default=0)
        # Empty cells past the named columns (a trailing delimiter) are harmless; others shift columns.
        if (
            n == width
            or not any(f.strip() for f in fields)
            or (named <= n and not any(f.strip() for f in fields[width:]))
        ):
            return None
        problem = f"{n} fields where the header has {width}"
        if len(lines.record) > 1:
            return f"unreadable row: a quoted field runs over {len(lines.record)} lines ({problem})"
        return f"unreadable row: {problem}"

    def _row(self, line: int, fields: list[str]) -> BacklinkRow | RowError:
        def first(name: str) -> tuple[str, str] | tuple[None, None]:
            for i, column in self._columns.get(name, ()):
                value = fields[i].strip()
                if value and (name in _TEXT_FIELDS or not _PLACEHOLDER.fullmatch(value)):
                    return value, column
            return None, None

        fmt = _FORMAT[self.format]
        source, _ = first("source_url")
        if not source:
            return RowError(line, "no source URL")
        # Sources get http: a page that moved to https redirects, which matching ignores.
        source = with_scheme(source, "http") if fmt.schemeless else source
        source_url = _normalize_once(source)
        if source_url is None:
            return RowError(line, _url_problem("source", source))
        target_url = None
        if "target_url" in self._columns:  # every format with a target column requires it
            target, _ = first("target_url")
            if not target:
                return RowError(line, "no target URL")
            target = with_scheme(target, self.target_scheme) if fmt.schemeless else target
            target_url = normalize_url(target)
            if target_url is None:
                return RowError(line, _url_problem("target", target))
        score, metric = first("authority")
        authority = parse_score(score) if score else None
        toxic, _ = first("toxic_score")
        lost, _ = first("lost_status")
        flags = {}
        for name in ("nofollow", "ugc", "sponsored"):
            value, flag = first(name)[0], None
            if value:
                flag = parse_flag(value, name)
                flag = True if flag is None and fmt.empty_flag is False else flag
            elif name in self._columns:
                flag = fmt.empty_flag
            flags[name] = flag
        return BacklinkRow(
            line=line,
            source_url=source_url,
            target_url=target_url,
            anchor=first("anchor")[0],
            source_title=first("source_title")[0],
            authority=authority,
            authority_metric=metric if authority is not None else None,
            first_seen=parse_date(first("first_seen")[0] or ""),
            last_seen=parse_date(first("last_seen")[0] or ""),
            lost_status=None if lost is None or lost.casefold() in _LIVE else lost,
            toxic_score=parse_score(toxic) if toxic else None,
            vendor_chain=parse_chain(first("chain_urls")[0] or "", first("chain_codes")[0] or ""),
            extra={
                c: v
                for i, c in self._columns.get("extra", ())
                if (v := fields[i].strip()) and not _PLACEHOLDER.fullmatch(v)
            },
            **flags,
        )


def _url_problem(which: str, raw: str) -> str:
    scheme = _SCHEME.match(raw)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        return f"{which} URL is not http(s): {_show(raw.strip())}"
    return f"{which} URL is not an absolute http(s) URL: {_show(raw.strip())}"


def wrong_export(header: list[str]) -> str | None:
    """What the header's report is and what to download instead, when it is no backlink list."""
    keys = {header_key(name) for name in header}
    for names, what, instead in WRONG_EXPORTS:
        if all(header_key(n) in keys for n in names):
            return f"this is {what}, not a list of backlinks: {instead}"
    return None


def open_export(path: str | Path, *, target_scheme: str = "https") -> Export:
    """Sniff encoding, delimiter and vendor format from the header of an export file.

    ``target_scheme``: given to target URLs an export writes without one (Moz); pass the
    scheme of the user's site.  Raises WrongExportError for a report that lists domains,
    sites or anchor texts instead of backlinks.
    """
    path, seen = Path(path), []
    try:
        with path.open("rb") as raw:
            head = raw.read(4)
        if not head:
            raise _file_error(path, "the file is empty")
        if head.startswith(b"PK\x03\x04"):
            raise _file_error(path, "this is an Excel or zip file, not CSV (download the CSV instead)")
        boms = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
        encoding = next((name for bom, name in boms if head.startswith(bom)), "utf-8")
        with _open_text(path, encoding) as text:
            lines = _Lines(text, _HEADER_LIMIT, not encoding.startswith("utf-16"))
            while len(seen) < _HEADER_SCAN and (item := lines.next()) and not lines.overlong:
                number, line = item
                if not line.strip():
                    continue
                seen.append(line.strip())
                # Try the delimiters the line has most of first; a header without any is one column.
                for delimiter in sorted(_DELIMITERS, key=lambda d: -line.count(d)):
                    try:
                        header = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))
                    except csv.Error:
                        continue
                    if found := detect_format(header):
                        fmt, columns = found
                        return Export(path, fmt.name, encoding, delimiter, header, number, columns, target_scheme)
                    if len(header) > 1 and (problem := wrong_export(header)):
                        raise WrongExportError(f"{path}: {problem}")
    except OSError as exc:
        raise _file_error(path, f"cannot read the file ({exc})") from exc
    if not seen:
        raise _file_error(path, "no header line (the file is blank or binary)")
    raise _file_error(path, f"header not recognised: {_show(seen[0])}")


def read_export(path: str | Path, *, target_scheme: str = "https") -> Iterator[BacklinkRow | RowError]:
    """Rows of an export file; ImportFileError now for a bad file, at the end if no row was usable."""
    return iter(open_export(path, target_scheme=target_scheme))
