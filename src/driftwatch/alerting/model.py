"""The data the alerting package passes around: samples in, rules, per-instance state, notifications out.

Plain frozen dataclasses with no behaviour beyond small, pure helpers, so storage can map them to rows and
tests can build them by hand.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Literal

from driftwatch.config.channels import ChannelConfig
from driftwatch.durations import format_duration


@dataclass(frozen=True)
class Sample:
    """One value of one metric for one instance in one window, as the pipeline's results tables hold it."""

    monitor: str
    model_version: str
    segment: str
    feature: str | None
    metric: str
    window_start: datetime  # UTC-aware
    window_end: datetime
    value: float | None  # None: no data, or too few labels to judge
    samples: int | None  # rows (or labels) behind the value, for min_samples / min_labels
    baseline: float | None = None  # e.g. reference performance, for reference_drop thresholds
    report_url: str | None = None


class Op(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    @property
    def compare(self) -> Callable[[float, float], bool]:
        return _COMPARE[self]

    @property
    def upward(self) -> bool:
        """True when larger values are worse (the alert fires above the threshold)."""
        return self in (Op.GT, Op.GE)

    @property
    def ordered(self) -> bool:
        return self not in (Op.EQ, Op.NE)


_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}

ThresholdKind = Literal[
    "absolute", "reference_drop", "relative_drop", "reference_rise", "relative_rise", "change", "delta"
]
RELATIVE_KINDS: tuple[ThresholdKind, ...] = (
    "reference_drop",
    "relative_drop",
    "reference_rise",
    "relative_rise",
)
# Judged against the same metric's own past (`relative_to`): `change` is a signed fraction, `delta` an amount.
COMPARED_KINDS: tuple[ThresholdKind, ...] = ("change", "delta")


@dataclass(frozen=True)
class Comparison:
    """What a window is compared with: the window `duration` earlier (`offset`), or the mean of the windows
    that started in the `duration` before it (`trailing`)."""

    mode: Literal["offset", "trailing"]
    duration: timedelta

    def describe(self) -> str:
        text = format_duration(self.duration)
        return f"{text} earlier" if self.mode == "offset" else f"the trailing {text} mean"


@dataclass(frozen=True)
class Threshold:
    """A fixed number, an amount relative to the sample's baseline (its reference performance), or a change
    against the same metric's past (`relative_to`: a window `offset` earlier, or the `trailing` mean)."""

    kind: ThresholdKind
    amount: float
    relative_to: Comparison | None = None  # set for the COMPARED_KINDS

    def resolve(self, baseline: float | None, compared: float | None = None) -> float | None:
        """The numeric threshold for one sample; None when it is relative and the sample has no baseline
        (or, for `relative_to`, no comparison value)."""
        if self.kind == "absolute":
            return self.amount
        if self.kind in COMPARED_KINDS:
            if compared is None or not math.isfinite(compared):
                return None
            if self.kind == "delta":
                return compared + self.amount
            # A fraction of the magnitude: "down 10 %" stays below the past value even for negative metrics.
            return compared + self.amount * abs(compared)
        if baseline is None or not math.isfinite(baseline):
            return None
        if self.kind == "reference_drop":
            return baseline - self.amount
        if self.kind == "relative_drop":
            return baseline * (1.0 - self.amount)
        if self.kind == "reference_rise":
            return baseline + self.amount
        return baseline * (1.0 + self.amount)

    def describe(self) -> str:
        if self.kind == "absolute":
            return f"{self.amount:g}"
        if self.relative_to is not None:
            amount = f"{self.amount:+.1%}" if self.kind == "change" else f"{self.amount:+g}"
            return f"{amount} vs {self.relative_to.describe()}"
        return f"{self.kind.replace('_', ' ')} {self.amount:g}"


@dataclass(frozen=True)
class Condition:
    """When an instance is bad (`op` against `threshold`) and when it is healthy again (`recover`)."""

    op: Op
    threshold: Threshold
    recover: Threshold | None = None  # None: healthy as soon as the condition is false
    min_samples: int | None = None  # below this many rows/labels a window is "no data"


