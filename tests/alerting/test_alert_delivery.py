"""At-least-once delivery against a real loopback HTTP server; time is driven by hand (no real sleeping)."""

from __future__ import annotations

import json
import logging
import random
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from alerting_duckdb_support import InspectedDuckDBOutbox
from alerting_support import DAY, T0, FakeClock, LoopbackServer, make_rule, window_sample
from hypothesis import given
from hypothesis import strategies as st
from memory_outbox import InMemoryOutbox

from driftwatch.alerting.channels import build_channels
from driftwatch.alerting.channels.base import Channel, SendResult
from driftwatch.alerting.channels.logfile import LogFileChannel
from driftwatch.alerting.channels.slack import SlackChannel
from driftwatch.alerting.channels.webhook import WebhookChannel
from driftwatch.alerting.delivery import META_RULE, AttemptOutcome, RetryPolicy, Sender, retry_after_seconds
from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.secret import Secret
from driftwatch.config.channels import ChannelConfig

Outboxes = (
    InMemoryOutbox | InspectedDuckDBOutbox
)  # the `outbox` fixture (conftest.py): each test runs on both

SECRET_PATH = "/services/T0001/B0001/TOPSECRETTOKEN"


def messages(*channels: str, feature: str = "age") -> list[AlertGroup]:
    rule = make_rule(channels=channels)
    result = evaluate([rule], [window_sample(0, 0.4, feature=feature)], {}, [], T0 + DAY)
    return group_notifications(result.notifications)


@pytest.fixture
def channels_to_close() -> Iterator[list[Channel]]:
    opened: list[Channel] = []
    yield opened
    for channel in opened:
        channel.close()


def slack(server: LoopbackServer, opened: list[Channel], name: str = "slack-ml") -> SlackChannel:
    channel = SlackChannel(name, Secret(server.url + SECRET_PATH))
    opened.append(channel)
    return channel


def webhook(server: LoopbackServer, opened: list[Channel], name: str = "hook") -> WebhookChannel:
    channel = WebhookChannel(name, Secret(server.url + "/hooks/HOOKSECRET"), timeout_seconds=2.0)
    opened.append(channel)
    return channel


