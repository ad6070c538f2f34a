"""Settings prefixed ``LINKROT_``, read once into a typed config and validated at start-up.

Spider arguments (``-a``) override the matching setting for one run.
Scrapy's own knobs (``ROBOTSTXT_OBEY``, ``REDIRECT_MAX_TIMES``,
``DOWNLOAD_TIMEOUT``, ``CONCURRENT_REQUESTS``...) keep their names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings

from .errors import ConfigError
from .urls import normalize_url

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}: expected a boolean (1/0, true/false), got {value!r}")


def as_int(name: str, value: Any, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


def as_float(name: str, value: Any, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


@dataclass(frozen=True)
class SiteConfig:
    """Options of the ``site`` spider."""

    start_url: str
    subdomains: bool
    check_external: bool
    max_pages: int  # 0 = no limit
    max_depth: int  # 0 = no limit
    max_hops: int
    soft404_threshold: float
    use_sitemap: bool

    @classmethod
    def from_settings(cls, settings: BaseSettings, args: dict[str, Any]) -> SiteConfig:
        def pick(arg: str, setting: str) -> Any:
            value = args.get(arg)
            return settings.get(setting) if value is None else value

        url = args.get("url")
        if not url:
            raise ConfigError(
                "the site spider needs a start URL: scrapy crawl site -a url=https://www.example.com/"
            )
        start_url = normalize_url(url if "://" in url else f"https://{url}")
        if start_url is None:
            raise ConfigError(f"url: {url!r} is not an http(s) URL")
        return cls(
            start_url=start_url,
            subdomains=as_bool("subdomains", pick("subdomains", "LINKROT_INCLUDE_SUBDOMAINS")),
            check_external=as_bool("external", pick("external", "LINKROT_CHECK_EXTERNAL")),
            max_pages=as_int("max_pages", pick("max_pages", "LINKROT_MAX_PAGES")),
            max_depth=as_int("max_depth", pick("max_depth", "LINKROT_MAX_DEPTH")),
            max_hops=as_int("REDIRECT_MAX_TIMES", settings.get("REDIRECT_MAX_TIMES"), minimum=1),
            soft404_threshold=as_float(
                "LINKROT_SOFT404_THRESHOLD", settings.get("LINKROT_SOFT404_THRESHOLD")
            ),
            use_sitemap=as_bool("sitemap", pick("sitemap", "LINKROT_SITEMAP")),
        )


RENDER_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class BacklinksConfig:
    """Options of the ``backlinks`` spider."""

    files: tuple[str, ...]  # exports to import before checking; empty: check what the table holds
    site: str | None  # our site: the target of Search Console exports, and a filter
    render: str  # auto, always, never
    render_wait: float
    max_hops: int

    @classmethod
    def from_settings(cls, settings: BaseSettings, args: dict[str, Any]) -> BacklinksConfig:
        files = tuple(
            f.strip() for f in split_files(args.get("file") or args.get("files") or "") if f.strip()
        )
        site = args.get("site")
        if site:
            normal = normalize_url(site if "://" in site else f"https://{site}")
            if normal is None:
                raise ConfigError(f"site: {site!r} is not an http(s) URL")
            site = normal
        render = str(args.get("render") or settings.get("LINKROT_RENDER") or "auto").strip().lower()
        if render not in RENDER_MODES:
            raise ConfigError(
                f"render / LINKROT_RENDER: expected one of {', '.join(RENDER_MODES)}, got {render!r}"
            )
        return cls(
            files=files,
            site=site,
            render=render,
            render_wait=as_float("LINKROT_RENDER_WAIT", settings.get("LINKROT_RENDER_WAIT")),
            max_hops=as_int("REDIRECT_MAX_TIMES", settings.get("REDIRECT_MAX_TIMES"), minimum=1),
        )


def split_files(value: str) -> list[str]:
    """``-a file=a.csv,b.tsv``: several exports in one argument (a path that exists is kept whole)."""
    from pathlib import Path

    if not value or Path(value).exists():
        return [value] if value else []
    return value.split(",")
