"""Auditing a protected site: what to send it, and to no one else (docs/site-crawl.md#protected-sites).

``-a http_user=… -a http_pass=…`` (HTTP basic auth) and ``-a header="Cookie: session=…"`` (or the
environment variables ``LINKROT_HTTP_USER``, ``LINKROT_HTTP_PASS``, ``LINKROT_HEADER``) are sent
only to the site being crawled (its host, or its registrable domain with ``-a subdomains=1``;
never from https down to plain http), never to an external link, another host
or a redirect that leaves the site. They are spider arguments, not settings: Scrapy logs every
overridden setting when it starts, and never its spider arguments. The run row keeps the
arguments with their secrets replaced (:func:`redact`, applied by ``linkrot.run.RunSpec`` for
every spider), so nothing secret reaches the database.

Why not Scrapy's own ``HttpAuthMiddleware``: in Scrapy 2.19 its spider attributes are deprecated
(a warning in every log), its settings (``HTTPAUTH_*``) are printed in "Overridden settings", its
per-request meta keys would put the password into every request waiting in the disk queue, and
its domain rule is a suffix match (``www.example.com`` sends to ``x.www.example.com``). The header
itself is w3lib's (:func:`w3lib.http.basic_auth_header`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from w3lib.http import basic_auth_header

from .errors import ConfigError
from .urls import Scope

SECRET_ARGS = ("http_pass", "header")  # spider arguments never stored nor logged as given
REDACTED = "(redacted)"
LOGIN_ARGS = ("http_user", "http_pass", "header")  # not left on the spider as attributes
# the same from the environment, out of sight of `ps`, shell history and Scrapyd's job list (an
# argument given wins)
LOGIN_ENV = {"http_user": "LINKROT_HTTP_USER", "http_pass": "LINKROT_HTTP_PASS", "header": "LINKROT_HEADER"}

# "Name: value", several in one argument: a comma or a line break followed by the next "Name:"
# (a comma inside a value, as in "Accept: text/html, */*", stays in the value)
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SPLIT = re.compile(rf"\s*[,\n]\s*(?={_TOKEN}\s*:)")
_HEADER = re.compile(rf"^\s*({_TOKEN})\s*:\s*(.*?)\s*$", re.DOTALL)


def parse_headers(value: str) -> tuple[tuple[str, str], ...]:
    """``"Cookie: a=1, X-Token: t"`` → ``(("Cookie", "a=1"), ("X-Token", "t"))``; never echoes a value."""
    headers = []
    for part in _SPLIT.split(value.strip()) if value.strip() else []:
        match = _HEADER.match(part)
        if match is None or "\n" in match.group(2) or "\r" in match.group(2):
            start = re.match(_TOKEN, part.strip())  # its first word only: the rest may be the secret
            name = start.group(0)[:40] if start else ""
            raise ConfigError(
                f"header: expected 'Name: value' (got one starting {name!r}; the rest not shown)"
            )
        headers.append((match.group(1), match.group(2)))
    return tuple(headers)


def redact(args: dict[str, Any]) -> dict[str, Any]:
    """The spider arguments as the run row keeps them: passwords and header values replaced."""
    clean = dict(args)
    if clean.get("http_pass"):
        clean["http_pass"] = REDACTED
    if clean.get("header"):
        try:
            clean["header"] = ", ".join(f"{name}: {REDACTED}" for name, _ in parse_headers(clean["header"]))
        except ConfigError:
            clean["header"] = REDACTED
    return clean


@dataclass(frozen=True)
class Login:
    """What the crawled site is sent on every request: basic-auth credentials and extra headers.

    The values are left out of ``repr`` so that no log line or traceback can show them.
    """

    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_args(cls, args: dict[str, Any], environ: Mapping[str, str] | None = None) -> Login | None:
        """From the spider arguments, else the environment (``LINKROT_HTTP_USER``, ``LINKROT_HTTP_PASS``,
        ``LINKROT_HEADER``)."""
        env = os.environ if environ is None else environ

        def given(name: str) -> str:
            return str(args.get(name) or env.get(LOGIN_ENV[name]) or "")

        user, password = given("http_user"), given("http_pass")
        if ":" in user:
            raise ConfigError("http_user: a basic-auth user name cannot contain ':' (RFC 7617)")
        login = cls(user, password, parse_headers(given("header")))
        return login if login.basic or login.headers else None

    @property
    def basic(self) -> bool:
        return bool(self.user or self.password)

    def header_items(self) -> list[tuple[bytes, bytes]]:
        items = [(b"Authorization", basic_auth_header(self.user, self.password))] if self.basic else []
        items += [(name.encode("latin-1"), value.encode("utf-8")) for name, value in self.headers]
        return items

    def describe(self) -> str:
        """What is sent, without a secret: ``basic auth as 'ann', header Cookie``."""
        parts = [f"basic auth as {self.user!r}"] if self.basic else []
        parts += [f"header {name}" for name, _ in self.headers]
        return ", ".join(parts)


class SiteLogin:
    """A :class:`Login` bound to the site it belongs to: the headers a request should carry."""

    def __init__(self, login: Login, start_url: str, *, subdomains: bool = False) -> None:
        self.login = login
        # the site as the user named it; a start URL redirecting to another host does not widen it
        self.scope = Scope(start_url, subdomains=subdomains)
        self.https_only = start_url.startswith("https:")  # never downgraded to plain http
        self.items = login.header_items()
        self.names = tuple(name for name, _ in self.items)

    def applies(self, url: str) -> bool:
        if self.https_only and not url.startswith("https:"):
            return False
        return self.scope.is_internal(url)

    def headers_for(self, url: str) -> list[tuple[bytes, bytes]]:
        return self.items if self.applies(url) else []


def login_hint(code: int, challenge: str, url: str, site_login: SiteLogin | None) -> str:
    """The WARNING for a start URL answering 401 or 403: what it means and what to pass."""
    asks = "asks for a login" if code == 401 else "refuses access"
    scheme = challenge.split(" ", 1)[0] if challenge else ""
    what = f"{url} answers {code}: the site {asks}" + (f" ({scheme} authentication)" if scheme else "")
    if site_login is None:
        return (
            f"{what}. Pass credentials: -a http_user=USER -a http_pass=PASSWORD for HTTP basic auth, "
            '-a header="Cookie: session=..." for a site with a login form'
        )
    if not site_login.applies(url):
        return f"{what}. The credentials are sent only to the start URL's site: start the crawl at {url}"
    return f"{what} even with the credentials given ({site_login.login.describe()}): check them"
