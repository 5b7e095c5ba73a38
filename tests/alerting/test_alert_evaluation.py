"""The pure state machine: tables of windows in, transitions out. The clock is passed in; nothing sleeps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from alerting_support import DAY, T0, make_rule, series, window_sample
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.alerting.evaluation import dedupe_key, evaluate
from driftwatch.alerting.model import (
    AlertState,
    AlertStatus,
    InstanceKey,
    Notification,
    Rule,
    Sample,
    Threshold,
    Transition,
)
from driftwatch.alerting.silences import Silence

AGE = InstanceKey("FeaturePSIHigh", "credit-default", "v1", "all", "age")


def run_windows(
    rule: Rule,
    samples: Sequence[Sample],
    state: Mapping[InstanceKey, AlertState] | None = None,
    silences: Sequence[Silence] = (),
) -> tuple[dict[InstanceKey, AlertState], list[tuple[int, Notification]], list[Notification]]:
    """One evaluation per window, `now` = the window's end, as a daily job would run."""
    current: dict[InstanceKey, AlertState] = dict(state or {})
    sent: list[tuple[int, Notification]] = []
    suppressed: list[Notification] = []
    for index, sample in enumerate(samples):
        result = evaluate([rule], [sample], current, silences, sample.window_end)
        current = dict(result.new_state)
        sent.extend((index, n) for n in result.notifications)
        suppressed.extend(result.suppressed)
    return current, sent, suppressed


def transitions(sent: list[tuple[int, Notification]]) -> list[tuple[int, str]]:
    return [(index, n.transition.value) for index, n in sent]


@pytest.mark.parametrize(
    ("values", "for_windows", "expected"),
    [
        ([0.3], 1, [(0, "firing")]),
        ([0.3, 0.3], 2, [(1, "firing")]),
        ([0.3, 0.1, 0.3], 2, []),  # a good window resets the pending counter
        ([0.1, 0.3, 0.3, 0.3], 3, [(3, "firing")]),
        ([0.3, 0.3, 0.1], 1, [(0, "firing"), (2, "resolved")]),
        ([0.25, 0.25], 1, []),  # `>` is strict
    ],
)
def test_for_counts_consecutive_bad_windows(
    values: list[float], for_windows: int, expected: list[tuple[int, str]]
) -> None:
    rule = make_rule(for_windows=for_windows, repeat_interval=None)
    _, sent, _ = run_windows(rule, series(values))
    assert transitions(sent) == expected


def test_pending_never_notifies_and_keeps_its_count() -> None:
    rule = make_rule(for_windows=3)
    state, sent, _ = run_windows(rule, series([0.3, 0.4]))
    assert sent == []
    assert state[AGE].status is AlertStatus.PENDING
    assert state[AGE].bad_windows == 2
    assert state[AGE].active_since == T0


def test_flapping_around_the_threshold_with_hysteresis_fires_once_and_resolves_once() -> None:
    values = [0.3, 0.24, 0.26, 0.22, 0.27, 0.2, 0.3, 0.15, 0.12, 0.05, 0.08]
    rule = make_rule(threshold=0.25, recover=0.1, repeat_interval=None)
    _, sent, _ = run_windows(rule, series(values))
    assert transitions(sent) == [(0, "firing"), (9, "resolved")]


def test_without_hysteresis_the_same_series_flaps() -> None:
    # The counterpart of the test above: shows the recover level is what holds the alert.
    values = [0.3, 0.24, 0.26, 0.22, 0.27, 0.2, 0.3, 0.15, 0.12, 0.05, 0.08]
    _, sent, _ = run_windows(make_rule(threshold=0.25, repeat_interval=None), series(values))
    assert len([t for t in transitions(sent) if t[1] == "firing"]) == 4


def test_keep_firing_for_holds_the_alert_for_extra_healthy_windows() -> None:
    rule = make_rule(recover=0.1, keep_firing_for=2, repeat_interval=None)
    state, sent, _ = run_windows(rule, series([0.3, 0.05, 0.05, 0.3, 0.05, 0.05, 0.05]))
    assert transitions(sent) == [(0, "firing"), (6, "resolved")]
    assert state[AGE].status is AlertStatus.INACTIVE
    assert state[AGE].resolved_at == T0 + 6 * DAY


