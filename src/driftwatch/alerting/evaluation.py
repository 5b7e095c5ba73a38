"""Alert evaluation: a pure function from (rules, samples, previous state, silences, now) to new state and
the notifications owed. No clock, no I/O: the pipeline stores the state and the notifications in one
transaction, so a crash or a re-run neither loses nor repeats a message.

Per instance (rule × monitor × model_version × segment × feature), windows are taken in order:

    inactive ──bad──► pending ──bad for `for` windows──► firing ──past `recover` for keep_firing_for+1──► inactive
                └──(for: 1)────────────────────────────►        (between threshold and recover: stays firing)

* pending never notifies; a window that is not bad while pending resets the counter.
* No data (value None or NaN, fewer than `min_samples` rows/labels, a relative threshold without a baseline)
  changes nothing, not even the last evaluated window, so the window can still be judged when its data
  (e.g. late labels) arrives. It neither counts towards `for` nor breaks a streak.
* A window at or before the instance's last evaluated window is skipped: re-evaluating changes nothing.
* Repeats ride on newly evaluated windows: a window that leaves the alert firing sends a `repeat` when
  `repeat_interval` has passed since the last notification (measured with `now`), so each repeat has its own
  window and its own dedupe key.
* Relative rules (`threshold: {relative_to: {offset: 7d}, change: -0.1}`) compare the window's value with the
  same instance's value for the window that started `offset` earlier, or with the mean of the windows that
  started in the `trailing` duration before it. Those past values come from the samples themselves and from
  `history` (past samples the caller fetched from storage): nothing is queried here. No comparison value (no
  window a week earlier, or it had no data or fewer than `min_samples`) is "no data" for the window.
* Silenced instances change state like any other; their notifications are returned in `suppressed`. A firing
  that was silenced is announced (as a `repeat`) by the first window evaluated after the silence ends; a
  resolution is only sent for an alert whose firing was announced.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from driftwatch.alerting.model import (
    Alert,
    AlertState,
    AlertStatus,
    Comparison,
    EvaluationResult,
    InstanceKey,
    Notification,
    Op,
    Rule,
    RuleSet,
    Sample,
    Transition,
)
from driftwatch.alerting.silences import Silence, silencing
from driftwatch.alerting.templates import render_annotations
from driftwatch.durations import as_utc


def evaluate(
    rules: RuleSet | Sequence[Rule],
    samples: Iterable[Sample],
    previous_state: Mapping[InstanceKey, AlertState],
    silences: Sequence[Silence],
    now: datetime,
    history: Iterable[Sample] = (),
) -> EvaluationResult:
    """Advance every instance the samples touch through its new windows; see the module docstring.

    `history`: past samples that relative rules compare with (see `lookback`); they are never evaluated
    themselves. Where a window is both in `history` and in `samples`, the sample wins.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware (UTC)")
    rule_list = rules.rules if isinstance(rules, RuleSet) else tuple(rules)
    items = list(samples)
    past = _Past(history, items) if any(_comparison(rule) for rule in rule_list) else _Past((), ())
    new_state = dict(previous_state)
    changed: set[InstanceKey] = set()
    notifications: list[Notification] = []
    suppressed: list[Notification] = []
    for rule, key, windows in _instances(rule_list, items, past):
        state = previous_state.get(key, AlertState())
        for window_start in sorted(windows):
            if state.last_window is not None and window_start <= state.last_window:
                continue
            sample = windows[window_start]
            step = _step(rule, state, sample, now, past)
            if step is None:
                continue
            state = step.state
            if step.transition is None:
                continue
            silence = silencing(silences, step.labels, now)
            made = _notifications(rule, key, sample, step, now, silence)
            if silence is None:
                notifications.extend(made)
                if step.transition is not Transition.RESOLVED:
                    state = replace(state, last_notified_at=now)
            else:
                suppressed.extend(made)
        if state != previous_state.get(key, AlertState()):
            new_state[key] = state
            changed.add(key)
    return EvaluationResult(new_state, tuple(notifications), tuple(suppressed), frozenset(changed))


def lookback(rules: RuleSet | Sequence[Rule]) -> timedelta | None:
    """How far before its first new window the caller must fetch `history` for the relative rules (None: no
    rule compares with the past)."""
    rule_list = rules.rules if isinstance(rules, RuleSet) else tuple(rules)
    spans = [c.duration for rule in rule_list if (c := _comparison(rule)) is not None]
    return max(spans) if spans else None


def _comparison(rule: Rule) -> Comparison | None:
    return rule.condition.threshold.relative_to


_SeriesKey = tuple[str, str, str, str | None, str]


def _series_key(sample: Sample) -> _SeriesKey:
    return (sample.monitor, sample.model_version, sample.segment, sample.feature, sample.metric)


