"""Alerts about high-value backlink changes, sent when a run ends.

The practice this serves: "weekly notifications for DR > 50 losses", so the team
is first in line when an editor trims an article.  Building the message is pure
(:func:`select`, :func:`render_text`); :func:`send` hands it to up to three
channels (stdout, a Slack-compatible webhook, e-mail), all stdlib.  A channel
that fails is logged and reported, never raised: the run's data is already
stored and must not be lost to a mail server being down.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import sys
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any, TextIO
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from .config import as_bool, as_float
from .errors import ConfigError
from .status import Change, Triage

logger = logging.getLogger(__name__)

# the change kinds history.py records; one vocabulary, so a new kind is alertable at once
CHANGES = frozenset(Change)

# triage bucket -> what to do, after the symptom -> cause -> action table (tests: one per bucket)
ACTIONS: dict[Triage, str] = {
    Triage.RECLAIM: "ask the site owner to restore the link (outreach)",
    Triage.PLUMBING: "fix our side: redirect the target in one hop",
    Triage.REBUILD: "the page or domain is gone: replace the equity elsewhere",
    Triage.NOISE: "re-check before acting",
    Triage.OK: "nothing to do",
}

USER_AGENT = "linkrot/0.1 (+https://github.com/linkrot/linkrot; backlink alerts)"
EVIDENCE_CHARS = 240  # enough for the anchor and its sentence, short enough for a chat line


@dataclass(frozen=True)
class Alert:
    change: Change  # lost (confirmed), new, nofollow (follow -> nofollow/ugc/sponsored)...
    source_url: str
    target_url: str
    status: str  # the verdict: link_removed, not_found, domain_gone, redirected, nofollow, live...
    reason: str  # why, in words
    evidence: str | None  # HTML around the link (for a lost link: the previous evidence, if any)
    triage: Triage | None  # what to do: ACTIONS
    authority: float | None
    authority_metric: str | None  # "Domain rating", "Authority score"...
    source_domain: str
    detected_at: str  # ISO date time
    mentions_site: bool = False  # no link any more, but the page still names us: easiest to reclaim


@dataclass(frozen=True)
class ChannelResult:
    channel: str  # stdout, webhook, email
    ok: bool
    detail: str  # the error when not ok, else what was delivered


@dataclass(frozen=True)
class AlertConfig:
    min_authority: float  # an alert without authority passes only when this is 0
    changes: frozenset[str]
    stdout: bool
    webhook: str  # "" = off
    smtp: str  # "host:port", "" = off
    email_from: str
    email_to: tuple[str, ...]
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    timeout: float = 10.0  # per channel, seconds

    @classmethod
    def from_settings(cls, settings: Any) -> AlertConfig:
        """Read ``LINKROT_ALERT_*`` from a Scrapy ``Settings`` or a dict; ConfigError names the setting."""

        def get(name: str, default: Any) -> Any:
            value = settings.get(name)
            return default if value is None else value

        def text(name: str, default: str = "") -> str:
            return str(get(name, default)).strip()

        def items(name: str, default: str) -> list[str]:
            value = get(name, default)
            parts = value.split(",") if isinstance(value, str) else list(value)
            return [str(p).strip() for p in parts if str(p).strip()]

        changes = frozenset(c.lower() for c in items("LINKROT_ALERT_CHANGES", Change.LOST))
        # an unknown kind (a typo like "lsot") would otherwise silence alerts without a word
        if not changes or changes - CHANGES:
            raise ConfigError(
                f"LINKROT_ALERT_CHANGES: expected a comma list of {', '.join(sorted(CHANGES))}, "
                f"got {get('LINKROT_ALERT_CHANGES', '')!r}"
            )
        webhook = text("LINKROT_ALERT_WEBHOOK")
        parts = urlsplit(webhook)
        if webhook and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ConfigError(f"LINKROT_ALERT_WEBHOOK: expected an http(s) URL, got {webhook!r}")
        smtp = text("LINKROT_ALERT_SMTP")
        if smtp:
            _host_port(smtp)  # validate now rather than fail at the end of a long run
        email_to = tuple(items("LINKROT_ALERT_EMAIL_TO", ""))
        if smtp and not email_to:
            raise ConfigError("LINKROT_ALERT_EMAIL_TO: required when LINKROT_ALERT_SMTP is set")
        for address in email_to:
            if "@" not in address:
                raise ConfigError(f"LINKROT_ALERT_EMAIL_TO: {address!r} is not an e-mail address")
        timeout = as_float("LINKROT_ALERT_TIMEOUT", get("LINKROT_ALERT_TIMEOUT", 10.0))
        if timeout <= 0:  # a socket timeout of 0 means non-blocking: every channel would fail
            raise ConfigError(f"LINKROT_ALERT_TIMEOUT: must be more than 0, got {timeout}")
        return cls(
            min_authority=as_float("LINKROT_ALERT_MIN_AUTHORITY", get("LINKROT_ALERT_MIN_AUTHORITY", 50)),
            changes=changes,
            stdout=as_bool("LINKROT_ALERT_STDOUT", get("LINKROT_ALERT_STDOUT", True)),
            webhook=webhook,
            smtp=smtp,
            email_from=text("LINKROT_ALERT_EMAIL_FROM", "linkrot@localhost") or "linkrot@localhost",
            email_to=email_to,
            smtp_user=text("LINKROT_ALERT_SMTP_USER"),
            smtp_password=str(get("LINKROT_ALERT_SMTP_PASSWORD", "")),
            smtp_starttls=as_bool("LINKROT_ALERT_SMTP_STARTTLS", get("LINKROT_ALERT_SMTP_STARTTLS", False)),
            timeout=timeout,
        )


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")  # "[::1]:25"
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"LINKROT_ALERT_SMTP: expected host:port, got {value!r}")
    return host, int(port)


def select(alerts: Iterable[Alert], config: AlertConfig) -> list[Alert]:
    """The alerts worth a message, highest authority first (unknown authority last)."""
    chosen = [
        a
        for a in alerts
        if a.change in config.changes
        and (config.min_authority <= 0 if a.authority is None else a.authority >= config.min_authority)
    ]
    # sorted() is stable: equal authorities keep the caller's order
    return sorted(chosen, key=lambda a: (a.authority is None, -(a.authority or 0.0)))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _title(n: int, site: str | None) -> str:
    return f"linkrot: {_plural(n, 'backlink change')} worth acting on" + (f" on {site}" if site else "")


def _shorten(html: str, limit: int = EVIDENCE_CHARS) -> str:
    flat = " ".join(html.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def render_text(alerts: list[Alert], site: str | None) -> str:
    """The message, plain text: one block per alert, what changed, why, and what to do."""
    lines = [_title(len(alerts), site)]
    for i, a in enumerate(alerts, 1):
        metric = a.authority_metric or "authority"
        authority = "authority unknown" if a.authority is None else f"{metric} {a.authority:g}"
        action = ACTIONS.get(a.triage, "look at it by hand") if a.triage else "look at it by hand"
        lines += [
            "",
            f"{i}. {a.change.upper()} ({a.status}), {authority}, {a.source_domain}, detected {a.detected_at}",
            f"   {a.source_url} → {a.target_url}",
            f"   Why: {a.reason}",
        ]
        if a.mentions_site:
            lines.append("   The page still mentions your site: the easiest link to reclaim")
        if a.evidence:
            lines.append(f"   Evidence: {_shorten(a.evidence)}")
        lines.append(f"   Action: {action}")
    return "\n".join(lines) + "\n"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without the body and calls it a success;
    # a webhook that moved must show up as a failure instead
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _slack_escape(text: str) -> str:
    # Slack reads <...> as links and mentions; the HTML evidence must be escaped to show as written
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _write(out: TextIO, alerts: list[Alert], text: str) -> str:
    out.write(text)
    out.flush()
    return _plural(len(alerts), "alert")


def _post_webhook(alerts: list[Alert], config: AlertConfig, text: str) -> str:
    body = json.dumps({"text": _slack_escape(text), "alerts": [asdict(a) for a in alerts]}).encode()
    request = urllib.request.Request(
        config.webhook,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    with urllib.request.build_opener(_NoRedirect).open(request, timeout=config.timeout) as response:
        if not 200 <= response.status < 300:
            raise HTTPError(config.webhook, response.status, response.reason, response.headers, None)
    return f"{_plural(len(alerts), 'alert')} posted"


def _send_email(alerts: list[Alert], config: AlertConfig, text: str, site: str | None) -> str:
    message = EmailMessage()
    message["Subject"] = _title(len(alerts), site)
    message["From"] = config.email_from
    message["To"] = ", ".join(config.email_to)
    message.set_content(text)
    host, port = _host_port(config.smtp)
    with smtplib.SMTP(host, port, timeout=config.timeout) as smtp:
        if config.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password)
        smtp.send_message(message, config.email_from, list(config.email_to))
    return f"{_plural(len(alerts), 'alert')} to {_plural(len(config.email_to), 'recipient')}"


def _describe(error: BaseException) -> str:
    if isinstance(error, HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, URLError):  # wraps the socket error: connection refused, DNS, timeout
        return _describe(error.reason) if isinstance(error.reason, BaseException) else str(error.reason)
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def send(
    alerts: list[Alert], config: AlertConfig, site: str | None = None, *, stdout: TextIO | None = None
) -> list[ChannelResult]:
    """Select, render and deliver; one result per channel switched on, never an exception."""
    chosen = select(alerts, config)
    if not chosen:
        return []
    text = render_text(chosen, site)
    # name, where (for the log, never a secret), deliver
    channels: list[tuple[str, str, Callable[[], str]]] = []
    if config.stdout:
        out = stdout if stdout is not None else sys.stdout
        channels.append(("stdout", "stdout", lambda: _write(out, chosen, text)))
    if config.webhook:
        # a Slack webhook URL is a credential: log its host only
        host = urlsplit(config.webhook).hostname or "?"
        channels.append(("webhook", host, lambda: _post_webhook(chosen, config, text)))
    if config.smtp:
        channels.append(("email", config.smtp, lambda: _send_email(chosen, config, text, site)))
    results = []
    for name, where, deliver in channels:
        try:
            detail = deliver()
        except Exception as error:  # noqa: BLE001 - any failure of one channel (even a bug) is reported
            detail = _describe(error)
            logger.error("alerts: %s channel (%s) failed: %s", name, where, detail)
            results.append(ChannelResult(name, False, detail))
        else:
            logger.info("alerts: %s channel (%s): %s", name, where, detail)
            results.append(ChannelResult(name, True, detail))
    return results