@pytest.mark.parametrize(
    "sample",
    [
        window_sample(1, None),
        window_sample(1, math.nan),
        window_sample(1, 0.9, samples=10),
        window_sample(1, 0.9, samples=None),
    ],
    ids=["none", "nan", "few-rows", "unknown-rows"],
)
def test_no_data_changes_nothing(sample: Sample) -> None:
    rule = make_rule(for_windows=2, min_samples=500)
    state, _, _ = run_windows(rule, [window_sample(0, 0.3)])
    result = evaluate([rule], [sample], state, [], sample.window_end)
    assert result.new_state == state
    assert result.notifications == ()
    assert result.changed == frozenset()
    # The streak survives the gap: the next bad window completes `for: 2`.
    after = evaluate([rule], [window_sample(2, 0.3)], result.new_state, [], T0 + 3 * DAY)
    assert [n.transition for n in after.notifications] == [Transition.FIRING]


def test_a_window_without_data_can_be_judged_when_its_data_arrives() -> None:
    rule = make_rule(min_samples=500)
    first = evaluate([rule], [window_sample(0, 0.3, samples=10)], {}, [], T0 + DAY)
    late = evaluate([rule], [window_sample(0, 0.3, samples=900)], first.new_state, [], T0 + 2 * DAY)
    assert [n.transition for n in late.notifications] == [Transition.FIRING]


def test_reevaluating_the_same_windows_changes_nothing_and_sends_nothing() -> None:
    rule = make_rule(recover=0.1, for_windows=2)
    samples = series([0.3, 0.4, 0.5, 0.05])
    first = evaluate([rule], samples, {}, [], T0 + 4 * DAY)
    again = evaluate([rule], samples, first.new_state, [], T0 + 10 * DAY)
    assert [n.transition for n in first.notifications] == [Transition.FIRING, Transition.RESOLVED]
    assert again.notifications == () and again.suppressed == ()
    assert again.new_state == first.new_state
    assert again.changed == frozenset()


def test_a_restart_while_firing_sends_nothing_new() -> None:
    rule = make_rule(recover=0.1, repeat_interval=timedelta(days=7))
    samples = series([0.3, 0.4, 0.35])
    before = evaluate([rule], samples, {}, [], T0 + 3 * DAY)
    assert [n.transition for n in before.notifications] == [Transition.FIRING]
    # The process restarts: state comes back from storage (a copy), the pipeline re-reads the same results.
    stored = {InstanceKey(*k.__dict__.values()): replace(v) for k, v in before.new_state.items()}
    after = evaluate([rule], samples, stored, [], T0 + 3 * DAY + timedelta(hours=1))
    assert after.notifications == ()
    assert after.new_state[AGE].status is AlertStatus.FIRING
    # ... and the next window carries on from the stored state instead of starting over.
    nxt = evaluate([rule], [window_sample(3, 0.05)], after.new_state, [], T0 + 4 * DAY)
    assert [n.transition for n in nxt.notifications] == [Transition.RESOLVED]


def test_a_restart_keeps_the_pending_counter() -> None:
    rule = make_rule(for_windows=3)
    state: Mapping[InstanceKey, AlertState] = {}
    fired = []
    for index in range(3):  # a "restart" between every window: only the state carries over
        result = evaluate([rule], [window_sample(index, 0.3)], dict(state), [], T0 + (index + 1) * DAY)
        state = result.new_state
        fired += result.notifications
    assert [n.transition for n in fired] == [Transition.FIRING]


def test_windows_are_processed_in_order_whatever_the_input_order() -> None:
    rule = make_rule(recover=0.1, for_windows=2, repeat_interval=None)
    samples = series([0.3, 0.3, 0.05])
    result = evaluate([rule], list(reversed(samples)), {}, [], T0 + 3 * DAY)
    assert [(n.transition, n.window_start) for n in result.notifications] == [
        (Transition.FIRING, T0 + DAY),
        (Transition.RESOLVED, T0 + 2 * DAY),
    ]


