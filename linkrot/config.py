"""Settings prefixed ``LINKROT_``, read once into a typed config and validated at start-up.

Spider arguments (``-a``) override the matching setting for one run.
Scrapy's own knobs (``ROBOTSTXT_OBEY``, ``REDIRECT_MAX_TIMES``,
``DOWNLOAD_TIMEOUT``, ``CONCURRENT_REQUESTS``...) keep their names.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from scrapy.settings import BaseSettings

from .auth import Login
from .errors import ConfigError
from .history import Policy
from .resolver import HostMap
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
    sitemaps: tuple[str, ...]  # sitemaps named with -a sitemap=URL,URL (read besides robots.txt's)
    sitemap_paths: bool  # read the paths of a sitemap's URLs on other hosts on the crawled host
    max_query_variants: int  # 0 = no limit
    resume: bool
    resources: bool  # check images, scripts, stylesheets, media... (not only links people follow)
    fragments: bool  # report links to page#section whose page defines no such anchor
    login: Login | None = None  # -a http_user/http_pass/header: sent to the site only (linkrot.auth)

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
        use_sitemap, sitemaps = sitemap_option(pick("sitemap", "LINKROT_SITEMAP"), start_url)
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
            use_sitemap=use_sitemap,
            sitemaps=sitemaps,
            sitemap_paths=as_bool("sitemap_paths", pick("sitemap_paths", "LINKROT_SITEMAP_PATHS")),
            max_query_variants=as_int(
                "LINKROT_MAX_QUERY_VARIANTS", settings.get("LINKROT_MAX_QUERY_VARIANTS")
            ),
            resume=as_bool("resume", pick("resume", "LINKROT_RESUME")),
            resources=as_bool("resources", pick("resources", "LINKROT_CHECK_RESOURCES")),
            fragments=as_bool("fragments", pick("fragments", "LINKROT_CHECK_FRAGMENTS")),
            login=Login.from_args(args),
        )


def sitemap_option(value: Any, start_url: str) -> tuple[bool, tuple[str, ...]]:
    """``sitemap`` / ``LINKROT_SITEMAP``: a boolean (read sitemaps or not), or sitemap URLs.

    Scrapy keeps only the last ``-a sitemap=`` of a command line, so several URLs go in one
    value, separated by commas and/or spaces; a path is relative to the start URL.
    """
    if isinstance(value, bool):
        return value, ()
    text = str(value).strip()
    if text.lower() in _TRUE | _FALSE:
        return as_bool("sitemap", text), ()
    urls = []
    for item in re.split(r"[\s,]+", text):
        if not item:
            continue
        url = normalize_url(urljoin(start_url, item))
        if url is None:
            raise ConfigError(f"sitemap: {item!r} is not an http(s) URL (nor 1/0)")
        if url not in urls:
            urls.append(url)
    return True, tuple(urls)


RENDER_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class BacklinksConfig:
    """Options of the ``backlinks`` spider."""

    files: tuple[str, ...]  # exports to import before checking; empty: check what the table holds
    site: str | None  # our site: the target of Search Console exports, and a filter
    render: str  # auto, always, never
    render_wait: float
    max_hops: int
    resume: bool
    recheck: bool  # LINKROT_CONFIRM_RECHECK: re-fetch at once a page whose link seems gone
    brands: tuple[str, ...]
    keywords: tuple[str, ...]
    allow_private: bool
    hostmap: HostMap

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
        if render != "never" and str(settings.get("LINKROT_RENDER") or "auto").strip().lower() == "never":
            # the browser's download handler is installed from settings, before spider arguments exist
            raise ConfigError(f"-a render={render} needs the browser: use -s LINKROT_RENDER={render}")
        resume = args.get("resume")
        return cls(
            files=files,
            site=site,
            render=render,
            render_wait=as_float("LINKROT_RENDER_WAIT", settings.get("LINKROT_RENDER_WAIT")),
            max_hops=as_int("REDIRECT_MAX_TIMES", settings.get("REDIRECT_MAX_TIMES"), minimum=1),
            resume=as_bool("resume", settings.get("LINKROT_RESUME") if resume is None else resume),
            recheck=as_bool("LINKROT_CONFIRM_RECHECK", settings.get("LINKROT_CONFIRM_RECHECK")),
            brands=tuple(settings.getlist("LINKROT_BRANDS")),
            keywords=tuple(settings.getlist("LINKROT_KEYWORDS")),
            allow_private=as_bool("LINKROT_ALLOW_PRIVATE", settings.get("LINKROT_ALLOW_PRIVATE")),
            hostmap=HostMap.parse(settings.get("LINKROT_RESOLVE")),
        )


def split_files(value: str) -> list[str]:
    """``-a file=a.csv,b.tsv``: several exports in one argument (a path that exists is kept whole)."""
    from pathlib import Path

    if not value or Path(value).exists():
        return [value] if value else []
    return value.split(",")


@dataclass(frozen=True)
class WaybackConfig:
    enabled: bool
    endpoint: str
    timeout: float
    max_lookups: int
    user_agent: str


@dataclass(frozen=True)
class ScaleConfig:
    """One crawl shared by several workers through Redis (docs/scale-out.md); off without a URL."""

    redis_url: str  # LINKROT_REDIS_URL; empty: this process crawls alone
    workers: (
        int  # LINKROT_WORKERS: how many workers share the crawl (each takes its share of the per-host budget)
    )
    lease: float  # LINKROT_LEASE_SECONDS: a worker silent this long is dead; its requests are redone
    ahead: int = 500  # LINKROT_SHARED_QUEUE_AHEAD: requests the feeder keeps queued in Redis, no more

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ScaleConfig:
        url = str(settings.get("LINKROT_REDIS_URL") or "").strip()
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"LINKROT_REDIS_URL: expected redis://host:port/db, got {url!r}")
        return cls(
            redis_url=url,
            workers=as_int("LINKROT_WORKERS", settings.get("LINKROT_WORKERS"), minimum=1),
            lease=as_float("LINKROT_LEASE_SECONDS", settings.get("LINKROT_LEASE_SECONDS"), minimum=1.0),
            ahead=as_int("LINKROT_SHARED_QUEUE_AHEAD", settings.get("LINKROT_SHARED_QUEUE_AHEAD"), minimum=1),
        )


def configure_scale(settings: Any) -> None:
    """From a spider's ``update_settings``: the scheduler of a shared crawl, or the disk scheduler.

    Scrapy has no politeness across processes: each of N workers gets 1/N of the per-host
    concurrency and N times the download delay, so together they stay within the budget.
    Here, not in :mod:`linkrot.scale`, so that a crawl alone never imports redis.
    """
    config = ScaleConfig.from_settings(settings)
    if not config.redis_url:
        settings.set("SCHEDULER", "linkrot.scratch.DiskScheduler", priority="spider")
        return
    if importlib.util.find_spec("scrapy_redis") is None:
        raise ConfigError("LINKROT_REDIS_URL needs scrapy-redis: pip install 'linkrot-crawler[scale]'")
    settings.set("SCHEDULER", "linkrot.scale.SharedScheduler", priority="spider")
    per_host = "CONCURRENT_REQUESTS_PER_DOMAIN"
    settings.set(
        per_host,
        max(1, settings.getint(per_host) // config.workers),
        priority=max(settings.getpriority(per_host) or 0, 30),
    )
    delay = settings.getfloat("DOWNLOAD_DELAY")
    if delay:
        settings.set(
            "DOWNLOAD_DELAY",
            delay * config.workers,
            priority=max(settings.getpriority("DOWNLOAD_DELAY") or 0, 30),
        )


@dataclass(frozen=True)
class RunConfig:
    """What every run needs: its database, resume, batching, and the after-run steps' settings.

    Built when the run starts, so a typo in an alert or confirmation setting
    stops the run before its first request, not after hours of crawling.
    """

    db: str
    batch_size: int
    flush_interval: float
    defer_link_index: int  # LINKROT_DEFER_LINK_INDEX: URLs written, after which links are indexed at the end
    overrides: str | None  # LINKROT_REDIRECT_OVERRIDES
    policy: Policy  # when a loss is confirmed
    wayback: WaybackConfig
    alerts: Any  # linkrot.alerts.AlertConfig, or None for runs that send none
    scale: ScaleConfig

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, history: bool = False) -> RunConfig:
        from .alerts import AlertConfig  # alerts imports the store; keep config importable alone

        return cls(
            db=str(settings.get("LINKROT_DB") or "data/linkrot.db"),
            batch_size=as_int("LINKROT_BATCH_SIZE", settings.get("LINKROT_BATCH_SIZE"), minimum=1),
            flush_interval=as_float("LINKROT_FLUSH_INTERVAL", settings.get("LINKROT_FLUSH_INTERVAL")),
            defer_link_index=as_int("LINKROT_DEFER_LINK_INDEX", settings.get("LINKROT_DEFER_LINK_INDEX")),
            overrides=settings.get("LINKROT_REDIRECT_OVERRIDES") or None,
            policy=policy_from_settings(settings),
            wayback=WaybackConfig(
                enabled=as_bool("LINKROT_WAYBACK", settings.get("LINKROT_WAYBACK")),
                endpoint=str(settings.get("LINKROT_WAYBACK_ENDPOINT")),
                timeout=as_float("LINKROT_WAYBACK_TIMEOUT", settings.get("LINKROT_WAYBACK_TIMEOUT")),
                max_lookups=as_int("LINKROT_WAYBACK_MAX", settings.get("LINKROT_WAYBACK_MAX")),
                user_agent=str(settings.get("USER_AGENT")),
            ),
            alerts=AlertConfig.from_settings(settings) if history else None,
            scale=ScaleConfig.from_settings(settings),
        )


def policy_from_settings(settings: Any) -> Policy:
    return Policy(
        confirm_checks=as_int("LINKROT_CONFIRM_CHECKS", settings.get("LINKROT_CONFIRM_CHECKS"), minimum=1),
        confirm_hours=as_float("LINKROT_CONFIRM_HOURS", settings.get("LINKROT_CONFIRM_HOURS")),
    )


def progress_interval(settings: BaseSettings) -> float:
    return as_float("LINKROT_PROGRESS_INTERVAL", settings.get("LINKROT_PROGRESS_INTERVAL"))


@dataclass(frozen=True)
class RetryAfterConfig:
    times: int
    default: float
    maximum: float

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RetryAfterConfig:
        return cls(
            times=as_int("LINKROT_RETRY_AFTER_TIMES", settings.get("LINKROT_RETRY_AFTER_TIMES")),
            default=as_float("LINKROT_RETRY_AFTER_DEFAULT", settings.get("LINKROT_RETRY_AFTER_DEFAULT")),
            maximum=as_float("LINKROT_RETRY_AFTER_MAX", settings.get("LINKROT_RETRY_AFTER_MAX")),
        )
