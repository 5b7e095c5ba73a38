"""Relative rules: a window judged against the same metric `offset` earlier or its trailing mean, with the same
`for`/hysteresis semantics, no data when there is nothing to compare with, and `rules test` support."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from alerting_support import DAY, T0, make_rule, window_sample

from driftwatch.alerting.evaluation import evaluate, lookback
from driftwatch.alerting.model import (
    AlertState,
    AlertStatus,
    Comparison,
    InstanceKey,
    Rule,
    Sample,
    Threshold,
    Transition,
)
from driftwatch.alerting.rule_tests import run_rule_tests
from driftwatch.alerting.rules import load_rules
from driftwatch.config.issues import RuleError
from driftwatch.config.settings import Settings
from driftwatch.storage.database import Database

WEEK = Comparison("offset", timedelta(days=7))


def wow_rule(for_windows: int = 1, min_samples: int | None = None) -> Rule:
    """Accuracy down more than 10 % week over week; recovers above −5 %."""
    return make_rule(
        name="AccuracyWeekOverWeek",
        metric="accuracy",
        op="<",
        threshold=Threshold("change", -0.10, WEEK),
        recover=Threshold("change", -0.05, WEEK),
        for_windows=for_windows,
        min_samples=min_samples,
        feature=None,
        repeat_interval=None,
        annotations={
            "summary": "accuracy {{ value }} vs {{ compared_to }} a week earlier (limit {{ threshold }})"
        },
    )


def acc(index: int, value: float | None, samples: int = 1000) -> Sample:
    return window_sample(index, value, feature=None, metric="accuracy", samples=samples)


def run_windows(
    rule: Rule, values: Sequence[float | None], samples: Sequence[int] | None = None
) -> list[tuple[Mapping[InstanceKey, AlertState], list[str]]]:
    """One evaluation per window, as the service runs it: the earlier windows passed as history."""
    state: Mapping[InstanceKey, AlertState] = {}
    past: list[Sample] = []
    out = []
    for index, value in enumerate(values):
        sample = acc(index, value, samples[index] if samples else 1000)
        result = evaluate([rule], [sample], state, [], sample.window_end, history=past)
        past.append(sample)
        state = result.new_state
        out.append((state, [n.transition.value for n in result.notifications]))
    return out


def status(state: Mapping[InstanceKey, AlertState]) -> str:
    (only,) = state.values() if state else (AlertState(),)
    return only.status.value


WEEK_OF_090 = [0.90] * 7


def test_down_ten_percent_week_over_week_fires_and_recovers_with_hysteresis() -> None:
    # windows 7..10 compare with windows 0..3 (0.90): 0.80 is −11 %, 0.84 −6.7 % (between the levels: still
    # firing), 0.87 −3.3 % (recovered).
    steps = run_windows(wow_rule(), [*WEEK_OF_090, 0.80, 0.84, 0.87, 0.80])
    assert [status(s) for s, _ in steps[:7]] == ["inactive"] * 7
    assert steps[7][1] == ["firing"] and status(steps[7][0]) == "firing"
    assert steps[8][1] == [] and status(steps[8][0]) == "firing"
    assert steps[9][1] == ["resolved"]
    assert steps[10][1] == ["firing"]


def test_the_message_shows_the_past_value_and_threshold() -> None:
    samples = [acc(i, 0.9) for i in range(7)] + [acc(7, 0.8)]
    result = evaluate([wow_rule()], samples, {}, [], T0 + 8 * DAY)  # one batch: compared within it
    (note,) = result.notifications
    assert note.transition is Transition.FIRING
    assert note.alert.baseline == pytest.approx(0.9)
    assert note.alert.threshold == pytest.approx(0.81)
    assert note.alert.annotations["summary"] == "accuracy 0.8 vs 0.9 a week earlier (limit 0.81)"


def test_for_counts_windows_as_for_fixed_thresholds() -> None:
    steps = run_windows(wow_rule(for_windows=2), [*WEEK_OF_090, 0.80, 0.70, 0.90, 0.80, 0.85, 0.70])
    assert [status(s) for s, _ in steps[7:9]] == ["pending", "firing"]
    assert steps[8][1] == ["firing"]
    # window 9: 0.90 vs 0.90 recovers; window 10 bad, 11 not bad: pending is reset, window 12 pending again.
    assert steps[9][1] == ["resolved"]
    assert [status(s) for s, _ in steps[10:13]] == ["pending", "inactive", "pending"]


def test_no_comparison_value_is_no_data() -> None:
    rule = wow_rule()
    # Only windows 3..9 exist: windows 3..9 have no window 7 days earlier. Nothing is evaluated.
    samples = [acc(i, 0.5) for i in range(3, 10)]
    result = evaluate([rule], samples, {}, [], T0 + 10 * DAY)
    assert result.new_state == {} and result.notifications == ()
    # A week earlier with no value, or too few rows for min_samples: still no data, and no streak is broken.
    steps = run_windows(
        wow_rule(min_samples=500), [None, *[0.9] * 6, 0.5, 0.5], samples=[1000, 10, *[1000] * 7]
    )
    assert steps[7][0] == {}  # window 7 vs window 0 (no value)
    assert steps[8][0] == {}  # window 8 vs window 1 (10 rows < min_samples)
    later = run_windows(wow_rule(for_windows=2), [0.9, None, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5])
    # window 7 bad (pending), window 8 has nothing to compare with (no data: unchanged), window 9 bad: fires.
    assert [status(s) for s, _ in later[7:10]] == ["pending", "pending", "firing"]
    assert later[8][0] == later[7][0]


def test_trailing_mean_and_delta() -> None:
    rule = make_rule(
        name="PSIAboveItsMonth",
        threshold=Threshold("delta", 0.1, Comparison("trailing", timedelta(days=3))),
        feature=("*",),
    )
    values = [0.05, 0.10, 0.15, 0.30, 0.26]
    state: Mapping[InstanceKey, AlertState] = {}
    past: list[Sample] = []
    fired = []
    for index, value in enumerate(values):
        sample = window_sample(index, value)
        result = evaluate([rule], [sample], state, [], sample.window_end, history=past)
        past.append(sample)
        state = result.new_state
        fired.append([n.alert.baseline for n in result.notifications])
    # window 0: nothing before it (no data); window 3: 0.30 vs mean(0.05, 0.10, 0.15) = 0.10 → fires;
    # window 4: vs mean(0.10, 0.15, 0.30) ≈ 0.183, 0.26 < 0.283 → resolves.
    assert fired[0] == [] and fired[1] == [] and fired[2] == []
    assert fired[3] == [pytest.approx(0.10)]
    assert fired[4] == [pytest.approx((0.10 + 0.15 + 0.30) / 3)]
    (only,) = state.values()
    assert only.status is AlertStatus.INACTIVE


def test_history_does_not_evaluate_itself_and_samples_win_over_it() -> None:
    rule = wow_rule()
    history = [acc(i, 0.9) for i in range(7)]
    stale = acc(7, 0.1)  # an older stored copy of window 7; the sample below replaces it
    result = evaluate([rule], [acc(7, 0.88)], {}, [], T0 + 8 * DAY, history=[*history, stale])
    assert result.notifications == ()
    (only,) = result.new_state.values()
    assert only.last_window == T0 + 7 * DAY  # only the new window was evaluated
    assert lookback([rule]) == timedelta(days=7)
    assert lookback([make_rule()]) is None


def _rules_file(tmp_path: Path, condition: str, extra: str = "") -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(
        "channels: {log: {type: log, path: alerts.log}}\n"
        "route: {channels: [log]}\n"
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - alert: AccuracyWeekOverWeek\n"
        "        select: {monitor: '*', metric: accuracy}\n"
        f"        condition: {condition}\n"
        f"{extra}",
        encoding="utf-8",
    )
    return path


def test_parsing_relative_thresholds(tmp_path: Path) -> None:
    rules = load_rules(
        _rules_file(
            tmp_path,
            '{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.10}, '
            "recover: {relative_to: {offset: 7d}, change: -0.05}, min_labels: 200}",
        )
    )
    condition = rules.rules[0].condition
    assert condition.threshold == Threshold("change", -0.10, Comparison("offset", timedelta(days=7)))
    assert condition.recover == Threshold("change", -0.05, Comparison("offset", timedelta(days=7)))
    trailing = load_rules(
        _rules_file(tmp_path, '{op: ">", threshold: {relative_to: {trailing: 2w}, delta: 0.1}}')
    )
    assert trailing.rules[0].condition.threshold == Threshold(
        "delta", 0.1, Comparison("trailing", timedelta(days=14))
    )


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        (
            '{op: "<", threshold: {relative_to: {offset: 7d}}}',
            "exactly one of `change` (a fraction) and `delta`",
        ),
        ('{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.1, delta: 1}}', "exactly one of"),
        ('{op: "<", threshold: {relative_to: {}, change: -0.1}}', "exactly one of `offset` and `trailing`"),
        (
            '{op: "<", threshold: {relative_to: {offset: 7d, trailing: 7d}, change: -0.1}}',
            "exactly one of `offset`",
        ),
        ('{op: "<", threshold: {relative_to: {offset: soon}, change: -0.1}}', "not a duration"),
        ('{op: "<", threshold: {relative_to: {ofset: 7d}, change: -0.1}}', "ofset"),
        ('{op: "<", threshold: {relative_to: {offset: 7d}, change: -1.5}}', "drop of 100 % or more"),
        ('{op: "<", threshold: {relative_to: {offset: 7d}, change: x}}', "must be a number"),
        ('{op: "==", threshold: {relative_to: {offset: 7d}, change: -0.1}}', "needs an ordered op"),
        (
            '{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.1}, recover: {relative_to: {offset: 7d}, change: -0.2}}',
            "wrong side",
        ),
        (
            '{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.1}, recover: {relative_to: {offset: 1d}, change: -0.05}}',
            "against the same past",
        ),
        ('{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.1}, recover: 0.8}', "same form"),
    ],
)
def test_bad_relative_thresholds_are_named(tmp_path: Path, condition: str, problem: str) -> None:
    with pytest.raises(RuleError) as error:
        load_rules(_rules_file(tmp_path, condition))
    text = str(error.value)
    assert problem in text and "rules.yml:8" in text


def test_relative_rules_work_on_drift_metrics(tmp_path: Path) -> None:
    path = _rules_file(tmp_path, '{op: ">", threshold: {relative_to: {trailing: 7d}, delta: 0.1}}')
    path.write_text(path.read_text().replace("metric: accuracy}", "metric: psi, feature: '*'}"))
    assert load_rules(path).rules[0].select.metric == ("psi",)


RULE_TEST = """\
rule_files: [rules.yml]
tests:
  - name: down 10 % week over week
    input_series:
      - labels: {monitor: credit, metric: accuracy}
        values: "_ 0.9x6 0.80 0.84 0.87"
    expected:
      - at_window: 7
        alerts: []
      - at_window: 8
        alerts: []                     # window 1 has no value: nothing to compare with
      - at_window: 9
        alerts: [{alert: AccuracyWeekOverWeek, state: firing}]
        notifications: [{alert: AccuracyWeekOverWeek, transition: firing, annotations: {summary: "0.84 vs 0.9"}}]
      - at_window: 10
        alerts: []
        notifications: [{alert: AccuracyWeekOverWeek, transition: resolved}]