@dataclass(frozen=True)
class Selector:
    """Glob patterns (`fnmatch`, case-sensitive) that pick the samples a rule looks at.

    An absent field matches everything; a pattern never matches a sample whose feature is None (whole-model
    metrics), so `feature: "*"` means "every feature".
    """

    metric: tuple[str, ...]
    monitor: tuple[str, ...] | None = None
    feature: tuple[str, ...] | None = None
    segment: tuple[str, ...] | None = None
    model_version: tuple[str, ...] | None = None

    def matches(self, sample: Sample) -> bool:
        return (
            _any_match(self.metric, sample.metric)
            and _optional_match(self.monitor, sample.monitor)
            and _optional_match(self.feature, sample.feature)
            and _optional_match(self.segment, sample.segment)
            and _optional_match(self.model_version, sample.model_version)
        )


def _any_match(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _optional_match(patterns: tuple[str, ...] | None, value: str | None) -> bool:
    if patterns is None:
        return True
    return value is not None and _any_match(patterns, value)


@dataclass(frozen=True)
class Route:
    channels: tuple[str, ...]
    repeat_interval: timedelta | None = timedelta(hours=24)  # None: never repeat
    send_resolved: bool = True


@dataclass(frozen=True)
class Rule:
    name: str  # the `alert` name; unique in a rule set, part of every instance key
    group: str
    select: Selector
    condition: Condition
    route: Route
    for_windows: int = 1
    keep_firing_for: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)  # Jinja2 sources, compiled at load
    source: str = ""
    line: int = 0


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    channels: Mapping[str, ChannelConfig]
    files: tuple[str, ...] = ()

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


@dataclass(frozen=True)
class InstanceKey:
    """The identity of one alert instance: its state is kept, and its notifications deduplicated, by this."""

    rule: str
    monitor: str
    model_version: str
    segment: str
    feature: str | None

    def sort_key(self) -> tuple[str, str, str, str, bool, str]:
        """A total order (whole-model instances, feature None, before per-feature ones)."""
        feature = self.feature
        return (self.rule, self.monitor, self.model_version, self.segment, feature is not None, feature or "")

    def as_text(self) -> str:
        feature = "" if self.feature is None else self.feature
        return "\x1f".join((self.rule, self.monitor, self.model_version, self.segment, feature))


class AlertStatus(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True)
class AlertState:
    """What evaluation remembers about one instance between runs (stored durably by the pipeline)."""

    status: AlertStatus = AlertStatus.INACTIVE
    bad_windows: int = 0  # consecutive evaluated windows with the condition true (the pending counter)
    healthy_windows: int = 0  # consecutive windows past the recovery level while firing (keep_firing_for)
    last_window: datetime | None = None  # window_start of the last evaluated window
    active_since: datetime | None = None  # window_start of the first bad window of the current episode
    fired_at: datetime | None = None  # window_start of the window that made it fire
    last_notified_at: datetime | None = None  # `now` of the last firing/repeat notification not silenced
    last_value: float | None = None
    resolved_at: datetime | None = None  # window_start of the window that resolved the last episode


class Transition(StrEnum):
    FIRING = "firing"
    REPEAT = "repeat"  # still firing after repeat_interval (or after a silence hid the first message)
    RESOLVED = "resolved"

    @property
    def status(self) -> Literal["firing", "resolved"]:
        return "resolved" if self is Transition.RESOLVED else "firing"


@dataclass(frozen=True)
class Alert:
    """One instance's facts at the moment of a notification: what a message shows for it."""

    instance: InstanceKey
    metric: str
    value: float | None
    op: Op
    threshold: float | None
    recover: float | None
    baseline: float | None
    samples: int | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime  # window_start of the window that fired
    ends_at: datetime | None = None  # resolved: window_end of the window that resolved it
    report_url: str | None = None
    template_error: str | None = None  # set when an annotation fell back to the plain message
    fingerprint: str = ""


@dataclass(frozen=True)
class Notification:
    """One message owed to one channel about one instance. `dedupe_key` is unique per (rule, instance,
    channel, transition, window): an outbox with a unique constraint on it makes re-runs harmless."""

    dedupe_key: str
    channel: str
    transition: Transition
    rule: str
    monitor: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    alert: Alert
    silenced_by: str | None = None


@dataclass(frozen=True)
class EvaluationResult:
    new_state: Mapping[InstanceKey, AlertState]  # previous state with every evaluated instance updated
    notifications: tuple[Notification, ...]  # to deliver
    suppressed: tuple[Notification, ...] = ()  # silenced: record them, do not deliver
    changed: frozenset[InstanceKey] = frozenset()  # instances whose state differs from the previous one