class _Past:
    """Every known value per series (monitor, version, segment, feature, metric) and window start, for the
    comparisons of relative rules."""

    def __init__(self, history: Iterable[Sample], samples: Iterable[Sample]) -> None:
        self._series: dict[_SeriesKey, dict[datetime, Sample]] = defaultdict(dict)
        for sample in (*history, *samples):  # samples last: they replace a history row of the same window
            self._series[_series_key(sample)][sample.window_start] = sample

    def compared(self, rule: Rule, sample: Sample) -> float | None:
        """The value `sample` is compared with under `rule`; None when there is none (no data)."""
        comparison = _comparison(rule)
        if comparison is None:
            return None
        windows = self._series.get(_series_key(sample), {})
        if comparison.mode == "offset":
            earlier = windows.get(sample.window_start - comparison.duration)
            return _usable(rule, earlier)
        since = sample.window_start - comparison.duration
        values = [
            value
            for start, past in windows.items()
            if since <= start < sample.window_start and (value := _usable(rule, past)) is not None
        ]
        return math.fsum(values) / len(values) if values else None


def _usable(rule: Rule, sample: Sample | None) -> float | None:
    """A past value fit to compare with: present, finite, and backed by `min_samples` (else no data)."""
    if sample is None or sample.value is None or not math.isfinite(sample.value):
        return None
    minimum = rule.condition.min_samples
    if minimum is not None and (sample.samples is None or sample.samples < minimum):
        return None
    return sample.value


def _instances(
    rules: Sequence[Rule], samples: Iterable[Sample], past: _Past
) -> list[tuple[Rule, InstanceKey, dict[datetime, Sample]]]:
    by_metric: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_metric[sample.metric].append(sample)
    found: dict[InstanceKey, tuple[Rule, dict[datetime, Sample]]] = {}
    for rule in rules:
        metrics = [m for m in by_metric if any(fnmatchcase(m, p) for p in rule.select.metric)]
        for metric in sorted(metrics):
            for sample in by_metric[metric]:
                if not rule.select.matches(sample):
                    continue
                key = InstanceKey(
                    rule.name, sample.monitor, sample.model_version, sample.segment, sample.feature
                )
                windows = found.setdefault(key, (rule, {}))[1]
                earlier = windows.get(sample.window_start)
                # A metric glob can give one instance two values in a window: judge the worse one.
                if earlier is None or _badness(rule, sample, past) > _badness(rule, earlier, past):
                    windows[sample.window_start] = sample
    return [
        (rule, key, windows)
        for key, (rule, windows) in sorted(found.items(), key=lambda item: item[0].sort_key())
    ]


def _badness(rule: Rule, sample: Sample, past: _Past) -> float:
    """How far past its threshold a sample is (higher is worse); -inf when it cannot be judged."""
    judged = _judgeable(rule, sample, past.compared(rule, sample))
    if judged is None:
        return -math.inf
    value, threshold = judged
    op = rule.condition.op
    if op.upward:
        return value - threshold
    if op in (Op.LT, Op.LE):
        return threshold - value
    return 1.0 if op.compare(value, threshold) else 0.0


def _judgeable(rule: Rule, sample: Sample, compared: float | None) -> tuple[float, float] | None:
    """(value, resolved threshold) when the window has data enough to judge, else None ("no data")."""
    condition = rule.condition
    value = sample.value
    if value is None or math.isnan(value):
        return None
    if condition.min_samples is not None and (
        sample.samples is None or sample.samples < condition.min_samples
    ):
        return None
    threshold = condition.threshold.resolve(sample.baseline, compared)
    if threshold is None:
        return None
    return value, threshold


@dataclass(frozen=True)
class _Step:
    state: AlertState
    transition: Transition | None
    labels: dict[str, str]
    threshold: float
    recover: float | None
    starts_at: datetime
    compared: float | None = None  # relative rules: the past value the window was compared with


