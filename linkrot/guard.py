"""No server-side request forgery: URLs from imported files never reach private addresses.

A backlink export is a third-party file, and linkrot often runs unattended on a
server inside a company network.  A referring URL (or a redirect from one) that
resolves to a loopback, private, link-local (cloud metadata at 169.254.169.254),
multicast, reserved or unspecified address is not fetched: its status is
``blocked`` and the error says why.

The check is made on the address actually connected to, after DNS: Scrapy's
resolver (``linkrot.resolver.MappingResolver``) checks every answer it gives,
so a name that resolves to a public address at first and to 127.0.0.1 later
(DNS rebinding) is caught on the answer used for the connection.  IP literals
never reach a resolver: :class:`AddressGuardMiddleware` checks them.  Chromium
resolves names itself, so it reaches the web only through ``linkrot.proxy``,
which checks the address it connects to in the same way.

Allowed: hosts mapped with ``LINKROT_RESOLVE`` (the user said where they are),
the site given with ``-a site=``, and everything with ``LINKROT_ALLOW_PRIVATE``.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest


class ForbiddenAddressError(IgnoreRequest):
    """A request that would reach an address linkrot must not fetch from an imported URL."""


def forbidden_reason(address: str) -> str | None:
    """Why connecting to ``address`` is forbidden (None: a public address)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local (cloud metadata lives there)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
    return None


class AddressPolicy:
    """Process-wide: the backlinks spider turns it on; Scrapy's resolver and Chromium consult it."""

    def __init__(self) -> None:
        self.enabled = False
        self.allowed_hosts: set[str] = set()
        self.hostmap: Any = None
        self.refused: dict[str, str] = {}

    def configure(self, *, enabled: bool, allowed_hosts: set[str], hostmap: Any = None) -> None:
        self.enabled = enabled
        self.allowed_hosts = {h.lower().rstrip(".") for h in allowed_hosts}
        self.hostmap = hostmap

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.allowed_hosts or bool(self.hostmap and self.hostmap.lookup(host))

    def check(self, host: str, address: str) -> None:
        """Raise ForbiddenAddressError when ``host`` resolved to ``address`` may not be fetched."""
        if not self.enabled or self.allows_host(host):
            return
        reason = forbidden_reason(address)
        if reason is not None:
            shown = f"{host} is" if host.strip("[]") == address else f"{host} resolves to {address},"
            message = f"not fetched: {shown} {reason} (LINKROT_ALLOW_PRIVATE allows it)"
            if len(self.refused) > 10_000:
                self.refused.clear()
            self.refused[host.lower().rstrip(".")] = message
            raise ForbiddenAddressError(message)

    def refusal(self, host: str) -> str | None:
        """Why a name was refused after DNS: Twisted reports it as a failed lookup, this tells the truth."""
        return self.refused.get(host.lower().rstrip("."))


POLICY = AddressPolicy()


def url_host(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".")


class AddressGuardMiddleware:
    """Checks IP-literal URLs (``http://169.254.169.254/``), which never go through a resolver."""

    def process_request(self, request: Any) -> None:
        if not POLICY.enabled:
            return None
        host = url_host(request.url)
        if forbidden_reason(host) is not None:
            POLICY.check(host, host)
        return None