def test_repeat_after_repeat_interval_measured_with_now() -> None:
    rule = make_rule(repeat_interval=timedelta(hours=36))
    state: Mapping[InstanceKey, AlertState] = {}
    sent = []
    for index in range(5):
        result = evaluate([rule], [window_sample(index, 0.3)], state, [], T0 + (index + 1) * DAY)
        state = result.new_state
        sent += [(index, n.transition.value) for n in result.notifications]
    # Fired at the end of window 0; 36h later is after window 1's run, so window 2 repeats, then window 4.
    assert sent == [(0, "firing"), (2, "repeat"), (4, "repeat")]


def test_no_repeat_when_repeat_interval_is_none_and_catch_up_does_not_repeat() -> None:
    rule = make_rule(repeat_interval=timedelta(hours=1))
    # Catching up five windows in one run: one `now`, so one message.
    result = evaluate([rule], series([0.3] * 5), {}, [], T0 + 5 * DAY)
    assert [n.transition for n in result.notifications] == [Transition.FIRING]
    quiet = make_rule(repeat_interval=None)
    _, sent, _ = run_windows(quiet, series([0.3] * 5))
    assert transitions(sent) == [(0, "firing")]


def test_send_resolved_false_sends_no_resolution() -> None:
    rule = make_rule(send_resolved=False, repeat_interval=None)
    state, sent, _ = run_windows(rule, series([0.3, 0.1]))
    assert transitions(sent) == [(0, "firing")]
    assert state[AGE].status is AlertStatus.INACTIVE


def test_silenced_instances_change_state_but_notifications_are_suppressed() -> None:
    silence = Silence({"feature": "age"}, T0, T0 + 2 * DAY + timedelta(hours=1), "known", "ana", "s1")
    rule = make_rule(repeat_interval=None)
    samples = series([0.3, 0.3, 0.3, 0.3]) + series([0.3], feature="income")
    state, sent, suppressed = run_windows(rule, samples, silences=[silence])
    assert [(n.transition.value, n.silenced_by) for n in suppressed] == [("firing", "s1"), ("repeat", "s1")]
    assert state[AGE].status is AlertStatus.FIRING
    # After the silence ends, the alert nobody heard of is announced once; income was never silenced.
    assert [(i, n.transition.value, n.alert.instance.feature) for i, n in sent] == [
        (2, "repeat", "age"),
        (4, "firing", "income"),
    ]


def test_a_resolution_of_an_alert_nobody_was_told_about_is_not_sent() -> None:
    silence = Silence({"alertname": "FeaturePSIHigh"}, T0, T0 + 10 * DAY, "maintenance", "ana", "s1")
    rule = make_rule(repeat_interval=None)
    _, sent, suppressed = run_windows(rule, series([0.3, 0.3, 0.1]), silences=[silence])
    assert sent == []
    assert [n.transition.value for n in suppressed] == ["firing", "repeat"]


def test_reference_drop_uses_the_sample_baseline_and_no_baseline_is_no_data() -> None:
    rule = make_rule(
        name="AUCDrop",
        metric="roc_auc",
        op="<",
        threshold=Threshold("reference_drop", 0.05),
        recover=Threshold("reference_drop", 0.02),
        feature=None,
    )
    samples = series([0.80, 0.74, 0.77, 0.80], feature=None, metric="roc_auc", baseline=0.81)
    result = evaluate([rule], samples, {}, [], T0 + 4 * DAY)
    assert [(n.transition.value, n.window_start) for n in result.notifications] == [
        ("firing", T0 + DAY),
        ("resolved", T0 + 3 * DAY),
    ]
    assert result.notifications[0].alert.threshold == pytest.approx(0.76)
    no_baseline = evaluate([rule], series([0.1], feature=None, metric="roc_auc"), {}, [], T0 + DAY)
    assert no_baseline.new_state == {} and no_baseline.notifications == ()


def test_a_metric_glob_judges_the_worse_value_of_a_window() -> None:
    rule = make_rule(metric="*_pvalue", op="<", threshold=0.01, repeat_interval=None)
    samples = [window_sample(0, 0.5, metric="ks_pvalue"), window_sample(0, 0.001, metric="chi2_pvalue")]
    result = evaluate([rule], samples, {}, [], T0 + DAY)
    assert [(n.alert.metric, n.alert.value) for n in result.notifications] == [("chi2_pvalue", 0.001)]


