"""Host mapping, like curl's ``--resolve``: ``LINKROT_RESOLVE='*.example=127.0.0.1,shop.com=203.0.113.7'``.

One parsed mapping serves both engines: Scrapy's downloader through
:class:`MappingResolver` (set as ``TWISTED_DNS_RESOLVER``; Scrapy reads that
setting before any spider exists, so it belongs in settings.py or ``-s``) and
Chromium through :func:`chromium_host_rules`.  Unmapped names resolve normally.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from .errors import ConfigError
from .guard import POLICY, ForbiddenAddressError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from scrapy.crawler import Crawler


@dataclass(frozen=True)
class HostMap:
    """Ordered (pattern, address) rules; ``*.domain`` matches every subdomain of domain."""

    rules: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str | Iterable[str] | None) -> HostMap:
        if not value:
            return cls()
        items = value.split(",") if isinstance(value, str) else list(value)
        rules = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            host, sep, addr = item.partition("=")
            host, addr = host.strip().lower().rstrip("."), addr.strip().strip("[]")
            if not sep or not host or not addr:
                raise ConfigError(f"LINKROT_RESOLVE: expected HOST=ADDRESS, got {item!r}")
            try:
                ipaddress.ip_address(addr)
            except ValueError:
                raise ConfigError(f"LINKROT_RESOLVE: {addr!r} is not an IP address (in {item!r})") from None
            if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
                raise ConfigError(f"LINKROT_RESOLVE: only a leading '*.' wildcard is allowed, got {host!r}")
            rules.append((host, addr))
        return cls(tuple(rules))

    def lookup(self, host: str) -> str | None:
        host = host.lower().rstrip(".")
        for pattern, addr in self.rules:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return addr
            elif host == pattern:
                return addr
        return None

    def __bool__(self) -> bool:
        return bool(self.rules)

    def chromium_host_rules(self) -> str:
        """The value of Chromium's ``--host-resolver-rules`` (no port: URLs keep theirs)."""
        return ", ".join(
            f"MAP {pattern} {f'[{addr}]' if ':' in addr else addr}" for pattern, addr in self.rules
        )


class MappingResolver(CachingThreadedResolver):
    """Scrapy's default caching resolver, answering mapped names from ``LINKROT_RESOLVE``."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, hostmap: HostMap) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.hostmap = hostmap

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> MappingResolver:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        hostmap = HostMap.parse(settings.get("LINKROT_RESOLVE"))
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), hostmap)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        addr = self.hostmap.lookup(name)
        if addr is not None:
            return defer.succeed(addr)  # the user said where this host is: never forbidden
        answer = super().getHostByName(name, timeout)
        answer.addCallback(_checked, name)  # the address connected to is the one checked (no DNS rebinding)
        return answer


def _checked(address: str, name: str) -> str:
    try:
        POLICY.check(name, address)
    except ForbiddenAddressError as exc:
        # as a failed lookup: Twisted logs any other resolver failure at CRITICAL with a traceback;
        # the spider reads the refusal back from the policy and reports it as `blocked`
        raise DNSLookupError(str(exc)) from None
    return address
