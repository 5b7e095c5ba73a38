"""The Alertmanager channel against a real Alertmanager (Debian's binary, one per session): firing alerts show
up with their labels, a resolve ends them, re-posts keep them active, and failures are retried or permanent."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerting_support import DAY, T0, LoopbackServer, make_rule, window_sample
from alertmanager_server import RESOLVE_TIMEOUT_SECONDS, Alertmanager, free_port

from driftwatch.alerting.channels import build_channels
from driftwatch.alerting.channels.alertmanager import AlertmanagerChannel, resend_groups
from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.model import Transition
from driftwatch.alerting.secret import Secret
from driftwatch.config.channels import parse_channel_config
from driftwatch.config.issues import RuleError
from driftwatch.pipeline.alerts import deliver_pending, evaluate_and_enqueue
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database


def _groups(monitor: str) -> tuple[AlertGroup, AlertGroup]:
    rule = make_rule(
        channels=("am",),
        recover=0.1,
        labels={"severity": "warning", "team": "risk"},
        annotations={"summary": "PSI {{ value }} on {{ feature }}", "description": "see the report"},
    )
    first = evaluate(
        [rule],
        [
            window_sample(0, 0.3, feature="age", monitor=monitor),
            window_sample(0, 0.5, monitor=monitor, feature="x"),
        ],
        {},
        [],
        T0 + DAY,
    )
    (firing,) = group_notifications(first.notifications)
    healed = [
        window_sample(1, 0.05, feature="age", monitor=monitor),
        window_sample(1, 0.0, monitor=monitor, feature="x"),
    ]
    (resolved,) = group_notifications(
        evaluate([rule], healed, first.new_state, [], T0 + 2 * DAY).notifications
    )
    return firing, resolved


def _channel(url: str, resend_seconds: float = 300.0) -> AlertmanagerChannel:
    return AlertmanagerChannel("am", Secret(url), "https://dw.example.com", 5.0, resend_seconds)


def _monitor() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"  # one Alertmanager serves every test: each uses its own monitor


def test_firing_alert_shows_up_with_labels_and_annotations(alertmanager: Alertmanager) -> None:
    monitor = _monitor()
    firing, _ = _groups(monitor)
    channel = _channel(alertmanager.url)
    before = datetime.now(UTC)
    result = channel.send(firing, firing.dedupe_key)
    channel.close()
    assert result.ok and result.status_code == 200
    alerts = alertmanager.alerts(monitor=monitor)
    assert len(alerts) == 2
    by_feature = {a["labels"]["feature"]: a for a in alerts}  # type: ignore[index]
    age = by_feature["age"]
    assert age["labels"] == {
        "alertname": "FeaturePSIHigh",
        "rule": "FeaturePSIHigh",
        "monitor": monitor,
        "feature": "age",
        "model_version": "v1",
        "segment": "all",
        "metric": "psi",
        "severity": "warning",
        "team": "risk",
    }
    annotations = age["annotations"]
    assert annotations["summary"] == "PSI 0.3 on age"  # type: ignore[index]
    assert annotations["description"] == "see the report"  # type: ignore[index]
    assert annotations["report_url"] == f"https://dw.example.com/reports/{monitor}/2026-03-02.html"  # type: ignore[index]
    assert annotations["threshold"] == "> 0.25"  # type: ignore[index]
    assert age["status"]["state"] == "active"  # type: ignore[index]
    ends = datetime.fromisoformat(str(age["endsAt"]).replace("Z", "+00:00"))
    # Valid for 4 x resend_interval from the send, not Alertmanager's resolve_timeout.
    assert before + timedelta(minutes=19) < ends < datetime.now(UTC) + timedelta(minutes=21)
    assert age["generatorURL"] == annotations["report_url"]  # type: ignore[index]


def test_resolve_ends_the_alert(alertmanager: Alertmanager) -> None:
    monitor = _monitor()
    firing, resolved = _groups(monitor)
    channel = _channel(alertmanager.url)
    assert channel.send(firing, firing.dedupe_key).ok
    assert len(alertmanager.alerts(monitor=monitor)) == 2
    payload = channel.payload(resolved)
    assert all(
        datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) <= datetime.now(UTC) for a in payload
    )
    assert channel.send(resolved, resolved.dedupe_key).ok
    channel.close()
    assert alertmanager.alerts(monitor=monitor) == []  # resolved alerts leave the active list


def _rule_and_samples(monitor: str) -> tuple[object, list[object]]:
    rule = make_rule(channels=("am",), recover=0.1, repeat_interval=None)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - DAY
    sample = window_sample(0, 0.4, monitor=monitor)
    sample = type(sample)(**{**sample.__dict__, "window_start": start - DAY, "window_end": start})
    return rule, [sample]


def test_reposts_keep_a_firing_alert_active_past_its_validity(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    """With resend_interval 1s alerts are valid 4s (and Alertmanager's resolve_timeout is 3s): an alert
    posted once is gone after that; one that is still firing is re-posted from the outbox and stays."""
    kept, dropped = _monitor(), _monitor()
    channel = _channel(alertmanager.url, resend_seconds=1.0)
    once = _groups(dropped)[0]
    with Database(tmp_path / "am.duckdb") as db:
        rule, samples = _rule_and_samples(kept)
        assert evaluate_and_enqueue(db, [rule], kept, samples, datetime.now(UTC)) == (1, 0)  # type: ignore[list-item, arg-type]
        assert deliver_pending(db, {"am": channel}).delivered >= 1
        assert channel.send(once, once.dedupe_key).ok  # posted once, never re-posted
        deadline = time.monotonic() + 4 * 1.0 + RESOLVE_TIMEOUT_SECONDS + 1
        while time.monotonic() < deadline:
            deliver_pending(db, {"am": channel})
            time.sleep(0.25)
        assert alertmanager.alerts(monitor=dropped) == []
        (alert,) = alertmanager.alerts(monitor=kept)
        assert alert["status"]["state"] == "active"  # type: ignore[index]
        resent = [m for m in store.messages(db.cursor(), limit=500) if m.transition == "repeat"]
        assert len(resent) >= 5  # one per 1 s slot
        assert all(m.status == "delivered" for m in resent[1:])
    channel.close()


def test_resend_groups_once_per_slot_and_only_while_firing() -> None:
    firing, _ = _groups("credit-default")
    delivered = [("am", firing.to_dict()), ("slack", firing.to_dict())]
    keys = [a.instance for a in firing.alerts]
    now = datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC)
    intervals = {"am": timedelta(minutes=5)}
    (group,) = resend_groups(delivered, keys, intervals, now)
    assert group.channel == "am" and group.transition is Transition.REPEAT
    assert {a.instance for a in group.alerts} == set(keys)
    same_slot = resend_groups(delivered, keys, intervals, now + timedelta(minutes=4))
    assert same_slot[0].dedupe_key == group.dedupe_key
    next_slot = resend_groups(delivered, keys, intervals, now + timedelta(minutes=5))
    assert next_slot[0].dedupe_key != group.dedupe_key
    (only_one,) = resend_groups(delivered, keys[:1], intervals, now)
    assert [a.instance for a in only_one.alerts] == keys[:1]
    assert resend_groups(delivered, [], intervals, now) == []


def test_a_down_alertmanager_is_retried_then_delivered(alertmanager: Alertmanager, tmp_path: Path) -> None:
    monitor = _monitor()
    down = _channel(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with Database(tmp_path / "am.duckdb") as db:
        rule, samples = _rule_and_samples(monitor)
        evaluate_and_enqueue(db, [rule], monitor, samples, datetime.now(UTC))  # type: ignore[list-item, arg-type]
        report = deliver_pending(db, {"am": down})
        assert (report.retried, report.delivered, report.failed) == (1, 0, 0)
        (row,) = store.messages(db.cursor())
        assert row.status == "pending" and row.attempts == 1 and "ConnectError" in (row.last_error or "")
        up = _channel(alertmanager.url)  # Alertmanager is back (or the process restarted with it reachable)
        report = deliver_pending(db, {"am": up}, row.next_attempt_at + timedelta(seconds=1))
        assert report.delivered == 1
        assert len(alertmanager.alerts(monitor=monitor)) == 1
    down.close()
    up.close()


def test_5xx_is_retried_and_4xx_from_alertmanager_is_permanent(
    alertmanager: Alertmanager, loopback: LoopbackServer
) -> None:
    from driftwatch.alerting.delivery import RetryPolicy

    firing, _ = _groups(_monitor())
    loopback.reply(503, body=b"busy")
    proxy = _channel(loopback.url)
    result = proxy.send(firing, firing.dedupe_key)
    assert result.status_code == 503 and RetryPolicy.verdict(result) == "retry"
    assert loopback.requests[0].path == "/api/v2/alerts"
    proxy.close()
    # A label name Alertmanager refuses: its real 400 is a permanent failure.
    alert = firing.alerts[0]
    bad = AlertGroup(
        **{**firing.__dict__, "alerts": (type(alert)(**{**alert.__dict__, "labels": {"bad-name": "x"}}),)}
    )
    channel = _channel(alertmanager.url)
    refused = channel.send(bad, bad.dedupe_key)
    channel.close()
    assert refused.status_code == 400 and RetryPolicy.verdict(refused) == "permanent"
    assert "invalid label set" in (refused.error or "")


def test_credentials_come_from_the_environment_and_stay_out_of_errors(loopback: LoopbackServer) -> None:
    config = parse_channel_config(
        "am", {"type": "alertmanager", "url": loopback.url, "token_env": "AM_TOKEN", "resend_interval": "2m"}
    )
    assert config.resend_interval_seconds == 120
    with pytest.raises(ChannelConfigError, match="AM_TOKEN"):
        build_channels({"am": config}, {})
    channel = build_channels({"am": config}, {"AM_TOKEN": "s3cret-token-value"})["am"]
    firing, _ = _groups(_monitor())
    loopback.reply(401, body=b"denied for s3cret-token-value")
    result = channel.send(firing, firing.dedupe_key)
    channel.close()
    assert loopback.requests[0].headers["Authorization"] == "Bearer s3cret-token-value"
    assert "s3cret-token-value" not in (result.error or "") and "s3cret-token-value" not in repr(channel)
    basic = parse_channel_config(
        "am",
        {"type": "alertmanager", "url_env": "AM_URL", "username_env": "AM_USER", "password_env": "AM_PASS"},
    )
    env = {"AM_URL": loopback.url, "AM_USER": "dw", "AM_PASS": "pw-123456789"}
    channel = build_channels({"am": basic}, env)["am"]
    channel.send(firing, firing.dedupe_key)
    channel.close()
    assert loopback.requests[1].headers["Authorization"] == "Basic ZHc6cHctMTIzNDU2Nzg5"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"type": "alertmanager"}, "exactly one of `url` and `url_env`"),
        ({"type": "alertmanager", "url": "am:9093"}, "not an http(s) URL"),
        ({"type": "alertmanager", "url": "http://am:9093", "username_env": "U"}, "needs both"),
        ({"type": "alertmanager", "url": "http://am:9093", "resend_interval": "0s"}, "not a duration"),
        ({"type": "alertmanager", "url": "http://am:9093", "color": "red"}, "color"),
    ],
)
def test_bad_alertmanager_config_is_named(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(RuleError, match="am") as error:
        parse_channel_config("am", raw)
    assert problem in str(error.value)


def test_declared_in_the_main_config(tmp_path: Path) -> None:
    from driftwatch.config.alerting import parse_alerting
    from driftwatch.pipeline.alerts import channel_configs

    file = tmp_path / "driftwatch.yml"
    section = {
        "channels": {
            "am": {"type": "alertmanager", "url": "http://am:9093", "resend_interval": "1m"},
            "mail": {
                "type": "email",
                "host": "smtp.example.org",
                "from": "a@example.org",
                "to": "b@example.org",
            },
        }
    }
    configs = channel_configs(parse_alerting(file, tmp_path, section))
    assert configs["am"].url == "http://am:9093" and configs["am"].resend_interval_seconds == 60
    assert configs["mail"].recipients == ("b@example.org",) and configs["mail"].port == 587
    section["channels"]["am"] = {"type": "alertmanager", "url": "http://am:9093", "token_env": "no-such name"}
    with pytest.raises(RuleError) as error:
        channel_configs(parse_alerting(file, tmp_path, section))
    assert "driftwatch.yml" in str(error.value) and "`token_env` in channel `am`" in str(error.value)


def test_serve_delivery_lanes_repost_firing_alerts(alertmanager: Alertmanager, tmp_path: Path) -> None:
    """The server delivers through per-channel lanes (worker.DeliveryLanes → pipeline.alerts.lane_senders): the
    Alertmanager lane must re-post a firing alert too, or Alertmanager expires it while it still fires."""
    from driftwatch.alerting.delivery import ChannelLanes, RetryPolicy
    from driftwatch.pipeline.alerts import lane_senders

    kept = _monitor()
    channel = _channel(alertmanager.url, resend_seconds=1.0)
    with Database(tmp_path / "lanes.duckdb") as db:
        rule, samples = _rule_and_samples(kept)
        assert evaluate_and_enqueue(db, [rule], kept, samples, datetime.now(UTC)) == (1, 0)  # type: ignore[list-item, arg-type]
        lanes = ChannelLanes(lane_senders(db, {"am": channel}, RetryPolicy()), poll_seconds=0.25)
        lanes.start()
        try:
            time.sleep(4 * 1.0 + RESOLVE_TIMEOUT_SECONDS + 1)
            (alert,) = alertmanager.alerts(monitor=kept)
            assert alert["status"]["state"] == "active"  # type: ignore[index]
        finally:
            assert lanes.stop(timeout=10.0)
        resent = [m for m in store.messages(db.cursor(), limit=500) if m.transition == "repeat"]
        assert len(resent) >= 4
    channel.close()