def test_429_with_retry_after_is_honoured(
    loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    loopback.reply(429, {"Retry-After": "30"}, "rate_limited")
    outbox.enqueue(messages("slack-ml"), clock())
    sender = Sender(outbox, {"slack-ml": slack(loopback, channels_to_close)}, clock, clock.sleep)

    assert sender.deliver_due().retried == 1
    (first,) = outbox.attempts
    assert first.outcome is AttemptOutcome.RETRY and first.status_code == 429
    assert first.next_attempt_at is not None and first.next_attempt_at >= T0 + timedelta(seconds=30)

    clock.advance(29)
    assert sender.deliver_due().delivered == 0
    assert len(loopback.requests) == 1  # not retried before Retry-After

    clock.advance(1)
    assert sender.deliver_due().delivered == 1
    assert len(loopback.requests) == 2
    assert outbox.rows()[0].status == "delivered"
    assert loopback.requests[0].body == loopback.requests[1].body


def test_500_then_200_delivers_exactly_once(
    loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    loopback.reply(500, body="rollup_error")
    outbox.enqueue(messages("slack-ml"), clock())
    policy = RetryPolicy(base_seconds=5, cap_seconds=60)
    sender = Sender(
        outbox, {"slack-ml": slack(loopback, channels_to_close)}, clock, clock.sleep, policy, random.Random(7)
    )

    sender.deliver_due()
    retry = outbox.attempts[0]
    assert (
        retry.outcome is AttemptOutcome.RETRY
        and retry.status_code == 500
        and "rollup_error" in (retry.error or "")
    )
    assert retry.next_attempt_at is not None
    wait = (retry.next_attempt_at - clock()).total_seconds()
    assert policy.min_seconds <= wait <= policy.base_seconds

    for _ in range(5):  # later passes: exactly one more request, then nothing
        clock.advance(60)
        sender.deliver_due()
    assert [r.status for r in outbox.rows()] == ["delivered"]
    assert [a.outcome for a in outbox.attempts] == [AttemptOutcome.RETRY, AttemptOutcome.DELIVERED]
    assert len(loopback.requests) == 2


def test_404_is_permanent_and_raises_a_meta_alert_on_the_other_channel(
    loopback: LoopbackServer,
    second_loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    loopback.reply(404, body="channel_not_found")
    loopback.reply(404, body="channel_not_found")
    outbox.enqueue(messages("slack-ml") + messages("slack-ml", feature="income"), clock())
    channels: dict[str, Channel] = {
        "slack-ml": slack(loopback, channels_to_close),
        "hook": webhook(second_loopback, channels_to_close),
    }
    sender = Sender(outbox, channels, clock, clock.sleep)

    first = sender.deliver_due()
    assert (first.failed, first.retried, first.meta_alerts) == (2, 0, 1)  # one meta-alert, not one per row
    assert outbox.unhealthy["slack-ml"].startswith("HTTP 404: channel_not_found")
    assert [a.outcome for a in outbox.attempts] == [AttemptOutcome.FAILED, AttemptOutcome.FAILED]

    clock.advance(3600)
    second = sender.deliver_due()
    assert second.delivered == 1
    assert len(loopback.requests) == 2  # nothing retried on the broken channel
    (meta,) = second_loopback.requests
    body = meta.json()
    assert body["alerts"][0]["labels"] == {
        "alertname": META_RULE,
        "monitor": "driftwatch",
        "channel": "slack-ml",
        "severity": "critical",
    }
    assert "channel_not_found" in body["alerts"][0]["annotations"]["summary"]
    assert "TOPSECRETTOKEN" not in meta.body.decode()


def test_a_failing_meta_alert_does_not_ping_pong(
    loopback: LoopbackServer,
    second_loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    loopback.reply(410, body="channel_is_archived")
    second_loopback.reply(403, body="forbidden")
    outbox.enqueue(messages("slack-ml"), clock())
    channels: dict[str, Channel] = {
        "slack-ml": slack(loopback, channels_to_close),
        "hook": webhook(second_loopback, channels_to_close),
    }
    sender = Sender(outbox, channels, clock, clock.sleep)
    for _ in range(4):
        sender.deliver_due()
        clock.advance(60)
    assert set(outbox.unhealthy) == {"slack-ml", "hook"}
    assert len(outbox.rows()) == 2 and len(loopback.requests) == 1 and len(second_loopback.requests) == 1


def test_connection_errors_back_off_and_give_up_after_max_attempts(
    clock: FakeClock,
    tmp_path: Path,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = SlackChannel("slack-ml", Secret(f"http://127.0.0.1:{port}{SECRET_PATH}"), timeout_seconds=2)
    channels_to_close.append(dead)
    log = LogFileChannel("log", tmp_path / "alerts.log")
    outbox.enqueue(messages("slack-ml"), clock())
    policy = RetryPolicy(base_seconds=10, cap_seconds=40, max_attempts=4)
    sender = Sender(outbox, {"slack-ml": dead, "log": log}, clock, clock.sleep, policy, random.Random(1))
    for _ in range(10):
        sender.deliver_due()
        clock.advance(3600)
    attempts = outbox.attempts_for(1)
    assert [a.outcome for a in attempts] == [AttemptOutcome.RETRY] * 3 + [AttemptOutcome.FAILED]
    assert all(a.status_code is None for a in attempts)
    for n, attempt in enumerate(attempts[:3], start=1):
        assert attempt.next_attempt_at is not None
        delay = (attempt.next_attempt_at - attempt.attempted_at).total_seconds()
        assert policy.min_seconds <= delay <= min(policy.cap_seconds, policy.base_seconds * 2 ** (n - 1))
    assert outbox.rows()[0].status == "failed" and "gave up after 4 attempts" in (
        outbox.rows()[0].reason or ""
    )
    lines = [json.loads(line) for line in (tmp_path / "alerts.log").read_text().splitlines()]
    assert [line["alertname"] for line in lines] == [META_RULE]
    for attempt in attempts:
        assert "TOPSECRETTOKEN" not in (attempt.error or "")


def test_a_failing_delivery_never_records_or_logs_the_url(
    loopback: LoopbackServer,
    second_loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    caplog: pytest.LogCaptureFixture,
    outbox: Outboxes,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Hostile receivers echo the URL they were called with in their error bodies.
    loopback.reply(500, body=f"upstream failed for {loopback.url + SECRET_PATH}")
    loopback.reply(503, body=f"path {SECRET_PATH} unavailable")
    hook = webhook(second_loopback, channels_to_close)
    second_loopback.reply(502, body="bad gateway at /hooks/HOOKSECRET")
    second_loopback.reply(500, body=f"{second_loopback.url}/hooks/HOOKSECRET?x=1 failed")
    broken = SlackChannel("broken", Secret("ftp://files.example.com/ANOTHERSECRET"))
    channels_to_close.append(broken)
    outbox.enqueue(messages("slack-ml") + messages("hook") + messages("broken"), clock())
    channels: dict[str, Channel] = {
        "slack-ml": slack(loopback, channels_to_close),
        "hook": hook,
        "broken": broken,
    }
    sender = Sender(outbox, channels, clock, clock.sleep)
    for _ in range(3):
        sender.deliver_due()
        clock.advance(3600)
    recorded = " ".join(f"{a.error} {a.status_code}" for a in outbox.attempts)
    recorded += " ".join(str(r) for r in outbox.rows()) + " ".join(outbox.unhealthy.values())
    everything = recorded + caplog.text + repr(channels)
    assert "upstream failed for <redacted>" in recorded
    for secret in ("TOPSECRETTOKEN", "HOOKSECRET", "ANOTHERSECRET", "B0001"):
        assert secret not in everything
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request, with the URL redacted


def test_slack_messages_are_paced_with_the_injected_sleep(
    loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    outbox.enqueue(messages("slack-ml") + messages("slack-ml", feature="income"), clock())
    sender = Sender(outbox, {"slack-ml": slack(loopback, channels_to_close)}, clock, clock.sleep)
    assert sender.deliver_due().delivered == 2
    assert clock.sleeps == [1.0]
    assert len(loopback.requests) == 2


def test_a_channel_is_healthy_again_after_a_success(
    loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    loopback.reply(404, body="no_service")
    outbox.enqueue(messages("slack-ml"), clock())
    sender = Sender(outbox, {"slack-ml": slack(loopback, channels_to_close)}, clock, clock.sleep)
    sender.deliver_due()
    assert "slack-ml" in outbox.unhealthy
    clock.advance(10)
    outbox.enqueue(messages("slack-ml", feature="income"), clock())
    sender.deliver_due()
    assert outbox.unhealthy == {}


def test_a_row_for_an_unknown_channel_fails_and_a_raising_channel_is_retried(
    clock: FakeClock, outbox: Outboxes
) -> None:
    class Exploding:
        name = "boom"
        min_interval_seconds = 0.0

        def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
            raise RuntimeError("https://secret.example.com/should-not-appear")

        def close(self) -> None:
            return None

    outbox.enqueue(messages("gone") + messages("boom"), clock())
    sender = Sender(outbox, {"boom": Exploding()}, clock, clock.sleep)
    report = sender.deliver_due()
    assert (report.failed, report.retried) == (1, 1)
    gone, boom = outbox.rows()
    assert gone.status == "failed" and "no channel named 'gone'" in (gone.reason or "")
    assert boom.status == "pending"
    assert outbox.attempts[1].error == "unexpected RuntimeError in channel 'boom'"


def test_log_channel_appends_one_json_line_per_alert(
    tmp_path: Path, clock: FakeClock, outbox: Outboxes
) -> None:
    rule = make_rule(channels=("log",))
    samples = [window_sample(0, 0.4, feature="age"), window_sample(0, 0.3, feature="income")]
    (group,) = group_notifications(evaluate([rule], samples, {}, [], T0 + DAY).notifications)
    assert outbox.enqueue([group, group], clock()) == 1  # the dedupe key is unique
    path = tmp_path / "nested" / "alerts.log"
    Sender(outbox, {"log": LogFileChannel("log", path)}, clock, clock.sleep).deliver_due()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(x["feature"], x["value"], x["status"]) for x in lines] == [
        ("age", 0.4, "firing"),
        ("income", 0.3, "firing"),
    ]
    assert {x["dedupe_key"] for x in lines} == {group.dedupe_key}


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120", T0) == 120
    assert retry_after_seconds(format_datetime(T0 + timedelta(minutes=2), usegmt=True), T0) == 120
    assert retry_after_seconds("yesterday", T0) is None
    assert retry_after_seconds(None, T0) is None
    assert retry_after_seconds("-5", T0) == 0


@given(attempts=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_backoff_is_full_jitter_within_bounds(attempts: int, seed: int) -> None:
    policy = RetryPolicy()
    delay = policy.backoff_seconds(attempts, random.Random(seed))
    assert policy.min_seconds <= delay <= min(policy.cap_seconds, policy.base_seconds * 2 ** (attempts - 1))


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (SendResult(ok=True, status_code=200), "delivered"),
        (SendResult(ok=False), "retry"),
        (SendResult(ok=False, status_code=500), "retry"),
        (SendResult(ok=False, status_code=503), "retry"),
        (SendResult(ok=False, status_code=408), "retry"),
        (SendResult(ok=False, status_code=429), "rate_limited"),
        (SendResult(ok=False, status_code=400), "permanent"),
        (SendResult(ok=False, status_code=403), "permanent"),
        (SendResult(ok=False, status_code=404), "permanent"),
        (SendResult(ok=False, status_code=410), "permanent"),
        (SendResult(ok=False, status_code=301), "permanent"),
    ],
)
def test_policy_verdicts(result: SendResult, verdict: str) -> None:
    assert RetryPolicy.verdict(result) == verdict


def test_build_channels_reads_secrets_from_the_given_environment(tmp_path: Path) -> None:
    configs = {
        "slack-ml": ChannelConfig("slack-ml", "slack", url_env="SLACK_WEBHOOK_URL"),
        "hook": ChannelConfig("hook", "webhook", url_env="HOOK_URL"),
        "log": ChannelConfig("log", "log", path="alerts.log"),
    }
    env = {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/SLACKSECRET",
        "HOOK_URL": "https://h/HOOKSECRET",
    }
    channels = build_channels(configs, env, base_dir=tmp_path)
    try:
        assert sorted(channels) == ["hook", "log", "slack-ml"]
        assert isinstance(channels["log"], LogFileChannel) and channels["log"].path == tmp_path / "alerts.log"
        assert "SLACKSECRET" not in repr(channels) and "HOOKSECRET" not in repr(channels)
    finally:
        for channel in channels.values():
            channel.close()
    with pytest.raises(ChannelConfigError) as caught:
        build_channels(configs, {"HOOK_URL": "https://h/HOOKSECRET"})
    assert "SLACK_WEBHOOK_URL" in str(caught.value) and "HOOKSECRET" not in str(caught.value)


def test_a_template_error_still_sends_a_plain_message(
    loopback: LoopbackServer,
    clock: FakeClock,
    channels_to_close: list[Channel],
    outbox: Outboxes,
) -> None:
    rule = make_rule(channels=("slack-ml",), annotations={"summary": "{{ labels.owner }}: PSI {{ value }}"})
    result = evaluate([rule], [window_sample(0, 0.4)], {}, [], T0 + DAY)
    outbox.enqueue(group_notifications(result.notifications), clock())
    Sender(outbox, {"slack-ml": slack(loopback, channels_to_close)}, clock, clock.sleep).deliver_due()
    (request,) = loopback.requests
    body = request.json()
    text = json.dumps(body)
    assert "FeaturePSIHigh: psi=0.4 [labels: alertname=FeaturePSIHigh, feature=age" in text
    assert "has no attribute 'owner'" in text and "An annotation template failed" in text
    assert body["text"].startswith("[FIRING] FeaturePSIHigh")
    assert outbox.rows()[0].status == "delivered"
