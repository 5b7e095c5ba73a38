"""The e-mail channel against a real SMTP server (aiosmtpd on loopback, STARTTLS and AUTH): MIME parts,
escaping, grouping, subject, failures retried or permanent, and the password in no log or error."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
from email.message import EmailMessage
from pathlib import Path

import pytest
from alerting_support import DAY, T0, make_rule, window_sample
from alertmanager_server import free_port
from smtp_server import PASSWORD, TEMPFAIL_RECIPIENT, USERNAME, SmtpServer

from driftwatch.alerting.channels import build_channels
from driftwatch.alerting.channels.email import EmailChannel
from driftwatch.alerting.delivery import RetryPolicy
from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.secret import Secret
from driftwatch.config.channels import parse_channel_config
from driftwatch.config.issues import RuleError
from driftwatch.pipeline.alerts import deliver_pending, evaluate_and_enqueue
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database

SCRIPT = "<script>alert(1)</script>"


def _group(features: int = 3) -> AlertGroup:
    rule = make_rule(
        channels=("mail",),
        labels={"severity": "critical", "team": "<b>risk</b>"},
        annotations={"summary": "PSI high on {{ monitor }} & friends"},
    )
    names = [SCRIPT] + [f"f{i:02d}" for i in range(features - 1)]
    # The script-named feature is the worst, so it is listed first.
    samples = [
        window_sample(0, 0.9 if i == 0 else 0.3 + i / 100, feature=name) for i, name in enumerate(names)
    ]
    (group,) = group_notifications(evaluate([rule], samples, {}, [], T0 + DAY).notifications)
    return group


def _config(server: SmtpServer, **extra: object) -> dict[str, object]:
    return {
        "type": "email",
        "host": server.host,
        "port": server.port,
        "from": "driftwatch@example.org",
        "to": ["ml-oncall@example.org", "risk@example.org"],
        "username_env": "SMTP_USER",
        "password_env": "SMTP_PASSWORD",
        "ca_file": str(server.ca_file),
        **extra,
    }


ENV = {"SMTP_USER": USERNAME, "SMTP_PASSWORD": PASSWORD}


def _channel(server: SmtpServer, **extra: object) -> EmailChannel:
    channel = build_channels({"mail": parse_channel_config("mail", _config(server, **extra))}, ENV)["mail"]
    assert isinstance(channel, EmailChannel)
    return channel


def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def _secret_forms() -> list[str]:
    plain = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
    return [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), plain]


def test_grouped_message_with_text_and_escaped_html_parts(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    group = _group(features=35)
    before = len(smtp_server.handler.messages)
    result = _channel(smtp_server).send(group, group.dedupe_key)
    assert result.ok, result.error
    received = smtp_server.handler.messages[before]
    assert received.authenticated_as == USERNAME
    assert received.mail_from == "driftwatch@example.org"
    assert received.rcpt_tos == ["ml-oncall@example.org", "risk@example.org"]
    message = _parse(received.data)
    assert message["Subject"] == "[FIRING] FeaturePSIHigh · credit-default (35 alerts)"
    assert message["Message-ID"] == f"<{group.dedupe_key}@example.org>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # One message for the rule and model, worst first, 30 listed and the rest counted.
    assert text.count("\n- ") == 30
    assert "+5 more" in text and "+5 more" in page
    assert page.count("<li>") == 30
    assert "PSI high on credit-default & friends" in text
    assert f"- {SCRIPT} — psi 0.9 > 0.25" in text  # plain text is plain
    # Every user string is escaped in HTML: the feature, the label value, the annotation.
    assert "<script>" not in page and "<b>risk</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;risk&lt;/b&gt;" in page
    assert "credit-default &amp; friends" in page
    assert 'href="https://' not in page  # relative report link and no base URL: no link
    for form in _secret_forms():
        assert form not in caplog.text


def test_report_link_and_resolved_subject(smtp_server: SmtpServer) -> None:
    rule = make_rule(channels=("mail",), recover=0.1)
    first = evaluate([rule], [window_sample(0, 0.4)], {}, [], T0 + DAY)
    (resolved,) = group_notifications(
        evaluate([rule], [window_sample(1, 0.05)], first.new_state, [], T0 + 2 * DAY).notifications
    )
    config = parse_channel_config("mail", _config(smtp_server))
    channel = build_channels({"mail": config}, ENV, report_base_url="https://dw.example.com/")["mail"]
    before = len(smtp_server.handler.messages)
    assert channel.send(resolved, resolved.dedupe_key).ok
    message = _parse(smtp_server.handler.messages[before].data)
    assert message["Subject"] == "[RESOLVED] FeaturePSIHigh · credit-default"
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<a href="https://dw.example.com/reports/credit-default/2026-03-03.html">Open report</a>' in page
    assert "recovered (alert was &gt; 0.25, recovery level 0.1)" in page


def test_wrong_password_is_permanent_and_never_quoted(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-pa55word-123"
    config = parse_channel_config("mail", _config(smtp_server))
    channel = build_channels({"mail": config}, {**ENV, "SMTP_PASSWORD": wrong})["mail"]
    group = _group()
    result = channel.send(group, group.dedupe_key)
    assert not result.ok and RetryPolicy.verdict(result) == "permanent"
    assert "SMTP 535" in (result.error or "")
    assert wrong not in (result.error or "") and wrong not in caplog.text and wrong not in repr(channel)


def test_transient_reply_and_refused_connection_are_retried(smtp_server: SmtpServer) -> None:
    group = _group()
    busy = _channel(smtp_server, to=[TEMPFAIL_RECIPIENT])
    result = busy.send(group, group.dedupe_key)
    assert not result.ok and RetryPolicy.verdict(result) == "retry" and "SMTP 451" in (result.error or "")
    down = EmailChannel(
        "mail", host="127.0.0.1", port=free_port(), sender="a@example.org", recipients=["b@example.org"],
        username=Secret(USERNAME), password=Secret(PASSWORD), timeout_seconds=5,
    )  # fmt: skip
    result = down.send(group, group.dedupe_key)
    assert not result.ok and RetryPolicy.verdict(result) == "retry"
    assert result.status_code is None and PASSWORD not in (result.error or "")


def test_untrusted_certificate_fails_before_any_password_is_sent(smtp_server: SmtpServer) -> None:
    channel = _channel(smtp_server)
    channel._ca_file = None  # the system CAs do not know the test certificate
    group = _group()
    before = len(smtp_server.handler.messages)
    result = channel.send(group, group.dedupe_key)
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert len(smtp_server.handler.messages) == before


def test_delivered_through_the_outbox(smtp_server: SmtpServer, tmp_path: Path) -> None:
    rule = make_rule(channels=("mail",), annotations={"summary": "drift"})
    samples = [window_sample(0, 0.5, feature=f"feature_{i}") for i in range(4)]
    with Database(tmp_path / "mail.duckdb") as db:
        assert evaluate_and_enqueue(db, [rule], "credit-default", samples, T0 + DAY) == (1, 0)
        before = len(smtp_server.handler.messages)
        report = deliver_pending(db, {"mail": _channel(smtp_server)}, T0 + DAY)
        assert report.delivered == 1
        (row,) = store.messages(db.cursor())
        assert row.status == "delivered"
    (received,) = smtp_server.handler.messages[before:]
    text = _parse(received.data).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert all(f"feature_{i}" in text for i in range(4))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"to": "not-an-address"}, "not an address"),
        ({"from": "x"}, "`from` of channel `mail` is not an address"),
        ({"username_env": None}, "needs both"),
        ({"starttls": False}, "without TLS"),
        ({"host": None}, "has no `host`"),
    ],
)
def test_bad_email_config_is_named(smtp_server: SmtpServer, change: dict[str, object], problem: str) -> None:
    raw = {k: v for k, v in {**_config(smtp_server), **change}.items() if v is not None}
    with pytest.raises(RuleError) as error:
        parse_channel_config("mail", raw, "driftwatch.yml")
    assert problem in str(error.value) and "driftwatch.yml" in str(error.value)


def test_missing_password_variable_is_named_not_valued(smtp_server: SmtpServer) -> None:
    config = parse_channel_config("mail", _config(smtp_server))
    with pytest.raises(ChannelConfigError, match="SMTP_PASSWORD"):
        build_channels({"mail": config}, {"SMTP_USER": USERNAME})