def test_one_notification_per_channel_with_distinct_stable_dedupe_keys() -> None:
    rule = make_rule(channels=("slack-ml", "log"))
    samples = series([0.3])
    first = evaluate([rule], samples, {}, [], T0 + DAY)
    second = evaluate([rule], samples, {}, [], T0 + 5 * DAY)  # same facts, another run
    keys = [n.dedupe_key for n in first.notifications]
    assert [n.channel for n in first.notifications] == ["slack-ml", "log"]
    assert len(set(keys)) == 2
    assert keys == [n.dedupe_key for n in second.notifications]
    assert keys[0] == dedupe_key(AGE, "slack-ml", Transition.FIRING, T0)


def test_notification_carries_labels_annotations_and_instance() -> None:
    rule = make_rule(labels={"severity": "critical", "team": "risk"})
    (notification,) = evaluate([rule], series([0.3]), {}, [], T0 + DAY).notifications
    assert notification.alert.labels == {
        "alertname": "FeaturePSIHigh",
        "monitor": "credit-default",
        "model_version": "v1",
        "segment": "all",
        "metric": "psi",
        "feature": "age",
        "severity": "critical",
        "team": "risk",
    }
    assert notification.alert.annotations == {"summary": "psi 0.3 on age"}
    assert notification.alert.template_error is None
    assert notification.alert.starts_at == T0
    assert notification.created_at == T0 + DAY


def test_a_template_error_never_drops_the_alert() -> None:
    rule = make_rule(annotations={"summary": "{{ labels.team }} owns {{ feature }}"})  # no `team` label
    (notification,) = evaluate([rule], series([0.3]), {}, [], T0 + DAY).notifications
    summary = notification.alert.annotations["summary"]
    assert "template error" in summary and "feature=age" in summary and "team" in summary
    assert notification.alert.template_error is not None


def test_evaluate_does_not_mutate_its_input_and_needs_an_aware_now() -> None:
    rule = make_rule(for_windows=2)
    previous = {AGE: AlertState(status=AlertStatus.PENDING, bad_windows=1, last_window=T0, active_since=T0)}
    snapshot = dict(previous)
    evaluate([rule], [window_sample(1, 0.3)], previous, [], T0 + 2 * DAY)
    assert previous == snapshot
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([rule], [], {}, [], T0.replace(tzinfo=None))


values_strategy = st.lists(st.one_of(st.none(), st.floats(0, 0.5)), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(
    values=values_strategy, split=st.integers(0, 25), for_windows=st.integers(1, 3), keep=st.integers(0, 2)
)
def test_property_split_runs_equal_one_run_and_reruns_are_silent(
    values: list[float | None], split: int, for_windows: int, keep: int
) -> None:
    rule = make_rule(recover=0.1, for_windows=for_windows, keep_firing_for=keep, repeat_interval=None)
    samples = series(values)
    now = T0 + 30 * DAY
    whole = evaluate([rule], samples, {}, [], now)
    head = evaluate([rule], samples[:split], {}, [], now)
    tail = evaluate([rule], samples[split:], head.new_state, [], now)
    assert whole.new_state == tail.new_state
    assert [n.dedupe_key for n in whole.notifications] == [
        n.dedupe_key for n in head.notifications + tail.notifications
    ]
    rerun = evaluate([rule], samples, whole.new_state, [], now + DAY)
    assert rerun.notifications == () and rerun.new_state == whole.new_state
    # Messages alternate firing/resolved, starting with firing.
    kinds = [n.transition for n in whole.notifications]
    assert kinds == [Transition.FIRING, Transition.RESOLVED] * (len(kinds) // 2) + [Transition.FIRING] * (
        len(kinds) % 2
    )


def test_whole_model_and_feature_instances_of_one_rule_live_side_by_side() -> None:
    rule = make_rule(metric="missing_share", threshold=0.2, feature=None, repeat_interval=None)
    samples = [
        window_sample(0, 0.5, feature=None, metric="missing_share"),
        window_sample(0, 0.5, metric="missing_share"),
    ]
    result = evaluate([rule], samples, {}, [], T0 + DAY)
    assert [n.alert.instance.feature for n in result.notifications] == [None, "age"]
