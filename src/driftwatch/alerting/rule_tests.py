"""Unit tests for rule files, in the spirit of `promtool test rules`: `driftwatch rules test FILE`.

A test file feeds window-by-window input series through `evaluate` (one call per window, `now` = the window's
end, state carried over as the service would store it) and checks which alerts are pending or firing, and
optionally which notifications went out, after given windows:

```yaml
rule_files: [demo.yml]            # relative to this file
window: 1d                        # width of one window (default 1d)
start: "2026-01-05T00:00:00Z"     # start of the first window (default 2026-01-05T00:00Z)
tests:
  - name: PSI above the threshold for two windows fires
    input_series:
      - labels: {monitor: credit-default, metric: psi, feature: age}  # model_version v1, segment all
        values: "0.05 0.3 0.4 0.05 _ 0.2x3"   # _ = no data; 0.2x3 = three windows of 0.2
        samples: 1000                         # rows behind each value (default 1000000)
        baseline: 0.81                        # for reference_drop / relative_drop thresholds
        # Relative rules (`relative_to: {offset: 7d}`) compare with earlier values of the same series: give
        # the past windows as the first values (with 1d windows, window 8 is compared with window 1).
    expected:
      - at_window: 3                          # 1 = the first value
        alerts:                               # every pending/firing alert, exactly
          - {alert: FeaturePSIHigh, labels: {feature: age}, state: firing}
        notifications:                        # optional: the messages sent after this window
          - {alert: FeaturePSIHigh, transition: firing, labels: {feature: age}}
```

Expected `labels` are matched as a subset of the alert's labels; `annotations` (notifications only) too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.model import (
    AlertState,
    AlertStatus,
    InstanceKey,
    Notification,
    RuleSet,
    Sample,
    Transition,
)
from driftwatch.alerting.rules import load_rules
from driftwatch.config.channels import ChannelConfig
from driftwatch.config.issues import IssueCollector, RuleError, RuleIssue
from driftwatch.config.yaml_lines import LineMap, error_line, line_of, load_yaml_with_lines
from driftwatch.durations import as_utc

FILE_KEYS = frozenset({"rule_files", "window", "start", "tests"})
TEST_KEYS = frozenset({"name", "window", "input_series", "expected"})
SERIES_KEYS = frozenset({"labels", "values", "samples", "baseline"})
SERIES_LABELS = frozenset({"monitor", "metric", "feature", "segment", "model_version"})
EXPECTED_KEYS = frozenset({"at_window", "alerts", "notifications"})
ALERT_KEYS = frozenset({"alert", "labels", "state"})
NOTIFICATION_KEYS = frozenset({"alert", "labels", "transition", "annotations"})

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
DEFAULT_SAMPLES = 1_000_000
_VALUE = re.compile(r"^(?P<value>_|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?inf|nan)(x(?P<times>\d+))?$")


@dataclass(frozen=True)
class RuleTestFailure:
    test: str
    at_window: int | None
    message: str
    line: int = 0

    def __str__(self) -> str:
        where = f" (window {self.at_window})" if self.at_window is not None else ""
        return f"{self.test}{where}: {self.message}"


@dataclass
class RuleTestReport:
    file: str
    tests_run: int = 0
    failures: list[RuleTestFailure] = field(default_factory=list)
    issues: list[RuleIssue] = field(default_factory=list)  # the test file or rule files are invalid

    @property
    def ok(self) -> bool:
        return not self.failures and not self.issues

    def format(self) -> str:
        lines = [str(issue) for issue in self.issues]
        lines += [f"{self.file}:{f.line}: FAILED {f}" for f in self.failures]
        status = "ok" if self.ok else "FAILED"
        lines.append(f"{self.file}: {self.tests_run} test(s), {len(self.failures)} failure(s): {status}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Series:
    labels: Mapping[str, str | None]
    values: list[float | None]
    samples: int
    baseline: float | None


@dataclass(frozen=True)
class _Expected:
    at_window: int
    alerts: list[LineMap] | None
    notifications: list[LineMap] | None
    line: int


@dataclass(frozen=True)
class _Test:
    name: str
    window: timedelta
    series: list[_Series]
    expected: list[_Expected]
    line: int


def run_rule_tests(
    path: str | Path, known_channels: Mapping[str, ChannelConfig] | None = None
) -> RuleTestReport:
    """Run every test in one test file; problems and failures are in the report, nothing is raised."""
    report = RuleTestReport(str(path))
    collector = IssueCollector(str(path))
    parsed = _parse(Path(path), collector)
    if parsed is None or collector.issues:
        report.issues = collector.issues
        return report
    rule_files, start, tests = parsed
    try:
        rules = load_rules(rule_files, known_channels)
    except RuleError as error:
        report.issues = error.issues
        return report
    for test in tests:
        report.tests_run += 1
        report.failures.extend(_run(test, rules, start))
    return report


def _run(test: _Test, rules: RuleSet, start: datetime) -> list[RuleTestFailure]:
    failures: list[RuleTestFailure] = []
    windows = max((len(s.values) for s in test.series), default=0)
    by_window = {e.at_window: e for e in test.expected}
    for e in test.expected:
        if not 1 <= e.at_window <= windows:
            failures.append(
                RuleTestFailure(
                    test.name, e.at_window, f"at_window is outside the series (1..{windows})", e.line
                )
            )
    state: Mapping[InstanceKey, AlertState] = {}
    past: list[Sample] = []  # earlier windows: what relative rules (`relative_to`) compare with
    for index in range(windows):
        window_start = start + index * test.window
        window_end = window_start + test.window
        samples = [
            _sample(series, series.values[index], window_start, window_end)
            for series in test.series
            if index < len(series.values)
        ]
        result = evaluate(rules, samples, state, [], window_end, history=past)
        past.extend(samples)
        state = result.new_state
        expected = by_window.get(index + 1)
        if expected is not None:
            failures.extend(_check(test, expected, rules, state, result.notifications))
    return failures


def _sample(series: _Series, value: float | None, start: datetime, end: datetime) -> Sample:
    labels = series.labels
    return Sample(
        monitor=str(labels.get("monitor")),
        model_version=str(labels.get("model_version") or "v1"),
        segment=str(labels.get("segment") or "all"),
        feature=labels.get("feature"),
        metric=str(labels.get("metric")),
        window_start=start,
        window_end=end,
        value=value,
        samples=series.samples,
        baseline=series.baseline,
    )


def _instance_labels(key: InstanceKey, rules: RuleSet) -> dict[str, str]:
    labels = {
        "alertname": key.rule,
        "monitor": key.monitor,
        "model_version": key.model_version,
        "segment": key.segment,
    }
    if key.feature is not None:
        labels["feature"] = key.feature
    labels.update(rules.rule(key.rule).labels)
    return labels


def _subset(expected: object, actual: Mapping[str, str]) -> bool:
    if not isinstance(expected, Mapping):
        return False
    return all(actual.get(str(k)) == str(v) for k, v in expected.items())


@dataclass(frozen=True)
class _Actual:
    name: str
    status: str  # alert state, or notification transition
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.name} {self.status} {_short(self.labels)}"


def _check(
    test: _Test,
    expected: _Expected,
    rules: RuleSet,
    state: Mapping[InstanceKey, AlertState],
    notifications: tuple[Notification, ...],
) -> list[RuleTestFailure]:
    failures = []
    if expected.alerts is not None:
        alerts = [
            _Actual(key.rule, st.status.value, _instance_labels(key, rules))
            for key, st in sorted(state.items(), key=lambda item: item[0].sort_key())
            if st.status is not AlertStatus.INACTIVE
        ]
        failures += _match(test, expected, "alert", alerts, expected.alerts, "state")
    if expected.notifications is not None:
        said: dict[tuple[str, str], _Actual] = {}
        for n in notifications:  # one per channel; the test is about what was said, not where
            actual = _Actual(n.rule, n.transition.value, n.alert.labels, n.alert.annotations)
            said.setdefault((n.alert.fingerprint, n.transition.value), actual)
        failures += _match(
            test, expected, "notification", list(said.values()), expected.notifications, "transition"
        )
    return failures


def _match(
    test: _Test,
    expected: _Expected,
    what: str,
    actual: list[_Actual],
    wanted: list[LineMap],
    status_key: str,
) -> list[RuleTestFailure]:
    """Each wanted entry must match its own actual item; leftover actual items are unexpected."""
    failures = []
    remaining = list(actual)
    unmatched_names: set[str] = set()
    for entry in wanted:
        name, status = str(entry["alert"]), str(entry.get(status_key, "firing"))
        labels, annotations = entry.get("labels", {}), entry.get("annotations", {})
        hit = next(
            (
                a
                for a in remaining
                if a.name == name
                and a.status == status
                and _subset(labels, a.labels)
                and _subset(annotations, a.annotations)
            ),
            None,
        )
        if hit is not None:
            remaining.remove(hit)
            continue
        got = "; ".join(a.describe() for a in actual) or "nothing"
        wanted_text = f"{what} {name} {status} {dict(labels)}"
        if annotations:
            near = [a for a in actual if a.name == name and a.status == status and _subset(labels, a.labels)]
            got = "; ".join(f"{a.describe()} annotations {dict(a.annotations)}" for a in near) or got
            wanted_text += f" with annotations {dict(annotations)}"
        unmatched_names.add(name)
        failures.append(
            RuleTestFailure(test.name, expected.at_window, f"expected {wanted_text}, got: {got}", entry.line)
        )
    for leftover in remaining:
        if leftover.name in unmatched_names:
            continue  # already listed under "got:" of the expectation it failed
        failures.append(
            RuleTestFailure(
                test.name, expected.at_window, f"unexpected {what} {leftover.describe()}", expected.line
            )
        )
    return failures


def _short(labels: Mapping[str, str]) -> str:
    hidden = {"alertname", "monitor"}
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in hidden) + "}"


# Parsing and validating the test file.


def _parse(path: Path, collector: IssueCollector) -> tuple[list[Path], datetime, list[_Test]] | None:
    try:
        document = load_yaml_with_lines(path.read_text(encoding="utf-8"))
    except OSError as error:
        collector.add(0, f"cannot read the test file: {error.strerror or error}", "check the path")
        return None
    except yaml.YAMLError as error:
        collector.add(error_line(error), f"not valid YAML: {getattr(error, 'problem', None) or error}")
        return None
    top = collector.mapping(document, 1, "a rule test file", "{rule_files: [...], tests: [...]}")
    if top is None:
        return None
    collector.unknown_keys(top, FILE_KEYS, "the rule test file")
    files: list[Path] = []
    raw_files = top.get("rule_files")
    if raw_files is None:
        collector.add(top.line, "the test file has no `rule_files`", "add `rule_files: [demo.yml]`")
    else:
        items = collector.sequence(raw_files, line_of(top, "rule_files"), "`rule_files`", "[demo.yml]")
        for item in items or []:
            if isinstance(item, str):
                files.append(path.parent / item)
            else:
                collector.add(
                    line_of(top, "rule_files"), f"rule file {item!r} is not a path", "write [demo.yml]"
                )
    window = collector.duration(top, "window", "the test file") if "window" in top else timedelta(days=1)
    start = DEFAULT_START
    if "start" in top:
        start = _start(top, collector) or DEFAULT_START
    tests = []
    raw_tests = collector.sequence(top.get("tests"), line_of(top, "tests"), "`tests`", "- name: ...")
    for index, raw in enumerate(raw_tests or []):
        test = collector.mapping(raw, line_of(raw_tests, index), "a test", "{name: ..., input_series: [...]}")
        if test is not None:
            parsed = _test(test, window or timedelta(days=1), collector)
            if parsed is not None:
                tests.append(parsed)
    return files, start, tests


def _start(top: LineMap, collector: IssueCollector) -> datetime | None:
    value = top["start"]
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        collector.add(
            line_of(top, "start"), f"`start` is not a UTC time: {value!r}", 'write "2026-01-05T00:00:00Z"'
        )
        return None
    return as_utc(moment)


def _test(test: LineMap, window: timedelta, collector: IssueCollector) -> _Test | None:
    name = collector.text(test, "name", "a test") or f"test at line {test.line}"
    where = f"test {name!r}"
    collector.unknown_keys(test, TEST_KEYS, where)
    if "window" in test:
        window = collector.duration(test, "window", where) or window
    series = []
    raw_series = collector.sequence(
        test.get("input_series"), line_of(test, "input_series"), "`input_series`", "- labels: ..."
    )
    for index, raw in enumerate(raw_series or []):
        item = collector.mapping(
            raw, line_of(raw_series, index), "an input series", "{labels: ..., values: ...}"
        )
        if item is not None:
            parsed = _series(item, where, collector)
            if parsed is not None:
                series.append(parsed)
    expected = []
    raw_expected = collector.sequence(
        test.get("expected"), line_of(test, "expected"), "`expected`", "- at_window: 1"
    )
    for index, raw in enumerate(raw_expected or []):
        item = collector.mapping(
            raw, line_of(raw_expected, index), "an expectation", "{at_window: 3, alerts: []}"
        )
        if item is not None:
            parsed_e = _expected(item, where, collector)
            if parsed_e is not None:
                expected.append(parsed_e)
    return _Test(name, window, series, expected, test.line)


def _series(item: LineMap, where: str, collector: IssueCollector) -> _Series | None:
    collector.unknown_keys(item, SERIES_KEYS, f"an input series of {where}")
    labels = collector.mapping(
        item.get("labels"), line_of(item, "labels"), "`labels`", "{monitor: m, metric: psi}"
    )
    if labels is None:
        return None
    collector.unknown_keys(labels, SERIES_LABELS, "series labels")
    for key in ("monitor", "metric"):
        if key not in labels:
            collector.add(labels.line, f"series labels have no `{key}`", f"add `{key}: ...`")
    values = _values(item, collector)
    samples = DEFAULT_SAMPLES
    if "samples" in item:
        samples = collector.integer(item, "samples", "an input series", 0, "write e.g. `samples: 1000`") or 0
    baseline = collector.number(item, "baseline", "an input series") if "baseline" in item else None
    if values is None:
        return None
    clean = {str(k): (None if v is None else str(v)) for k, v in labels.items()}
    return _Series(clean, values, samples, baseline)


def _values(item: LineMap, collector: IssueCollector) -> list[float | None] | None:
    raw = item.get("values")
    line = line_of(item, "values")
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        collector.add(line, "`values` must be a string of numbers", 'write `values: "0.05 0.3 _ 0.2x3"`')
        return None
    values: list[float | None] = []
    for token in str(raw).split():
        match = _VALUE.match(token)
        if match is None:
            collector.add(
                line, f"bad value {token!r} in `values`", "use numbers, `_` for no data, `0.2x3` to repeat"
            )
            return None
        value = None if match["value"] == "_" else float(match["value"])
        values.extend([value] * int(match["times"] or 1))
    return values


def _expected(item: LineMap, where: str, collector: IssueCollector) -> _Expected | None:
    collector.unknown_keys(item, EXPECTED_KEYS, f"an expectation of {where}")
    if "at_window" not in item:
        collector.add(item.line, "an expectation has no `at_window`", "add `at_window: 3` (1 = first value)")
        return None
    at = collector.integer(item, "at_window", "an expectation", 1, "windows count from 1")
    alerts = _entries(item, "alerts", ALERT_KEYS, collector)
    notifications = _entries(item, "notifications", NOTIFICATION_KEYS, collector)
    if at is None:
        return None
    if alerts is None and notifications is None:
        collector.add(item.line, "an expectation checks nothing", "add `alerts: [...]` (or `alerts: []`)")
    return _Expected(at, alerts, notifications, item.line)


def _entries(
    item: LineMap, key: str, allowed: frozenset[str], collector: IssueCollector
) -> list[LineMap] | None:
    if key not in item:
        return None
    raw = item[key]
    if raw is None:
        return []
    entries = collector.sequence(raw, line_of(item, key), f"`{key}`", "- {alert: X, state: firing}")
    result = []
    for index, entry in enumerate(entries or []):
        mapping = collector.mapping(entry, line_of(entries, index), f"an entry of `{key}`", "{alert: X}")
        if mapping is None:
            continue
        collector.unknown_keys(mapping, allowed, f"an entry of `{key}`")
        if "alert" not in mapping:
            collector.add(mapping.line, f"an entry of `{key}` has no `alert`", "add `alert: <rule name>`")
            continue
        if "state" in mapping and mapping["state"] not in (
            AlertStatus.PENDING.value,
            AlertStatus.FIRING.value,
        ):
            collector.add(
                line_of(mapping, "state"), f"state {mapping['state']!r} is not pending or firing", ""
            )
        if "transition" in mapping and mapping["transition"] not in {t.value for t in Transition}:
            collector.add(line_of(mapping, "transition"), "transition must be firing, repeat or resolved", "")
        for sub in ("labels", "annotations"):
            if sub in mapping and not isinstance(mapping[sub], LineMap):
                collector.add(
                    line_of(mapping, sub), f"`{sub}` must be a mapping", f"write `{sub}: {{feature: age}}`"
                )
        result.append(mapping)
    return result
