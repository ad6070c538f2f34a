"""Alerts: pure selection and rendering, then delivery to real receivers on 127.0.0.1."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from linkrot.alerts import ACTIONS, Alert, AlertConfig, ChannelResult, render_text, select, send
from linkrot.errors import ConfigError

EVIDENCE = '<p>Read <a href="https://www.example.com/guide">the guide</a> &amp; more.</p>'


def make_alert(**changes: Any) -> Alert:
    alert = Alert(
        change="lost",
        source_url="https://blog.example.org/post",
        target_url="https://www.example.com/guide",
        status="link_removed",
        reason="no link to https://www.example.com/guide or its site on the page",
        evidence=EVIDENCE,
        triage="reclaim",
        authority=72.0,
        authority_metric="Domain rating",
        source_domain="example.org",
        detected_at="2025-03-01T10:00:00",
    )
    return replace(alert, **changes)


def make_config(**changes: Any) -> AlertConfig:
    config = AlertConfig(
        min_authority=50,
        changes=frozenset({"lost"}),
        stdout=False,
        webhook="",
        smtp="",
        email_from="linkrot@localhost",
        email_to=(),
        timeout=5.0,
    )
    return replace(config, **changes)


# -- select ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("authority", "min_authority", "kept"),
    [
        (49.0, 50, False),
        (50.0, 50, True),  # the threshold itself is worth an alert: "DR 50 and up"
        (None, 50, False),  # unknown authority is not high authority
        (None, 0, True),  # ...but with no threshold every change counts
        (0.0, 0, True),
    ],
)
def test_select_threshold(authority: float | None, min_authority: float, kept: bool) -> None:
    alert = make_alert(authority=authority)
    assert select([alert], make_config(min_authority=min_authority)) == ([alert] if kept else [])


def test_select_change_kinds() -> None:
    alerts = [make_alert(change=c) for c in ("lost", "new", "nofollow", "recovered", "followed")]
    assert [a.change for a in select(alerts, make_config())] == ["lost"]
    config = make_config(changes=frozenset({"lost", "nofollow"}))
    assert [a.change for a in select(alerts, config)] == ["lost", "nofollow"]


def test_select_orders_by_authority_unknown_last_stable() -> None:
    alerts = [
        make_alert(source_url="https://a/", authority=None),
        make_alert(source_url="https://b/", authority=60),
        make_alert(source_url="https://c/", authority=90),
        make_alert(source_url="https://d/", authority=60),
    ]
    chosen = select(alerts, make_config(min_authority=0))
    assert [a.source_url for a in chosen] == ["https://c/", "https://b/", "https://d/", "https://a/"]


# -- render_text -------------------------------------------------------------


def test_render_text_explains_each_alert() -> None:
    text = render_text(
        [make_alert(), make_alert(status="not_found", triage="rebuild", evidence=None)], "example.com"
    )
    assert text.splitlines()[0] == "linkrot: 2 backlink changes worth acting on on example.com"
    assert "LOST (link_removed), Domain rating 72" in text
    assert "https://blog.example.org/post → https://www.example.com/guide" in text
    assert "Why: no link to https://www.example.com/guide or its site on the page" in text
    assert f"Evidence: {EVIDENCE}" in text
    assert f"Action: {ACTIONS['reclaim']}" in text
    assert f"Action: {ACTIONS['rebuild']}" in text
    assert text.count("Evidence:") == 1  # no evidence line for the alert without one
    assert "still mentions your site" not in text


def test_render_text_mentions_site_unknown_authority_and_long_evidence() -> None:
    evidence = "<p>" + "word " * 200 + "</p>"
    alert = make_alert(
        mentions_site=True, authority=None, authority_metric=None, triage=None, evidence=evidence
    )
    text = render_text([alert], None)
    assert text.splitlines()[0] == "linkrot: 1 backlink change worth acting on"
    assert "still mentions your site" in text
    assert "authority unknown" in text
    assert "Action: look at it by hand" in text
    evidence_line = next(line for line in text.splitlines() if "Evidence:" in line)
    assert len(evidence_line) < 270 and evidence_line.endswith("…")


# -- from_settings -------------------------------------------------------------


def test_from_settings_defaults() -> None:
    config = AlertConfig.from_settings({})
    assert config == AlertConfig(
        min_authority=50.0,
        changes=frozenset({"lost"}),
        stdout=True,
        webhook="",
        smtp="",
        email_from="linkrot@localhost",
        email_to=(),
        timeout=10.0,
    )


def test_from_settings_reads_scrapy_settings_and_comma_lists() -> None:
    from scrapy.settings import Settings

    config = AlertConfig.from_settings(
        Settings(
            {
                "LINKROT_ALERT_MIN_AUTHORITY": "30",
                "LINKROT_ALERT_CHANGES": "lost, Nofollow,,new,followed",
                "LINKROT_ALERT_STDOUT": "no",
                "LINKROT_ALERT_WEBHOOK": "https://hooks.example.com/x",
                "LINKROT_ALERT_SMTP": "mail.example.com:587",
                "LINKROT_ALERT_EMAIL_TO": "seo@example.com, ops@example.com",
                "LINKROT_ALERT_SMTP_STARTTLS": "true",
                "LINKROT_ALERT_TIMEOUT": "2.5",
            }
        )
    )
    assert config.min_authority == 30.0
    assert config.changes == frozenset({"lost", "nofollow", "new", "followed"})
    assert config.stdout is False
    assert config.email_to == ("seo@example.com", "ops@example.com")
    assert config.smtp_starttls is True
    assert config.timeout == 2.5


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"LINKROT_ALERT_MIN_AUTHORITY": "high"}, "LINKROT_ALERT_MIN_AUTHORITY"),
        ({"LINKROT_ALERT_MIN_AUTHORITY": "-1"}, "LINKROT_ALERT_MIN_AUTHORITY"),
        ({"LINKROT_ALERT_CHANGES": "lost,lsot"}, "LINKROT_ALERT_CHANGES"),
        ({"LINKROT_ALERT_CHANGES": " , "}, "LINKROT_ALERT_CHANGES"),
        ({"LINKROT_ALERT_STDOUT": "maybe"}, "LINKROT_ALERT_STDOUT"),
        ({"LINKROT_ALERT_WEBHOOK": "hooks.example.com/x"}, "LINKROT_ALERT_WEBHOOK"),
        ({"LINKROT_ALERT_SMTP": "mail.example.com", "LINKROT_ALERT_EMAIL_TO": "a@b.c"}, "LINKROT_ALERT_SMTP"),
        ({"LINKROT_ALERT_SMTP": "mail:99999", "LINKROT_ALERT_EMAIL_TO": "a@b.c"}, "LINKROT_ALERT_SMTP"),
        ({"LINKROT_ALERT_SMTP": "mail:25"}, "LINKROT_ALERT_EMAIL_TO"),
        ({"LINKROT_ALERT_SMTP": "mail:25", "LINKROT_ALERT_EMAIL_TO": "seo"}, "LINKROT_ALERT_EMAIL_TO"),
        ({"LINKROT_ALERT_TIMEOUT": "0"}, "LINKROT_ALERT_TIMEOUT"),
        ({"LINKROT_ALERT_SMTP_STARTTLS": "2"}, "LINKROT_ALERT_SMTP_STARTTLS"),
    ],
)
def test_from_settings_bad_values_name_the_setting(settings: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        AlertConfig.from_settings(settings)


# -- receivers ---------------------------------------------------------------


class Hook(ThreadingHTTPServer):
    daemon_threads = True
    answer = 200
    delay = 0.0
    requests: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/SECRET"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the timeout test hangs up before the slow answer: a broken pipe is expected


class HookHandler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        time.sleep(self.server.delay)
        self.send_response(self.server.answer)
        if self.server.answer == 302:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self) -> None:
        self.server.requests.append({"path": self.path, "method": "GET"})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[Any]:
    servers: list[Hook] = []

    def start(answer: int = 200, delay: float = 0.0) -> Hook:
        server = Hook(("127.0.0.1", 0), HookHandler)
        server.answer, server.delay, server.requests = answer, delay, []
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    # aiosmtpd's Controller connects to its own port once started, so it cannot be given port 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, Controller, list[bytes]]]:
    inbox, logins = Inbox(), []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        logins.append(auth_data.login)
        # handled=False: aiosmtpd then answers 535 itself (handled=True would leave the client hanging)
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    # a local test server has no certificate: allow AUTH in clear text here only
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield inbox, controller, logins
    controller.stop()


# -- send --------------------------------------------------------------------


def test_send_nothing_selected_sends_nothing(hook: Any) -> None:
    server = hook()
    out = io.StringIO()
    config = make_config(stdout=True, webhook=server.url)
    assert send([make_alert(authority=10)], config, stdout=out) == []
    assert out.getvalue() == "" and server.requests == []


def test_send_stdout() -> None:
    out = io.StringIO()
    results = send(
        [make_alert(), make_alert(authority=10)], make_config(stdout=True), "example.com", stdout=out
    )
    assert results == [ChannelResult("stdout", True, "1 alert")]
    assert out.getvalue() == render_text([make_alert()], "example.com")


def test_send_webhook_posts_text_and_fields(hook: Any) -> None:
    server = hook()
    alerts = [make_alert(authority=60), make_alert(source_url="https://news.example.net/a", authority=80)]
    results = send(alerts, make_config(webhook=server.url), "example.com")
    assert results == [ChannelResult("webhook", True, "2 alerts posted")]
    (request,) = server.requests
    assert request["headers"]["Content-Type"] == "application/json"
    assert "linkrot" in request["headers"]["User-Agent"]
    body = json.loads(request["body"])
    text = body["text"]
    assert "https://blog.example.org/post → https://www.example.com/guide" in text
    assert "link_removed" in text
    assert ACTIONS["reclaim"] in text
    # Slack reads <...> as markup: the evidence arrives escaped in the text...
    assert '&lt;a href="https://www.example.com/guide"&gt;the guide&lt;/a&gt; &amp;amp; more' in text
    # ...and as written in the fields, highest authority first
    assert body["alerts"] == [asdict(alerts[1]), asdict(alerts[0])]
    assert body["alerts"][1]["evidence"] == EVIDENCE


def test_send_email(smtp_server: Any) -> None:
    inbox, controller, _ = smtp_server
    config = make_config(
        smtp=f"127.0.0.1:{controller.port}", email_from="alerts@example.com", email_to=("seo@example.com",)
    )
    results = send([make_alert(), make_alert(mentions_site=True)], config, "example.com")
    assert results == [ChannelResult("email", True, "2 alerts to 1 recipient")]
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["seo@example.com"]
    from email import message_from_bytes, policy

    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "linkrot: 2 backlink changes worth acting on on example.com"
    assert message["From"] == "alerts@example.com" and message["To"] == "seo@example.com"
    body = message.get_content()
    assert "LOST (link_removed)" in body and EVIDENCE in body and "still mentions your site" in body


def test_send_email_login_and_several_recipients(smtp_server: Any) -> None:
    inbox, controller, logins = smtp_server
    config = make_config(
        smtp=f"127.0.0.1:{controller.port}",
        email_to=("seo@example.com", "ops@example.com"),
        smtp_user="linkrot",
        smtp_password="s3cret",
    )
    assert send([make_alert()], config) == [ChannelResult("email", True, "1 alert to 2 recipients")]
    assert logins == [b"linkrot"]
    assert inbox.envelopes[0].rcpt_tos == ["seo@example.com", "ops@example.com"]
    bad = replace(config, smtp_password="wrong")
    (result,) = send([make_alert()], bad)
    assert not result.ok and "SMTPAuthenticationError" in result.detail


def test_send_email_starttls_not_offered_fails_cleanly(smtp_server: Any) -> None:
    inbox, controller, _ = smtp_server
    config = make_config(smtp=f"127.0.0.1:{controller.port}", email_to=("a@example.com",), smtp_starttls=True)
    (result,) = send([make_alert()], config)
    assert result.channel == "email" and not result.ok and "STARTTLS" in result.detail
    assert inbox.envelopes == []  # never in clear text when TLS was asked for


def test_failing_channels_are_logged_and_others_still_deliver(
    hook: Any, smtp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    failing, working = hook(answer=500), hook()
    inbox, controller, _ = smtp_server
    out = io.StringIO()
    config = make_config(
        stdout=True, webhook=failing.url, smtp=f"127.0.0.1:{controller.port}", email_to=("seo@example.com",)
    )
    with caplog.at_level(logging.INFO, logger="linkrot.alerts"):
        results = send([make_alert()], config, stdout=out)
    assert [(r.channel, r.ok) for r in results] == [("stdout", True), ("webhook", False), ("email", True)]
    assert results[1].detail.startswith("HTTP 500")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "webhook" in errors[0].getMessage() and "HTTP 500" in errors[0].getMessage()
    assert "SECRET" not in caplog.text  # a webhook URL is a credential
    assert len(inbox.envelopes) == 1 and "LOST" in out.getvalue()
    assert len(failing.requests) == 1
    results = send([make_alert()], replace(config, webhook=working.url), stdout=out)
    assert all(r.ok for r in results) and len(working.requests) == 1


def test_closed_ports_fail_without_exception(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there any more
    config = make_config(
        webhook=f"http://127.0.0.1:{port}/hook", smtp=f"127.0.0.1:{port}", email_to=("seo@example.com",)
    )
    with caplog.at_level(logging.ERROR, logger="linkrot.alerts"):
        results = send([make_alert()], config)
    assert [(r.channel, r.ok) for r in results] == [("webhook", False), ("email", False)]
    assert all("refused" in r.detail.lower() for r in results), results
    assert len(caplog.records) == 2


def test_webhook_redirect_and_timeout_are_failures(hook: Any) -> None:
    # urllib would follow a 302 with a GET and no body, and call the delivery a success
    moved = hook(answer=302)
    (result,) = send([make_alert()], make_config(webhook=moved.url))
    assert not result.ok and result.detail.startswith("HTTP 302")
    assert all("method" not in r for r in moved.requests)
    slow = hook(delay=1.0)
    started = time.monotonic()
    (result,) = send([make_alert()], make_config(webhook=slow.url, timeout=0.2))
    assert not result.ok and "timed out" in result.detail
    assert time.monotonic() - started < 0.9