def _step(rule: Rule, state: AlertState, sample: Sample, now: datetime, past: _Past) -> _Step | None:
    compared = past.compared(rule, sample)
    judged = _judgeable(rule, sample, compared)
    if judged is None:
        return None
    value, threshold = judged
    condition = rule.condition
    recover = condition.recover.resolve(sample.baseline, compared) if condition.recover is not None else None
    bad = condition.op.compare(value, threshold)
    healthy = not bad if recover is None else _past_recovery(condition.op, value, recover)
    window = sample.window_start
    labels = _labels(rule, sample)

    def step(new: AlertState, transition: Transition | None, starts_at: datetime | None) -> _Step:
        return _Step(new, transition, labels, threshold, recover, starts_at or window, compared)

    if state.status is AlertStatus.FIRING:
        if healthy:
            healthy_windows = state.healthy_windows + 1
            if healthy_windows > rule.keep_firing_for:
                resolved = AlertState(resolved_at=window, last_window=window, last_value=value)
                announced = state.last_notified_at is not None and rule.route.send_resolved
                return step(resolved, Transition.RESOLVED if announced else None, state.fired_at)
        else:
            healthy_windows = 0
        still = replace(
            state,
            healthy_windows=healthy_windows,
            bad_windows=state.bad_windows + 1 if bad else state.bad_windows,
            last_window=window,
            last_value=value,
        )
        repeat = _repeat_due(rule, state, now)
        return step(still, Transition.REPEAT if repeat else None, state.fired_at)
    if not bad:
        return step(
            replace(
                state,
                status=AlertStatus.INACTIVE,
                bad_windows=0,
                active_since=None,
                last_window=window,
                last_value=value,
            ),
            None,
            None,
        )
    pending = state.status is AlertStatus.PENDING
    bad_windows = state.bad_windows + 1 if pending else 1
    active_since = state.active_since if pending and state.active_since else window
    if bad_windows >= rule.for_windows:
        firing = replace(
            state,
            status=AlertStatus.FIRING,
            bad_windows=bad_windows,
            healthy_windows=0,
            active_since=active_since,
            fired_at=window,
            last_notified_at=None,
            last_window=window,
            last_value=value,
        )
        return step(firing, Transition.FIRING, window)
    pending_state = replace(
        state,
        status=AlertStatus.PENDING,
        bad_windows=bad_windows,
        active_since=active_since,
        last_window=window,
        last_value=value,
    )
    return step(pending_state, None, None)


def _past_recovery(op: Op, value: float, recover: float) -> bool:
    """True when the value is on the healthy side of the recovery level (hysteresis)."""
    if op is Op.GT:
        return value <= recover
    if op is Op.GE:
        return value < recover
    if op is Op.LT:
        return value >= recover
    if op is Op.LE:
        return value > recover
    return not op.compare(value, recover)


def _repeat_due(rule: Rule, state: AlertState, now: datetime) -> bool:
    if state.last_notified_at is None:
        return True  # the firing was silenced (or never sent): announce it now
    interval = rule.route.repeat_interval
    return interval is not None and now - state.last_notified_at >= interval


def _labels(rule: Rule, sample: Sample) -> dict[str, str]:
    labels = {
        "alertname": rule.name,
        "monitor": sample.monitor,
        "model_version": sample.model_version,
        "segment": sample.segment,
        "metric": sample.metric,
    }
    if sample.feature is not None:
        labels["feature"] = sample.feature
    labels.update(rule.labels)
    return labels


def _notifications(
    rule: Rule,
    key: InstanceKey,
    sample: Sample,
    step: _Step,
    now: datetime,
    silence: Silence | None,
) -> list[Notification]:
    assert step.transition is not None
    context: dict[str, object] = {
        "alertname": rule.name,
        "value": sample.value,
        "threshold": step.threshold,
        "recover": step.recover,
        "baseline": sample.baseline,
        "compared_to": step.compared,
        "samples": sample.samples,
        "labels": step.labels,
        "monitor": sample.monitor,
        "metric": sample.metric,
        "feature": sample.feature,
        "model_version": sample.model_version,
        "segment": sample.segment,
        "window_start": sample.window_start,
        "window_end": sample.window_end,
        "report_url": sample.report_url,
        "state": step.transition.value,
    }
    rendered = render_annotations(rule.annotations, context)
    alert = Alert(
        instance=key,
        metric=sample.metric,
        value=sample.value,
        op=rule.condition.op,
        threshold=step.threshold,
        recover=step.recover,
        # Messages show the baseline beside the value: for relative rules, the past value it was judged against.
        baseline=step.compared if _comparison(rule) is not None else sample.baseline,
        samples=sample.samples,
        labels=step.labels,
        annotations=rendered.values,
        starts_at=step.starts_at,
        ends_at=sample.window_end if step.transition is Transition.RESOLVED else None,
        report_url=sample.report_url,
        template_error=rendered.error,
        fingerprint=fingerprint(key),
    )
    return [
        Notification(
            dedupe_key=dedupe_key(key, channel, step.transition, sample.window_start),
            channel=channel,
            transition=step.transition,
            rule=rule.name,
            monitor=sample.monitor,
            window_start=sample.window_start,
            window_end=sample.window_end,
            created_at=now,
            alert=alert,
            silenced_by=silence.id if silence is not None else None,
        )
        for channel in rule.route.channels
    ]


def dedupe_key(key: InstanceKey, channel: str, transition: Transition, window_start: datetime) -> str:
    """Stable across processes and runs: the outbox's unique key for one message."""
    text = "\x1e".join((key.as_text(), channel, transition.value, as_utc(window_start).isoformat()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint(key: InstanceKey) -> str:
    """A short stable id of the instance (Alertmanager's `fingerprint` field)."""
    return hashlib.sha256(key.as_text().encode()).hexdigest()[:16]
