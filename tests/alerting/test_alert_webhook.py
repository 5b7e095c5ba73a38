"""The generic webhook: Alertmanager's version 4 payload over real HTTP, with an Idempotency-Key."""

from __future__ import annotations

import json

from alerting_support import DAY, T0, LoopbackServer, make_rule, window_sample

from driftwatch.alerting.channels.webhook import ZERO_TIME, WebhookChannel, alertmanager_payload
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.secret import Secret


def groups() -> tuple[AlertGroup, AlertGroup]:
    rule = make_rule(channels=("hook",), recover=0.1, labels={"severity": "warning", "team": "risk"})
    first = evaluate(
        [rule],
        [window_sample(0, 0.3, feature="age"), window_sample(0, 0.5, feature="income")],
        {},
        [],
        T0 + DAY,
    )
    (firing,) = group_notifications(first.notifications)
    healed = [window_sample(1, 0.05, feature="age"), window_sample(1, 0.01, feature="income")]
    (resolved,) = group_notifications(
        evaluate([rule], healed, first.new_state, [], T0 + 2 * DAY).notifications
    )
    return firing, resolved


def test_firing_payload_follows_alertmanager_v4() -> None:
    firing, _ = groups()
    payload = alertmanager_payload(firing, "hook", "https://dw.example.com")
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["receiver"] == "hook"
    assert payload["groupKey"] == '{}:{alertname="FeaturePSIHigh", monitor="credit-default"}'
    assert payload["groupLabels"] == {"alertname": "FeaturePSIHigh", "monitor": "credit-default"}
    assert payload["commonLabels"] == {
        "alertname": "FeaturePSIHigh",
        "monitor": "credit-default",
        "model_version": "v1",
        "segment": "all",
        "metric": "psi",
        "severity": "warning",
        "team": "risk",
    }
    assert payload["externalURL"] == "https://dw.example.com"
    assert payload["truncatedAlerts"] == 0
    worst = payload["alerts"][0]
    assert worst["labels"]["feature"] == "income"  # worst first
    assert worst["status"] == "firing"
    assert worst["startsAt"] == "2026-03-02T00:00:00Z"
    assert worst["endsAt"] == ZERO_TIME
    assert worst["generatorURL"] == "https://dw.example.com/reports/credit-default/2026-03-02.html"
    assert len(worst["fingerprint"]) == 16
    assert worst["values"] == {"psi": 0.5}
    assert worst["annotations"] == {"summary": "psi 0.5 on income"}
    assert payload["commonAnnotations"] == {}


def test_resolved_payload_has_ends_at_and_keeps_the_fingerprint() -> None:
    firing, resolved = groups()
    payload = alertmanager_payload(resolved, "hook")
    assert payload["status"] == "resolved"
    assert {a["status"] for a in payload["alerts"]} == {"resolved"}
    assert {a["endsAt"] for a in payload["alerts"]} == {"2026-03-04T00:00:00Z"}
    assert {a["startsAt"] for a in payload["alerts"]} == {"2026-03-02T00:00:00Z"}
    before = {
        a["labels"]["feature"]: a["fingerprint"] for a in alertmanager_payload(firing, "hook")["alerts"]
    }
    assert before == {a["labels"]["feature"]: a["fingerprint"] for a in payload["alerts"]}
    assert payload["externalURL"] == "" and payload["alerts"][0]["generatorURL"] == ""


def test_webhook_posts_json_with_an_idempotency_key(loopback: LoopbackServer) -> None:
    firing, _ = groups()
    channel = WebhookChannel("hook", Secret(f"{loopback.url}/hooks/abc123secret"), "https://dw.example.com")
    try:
        result = channel.send(firing, firing.dedupe_key)
    finally:
        channel.close()
    assert result.ok and result.status_code == 200
    (request,) = loopback.requests
    assert request.path == "/hooks/abc123secret"
    assert request.headers["Idempotency-Key"] == firing.dedupe_key
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == json.loads(
        json.dumps(alertmanager_payload(firing, "hook", "https://dw.example.com"))
    )


def test_non_finite_values_are_sent_as_strict_json(loopback: LoopbackServer) -> None:
    rule = make_rule(channels=("hook",))
    (group,) = group_notifications(
        evaluate([rule], [window_sample(0, float("inf"))], {}, [], T0 + DAY).notifications
    )
    channel = WebhookChannel("hook", Secret(f"{loopback.url}/h"))
    try:
        assert channel.send(group, group.dedupe_key).ok
    finally:
        channel.close()
    assert loopback.requests[0].json()["alerts"][0]["values"] == {"psi": "inf"}
