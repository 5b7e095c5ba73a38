"""Grouping notifications into messages, and the message's JSON form for the outbox."""

from __future__ import annotations

import json

from alerting_support import DAY, T0, make_rule, window_sample

from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_key, group_notifications


def test_one_message_per_monitor_rule_transition_channel_and_window() -> None:
    psi = make_rule(channels=("slack-ml", "log"), recover=0.1)
    missing = make_rule(name="MissingHigh", metric="missing_share", threshold=0.2, channels=("log",))
    samples = [
        window_sample(0, 0.3, feature="age"),
        window_sample(0, 0.5, feature="income"),
        window_sample(0, 0.4, feature="age", model_version="v2"),
        window_sample(0, 0.3, feature="age", monitor="fraud"),
        window_sample(1, 0.6, feature="zip"),
        window_sample(0, 0.9, feature="age", metric="missing_share"),
    ]
    result = evaluate([psi, missing], samples, {}, [], T0 + 2 * DAY)
    groups = group_notifications(result.notifications)
    summary = [
        (
            g.window_start,
            g.monitor,
            g.rule,
            g.channel,
            [(a.instance.feature, a.instance.model_version) for a in g.alerts],
        )
        for g in groups
    ]
    assert summary == [
        (T0, "credit-default", "FeaturePSIHigh", "log", [("income", "v1"), ("age", "v2"), ("age", "v1")]),
        (
            T0,
            "credit-default",
            "FeaturePSIHigh",
            "slack-ml",
            [("income", "v1"), ("age", "v2"), ("age", "v1")],
        ),
        (T0, "credit-default", "MissingHigh", "log", [("age", "v1")]),
        (T0, "fraud", "FeaturePSIHigh", "log", [("age", "v1")]),
        (T0, "fraud", "FeaturePSIHigh", "slack-ml", [("age", "v1")]),
        (T0 + DAY, "credit-default", "FeaturePSIHigh", "log", [("zip", "v1")]),
        (T0 + DAY, "credit-default", "FeaturePSIHigh", "slack-ml", [("zip", "v1")]),
    ]
    first = groups[0]
    assert first.common_labels["severity"] == "warning" and "feature" not in first.common_labels
    assert first.group_labels == {"alertname": "FeaturePSIHigh", "monitor": "credit-default"}
    assert len({g.dedupe_key for g in groups}) == len(groups)


def test_group_key_depends_on_members_not_their_order() -> None:
    assert group_key(["a", "b"]) == group_key(["b", "a"]) != group_key(["a", "b", "c"])


def test_json_round_trip_is_strict_json() -> None:
    rule = make_rule(channels=("log",))
    samples = [
        window_sample(0, float("inf"), feature="age"),
        window_sample(0, 0.3, feature=None, metric="psi"),
    ]
    (group,) = group_notifications(evaluate([rule], samples, {}, [], T0 + DAY).notifications)
    text = json.dumps(group.to_dict(), allow_nan=False)
    assert AlertGroup.from_dict(json.loads(text)) == group