"""


def test_rules_test_feeds_past_windows(tmp_path: Path) -> None:
    _rules_file(
        tmp_path,
        '{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.05}}',
        "        annotations: {summary: '{{ value }} vs {{ compared_to }}'}\n",
    )
    (tmp_path / "rules.test.yml").write_text(RULE_TEST, encoding="utf-8")
    report = run_rule_tests(tmp_path / "rules.test.yml")
    assert report.ok, report.format()
    assert report.tests_run == 1
    # The same test against a rule that cannot fire: the runner reports it (the test can fail).
    _rules_file(tmp_path, '{op: "<", threshold: {relative_to: {offset: 7d}, change: -0.5}}')
    failed = run_rule_tests(tmp_path / "rules.test.yml")
    assert not failed.ok
    assert "expected alert AccuracyWeekOverWeek firing" in failed.format()


RELATIVE_PSI_RULES = """\
channels: {log: {type: log, path: alerts.log}}
route: {channels: [log], repeat_interval: null}
groups:
  - name: g
    rules:
      - alert: PSIWeekOverWeek
        select: {monitor: "*", metric: psi, feature: income}
        # Always true once there is a value a week earlier: shows which windows could be compared.
        condition: {op: ">", threshold: {relative_to: {offset: 7d}, delta: -100}}
