"""Grouping notifications into messages, and the message's JSON form for the outbox.

Notifications of the same (monitor, rule, transition, channel, window) become one `AlertGroup`: one Slack
message or one webhook call listing every feature (and model version or segment) with its value.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from driftwatch.alerting.model import Alert, InstanceKey, Notification, Op, Transition


@dataclass(frozen=True)
class AlertGroup:
    """One message to one channel. `dedupe_key` is the outbox's unique key for it."""

    dedupe_key: str
    channel: str
    transition: Transition
    rule: str
    monitor: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    alerts: tuple[Alert, ...]
    notification_keys: tuple[str, ...] = ()  # the member notifications' dedupe keys

    @property
    def status(self) -> str:
        return self.transition.status

    @property
    def group_labels(self) -> dict[str, str]:
        return {"alertname": self.rule, "monitor": self.monitor}

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (no NaN/inf floats, ISO 8601 times) for storing in the outbox."""
        return {
            "dedupe_key": self.dedupe_key,
            "channel": self.channel,
            "transition": self.transition.value,
            "rule": self.rule,
            "monitor": self.monitor,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "created_at": self.created_at.isoformat(),
            "notification_keys": list(self.notification_keys),
            "alerts": [_alert_to_dict(a) for a in self.alerts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertGroup:
        return cls(
            dedupe_key=data["dedupe_key"],
            channel=data["channel"],
            transition=Transition(data["transition"]),
            rule=data["rule"],
            monitor=data["monitor"],
            window_start=datetime.fromisoformat(data["window_start"]),
            window_end=datetime.fromisoformat(data["window_end"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            notification_keys=tuple(data.get("notification_keys", ())),
            alerts=tuple(_alert_from_dict(a) for a in data["alerts"]),
        )


def group_notifications(notifications: Iterable[Notification]) -> list[AlertGroup]:
    """Messages for the notifications, worst alert first in each, in a stable order."""
    buckets: dict[tuple[str, str, str, str, datetime], list[Notification]] = {}
    for item in notifications:
        key = (item.monitor, item.rule, item.transition.value, item.channel, item.window_start)
        buckets.setdefault(key, []).append(item)
    groups = []
    for (monitor, rule, _, channel, window_start), members in sorted(buckets.items(), key=_bucket_order):
        members.sort(key=lambda n: _severity_order(n.alert))
        keys = tuple(n.dedupe_key for n in members)
        groups.append(
            AlertGroup(
                dedupe_key=group_key(keys),
                channel=channel,
                transition=members[0].transition,
                rule=rule,
                monitor=monitor,
                window_start=window_start,
                window_end=max(n.window_end for n in members),
                created_at=min(n.created_at for n in members),
                alerts=tuple(n.alert for n in members),
                notification_keys=keys,
            )
        )
    return groups


def group_key(notification_keys: Iterable[str]) -> str:
    """Derived from the members' keys, so a group that gains a member later is a new message, and the same
    members give the same key on a re-run."""
    text = "\x1e".join(sorted(notification_keys))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _bucket_order(item: tuple[tuple[str, str, str, str, datetime], list[Notification]]) -> tuple[object, ...]:
    monitor, rule, transition, channel, window_start = item[0]
    return (window_start, monitor, rule, transition, channel)


def _severity_order(alert: Alert) -> tuple[float, str, str, str]:
    """Worst first: furthest past the threshold, then by name for a stable order."""
    distance = 0.0
    if alert.value is not None and alert.threshold is not None and not math.isnan(alert.value):
        if alert.op.upward:
            distance = alert.value - alert.threshold
        elif alert.op in (Op.LT, Op.LE):
            distance = alert.threshold - alert.value
    key = alert.instance
    return (-distance, key.feature or "", key.model_version, key.segment)


def _common(mappings: list[Mapping[str, str]]) -> dict[str, str]:
    if not mappings:
        return {}
    first = mappings[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in mappings[1:])}


def _float_out(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)  # "inf", "-inf", "nan": strict JSON has no such numbers


def _float_in(value: float | str | None) -> float | None:
    return None if value is None else float(value)


def _alert_to_dict(alert: Alert) -> dict[str, Any]:
    key = alert.instance
    return {
        "instance": {
            "rule": key.rule,
            "monitor": key.monitor,
            "model_version": key.model_version,
            "segment": key.segment,
            "feature": key.feature,
        },
        "metric": alert.metric,
        "value": _float_out(alert.value),
        "op": alert.op.value,
        "threshold": _float_out(alert.threshold),
        "recover": _float_out(alert.recover),
        "baseline": _float_out(alert.baseline),
        "samples": alert.samples,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "report_url": alert.report_url,
        "template_error": alert.template_error,
        "fingerprint": alert.fingerprint,
    }


def _alert_from_dict(data: Mapping[str, Any]) -> Alert:
    return Alert(
        instance=InstanceKey(**data["instance"]),
        metric=data["metric"],
        value=_float_in(data["value"]),
        op=Op(data["op"]),
        threshold=_float_in(data["threshold"]),
        recover=_float_in(data["recover"]),
        baseline=_float_in(data["baseline"]),
        samples=data["samples"],
        labels=dict(data["labels"]),
        annotations=dict(data["annotations"]),
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]) if data["ends_at"] else None,
        report_url=data["report_url"],
        template_error=data["template_error"],
        fingerprint=data["fingerprint"],
    )
