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
            raise ConfigError("the site spider needs a start URL: scrapy crawl site -a url=https://www.example.com/")
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
            soft404_threshold=as_float("LINKROT_SOFT404_THRESHOLD", settings.get("LINKROT_SOFT404_THRESHOLD")),
            use_sitemap=as_bool("sitemap", pick("sitemap", "LINKROT_SITEMAP")),
        )