"""


@pytest.mark.slow  # two real pipeline cycles on the small demo
def test_a_later_cycle_compares_with_values_stored_by_earlier_ones(
    demo_settings: Settings, demo_db: Database
) -> None:
    """The new windows of a cycle are compared with windows evaluated cycles ago: the pipeline reads them
    from storage (without them, every new window would be "no data" and left unevaluated)."""
    from _demo import DEMO_END
    from driftwatch.pipeline.alerts import alert_cycle, alerting_settings, prepare_alerting
    from driftwatch.pipeline.cycle import run_cycle

    rules = demo_settings.config_path.parent / "alert_rules"
    for old in rules.glob("*.yml"):
        old.unlink()
    (rules / "relative.yml").write_text(RELATIVE_PSI_RULES, encoding="utf-8")
    run = prepare_alerting(alerting_settings(demo_settings))
    assert run is not None
    monitor = demo_settings.monitor("credit-default")
    run_cycle(demo_db, monitor, now=DEMO_END - 3 * DAY)
    alert_cycle(demo_db, run, monitor, DEMO_END - 3 * DAY)
    run_cycle(demo_db, monitor, now=DEMO_END)
    summary = alert_cycle(demo_db, run, monitor, DEMO_END)
    assert summary.firing == 3  # income in each segment (*, and the two environments)
    windows = {
        row[0]
        for row in demo_db.cursor()
        .execute("SELECT last_window FROM alert_state WHERE rule = 'PSIWeekOverWeek' AND segment = '*'")
        .fetchall()
    }
    assert windows == {(DEMO_END - DAY).replace(tzinfo=None)}
