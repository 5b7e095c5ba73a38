"""Prometheus Alertmanager: alerts POSTed to its `/api/v2/alerts`, as Prometheus itself sends them.

Alertmanager keeps an alert active until its `endsAt`; an alert posted without one is given
`now + resolve_timeout` (5m by default). So every post carries an explicit `endsAt`:

* firing (and repeat, and re-post): `endsAt = send time + 4 x resend_interval` (the validity). Prometheus uses
  the same rule (4 x its resend delay): three lost re-posts in a row still do not resolve the alert.
* resolved: `endsAt = ` the end of the window that resolved it (or the send time, if that is earlier) —
  Alertmanager marks the alert resolved and sends its own resolved notifications.

While an alert fires, `pipeline.alerts.enqueue_alertmanager_resends` puts a re-post of it in the outbox every
`resend_interval` (default 5m): the same labels and annotations, a fresh `endsAt`. Re-posts are outbox rows like
any other message, so they are retried (5xx, connection errors) and a 4xx fails the row and marks the channel
unhealthy. Alertmanager deduplicates alerts by their label set, so the one duplicate at-least-once delivery
allows (a crash between Alertmanager's 200 and recording it) changes nothing there.

Labels: `alertname`, `rule`, `monitor`, `model_version`, `segment`, `metric`, `feature` (per-feature metrics),
the rule's `labels` (e.g. `severity`). Annotations: the rule's rendered annotations (`summary`, `description`,
...), `report_url`, and `value`/`threshold` as text. `generatorURL` is the report link.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from driftwatch.alerting.channels.base import SendResult
from driftwatch.alerting.channels.formatting import format_number, report_link, rfc3339, truncate
from driftwatch.alerting.grouping import AlertGroup
from driftwatch.alerting.model import Alert, InstanceKey, Transition
from driftwatch.alerting.secret import RedactingFilter, Secret

VALIDITY_FACTOR = 4
USER_AGENT = "driftwatch-alerting"
ALERTS_PATH = "/api/v2/alerts"


def alert_labels(alert: Alert, rule: str) -> dict[str, str]:
    """The label set that identifies the alert in Alertmanager (its routing and grouping keys)."""
    labels = {k: v for k, v in alert.labels.items() if v != ""}
    labels.setdefault("alertname", rule)
    labels["rule"] = rule
    return labels


def alert_annotations(alert: Alert, report_base_url: str | None) -> dict[str, str]:
    annotations = dict(alert.annotations)
    link = report_link(alert.report_url, report_base_url)
    if link:
        annotations.setdefault("report_url", link)
    if alert.threshold is not None:
        annotations.setdefault("value", format_number(alert.value))
        annotations.setdefault("threshold", f"{alert.op.value} {format_number(alert.threshold)}")
    if alert.template_error:
        annotations.setdefault("template_error", truncate(alert.template_error, 500))
    return annotations


def alertmanager_alerts(
    group: AlertGroup, now: datetime, validity: timedelta, report_base_url: str | None = None
) -> list[dict[str, Any]]:
    """The JSON body (a list of postable alerts) for one message, sent at `now` (pure)."""
    out = []
    for alert in group.alerts:
        if group.transition is Transition.RESOLVED:
            ends = alert.ends_at if alert.ends_at is not None and alert.ends_at < now else now
        else:
            ends = now + validity
        starts = min(alert.starts_at, ends)
        item: dict[str, Any] = {
            "labels": alert_labels(alert, group.rule),
            "annotations": alert_annotations(alert, report_base_url),
            "startsAt": rfc3339(starts),
            "endsAt": rfc3339(ends),
        }
        link = report_link(alert.report_url, report_base_url)
        if link:
            item["generatorURL"] = link
        out.append(item)
    return out


class AlertmanagerChannel:
    """POSTs alerts to one Alertmanager. Credentials (basic auth or bearer token) are `Secret`s."""

    min_interval_seconds = 0.0

    def __init__(
        self,
        name: str,
        url: Secret,
        report_base_url: str | None = None,
        timeout_seconds: float = 10.0,
        resend_interval_seconds: float = 300.0,
        basic_auth: tuple[Secret, Secret] | None = None,
        token: Secret | None = None,
        clock: Any = None,
    ) -> None:
        self._name = name
        self._url = url
        self._report_base_url = report_base_url
        self.resend_interval = timedelta(seconds=resend_interval_seconds)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        secrets = [url]
        if basic_auth is not None:
            user, password = basic_auth
            pair = f"{user.reveal()}:{password.reveal()}".encode()
            credential = Secret("Basic " + base64.b64encode(pair).decode("ascii"))
            secrets += [password, credential]
            self._auth: Secret | None = credential
        elif token is not None:
            self._auth = Secret(f"Bearer {token.reveal()}")
            secrets += [token, self._auth]
        else:
            self._auth = None
        self._secrets = secrets
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=False)
        # httpx logs every request with its URL at INFO level; the URL may carry credentials.
        self._filter = RedactingFilter(secrets)
        logging.getLogger("httpx").addFilter(self._filter)

    @property
    def name(self) -> str:
        return self._name

    @property
    def validity(self) -> timedelta:
        return VALIDITY_FACTOR * self.resend_interval

    def __repr__(self) -> str:
        return f"AlertmanagerChannel(name={self._name!r})"

    def payload(self, message: AlertGroup, now: datetime | None = None) -> list[dict[str, Any]]:
        return alertmanager_alerts(message, now or self._clock(), self.validity, self._report_base_url)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = secret.redact(text)
        return text

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
        body = json.dumps(self.payload(message), ensure_ascii=False, allow_nan=False).encode()
        headers: Mapping[str, str] = self._headers
        if self._auth is not None:
            headers = {**headers, "Authorization": self._auth.reveal()}
        endpoint = self._url.reveal().rstrip("/") + ALERTS_PATH
        try:
            response = self._client.post(endpoint, content=body, headers=headers)
        except Exception as error:  # noqa: BLE001 - any transport failure becomes a retryable result
            return SendResult(ok=False, error=self._redact(f"{type(error).__name__}: {error}"))
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(ok=True, status_code=status)
        text = truncate(response.text.strip(), 200)
        return SendResult(
            ok=False,
            status_code=status,
            retry_after=response.headers.get("Retry-After"),
            error=self._redact(f"HTTP {status}: {text}"),
        )

    def close(self) -> None:
        self._client.close()
        logging.getLogger("httpx").removeFilter(self._filter)


def resend_groups(
    delivered: Sequence[tuple[str, Mapping[str, Any]]],
    firing: Iterable[InstanceKey],
    intervals: Mapping[str, timedelta],
    now: datetime,
) -> list[AlertGroup]:
    """Re-posts owed at `now` (pure): for each Alertmanager channel, every instance still firing, as last
    delivered to that channel (labels and annotations unchanged), one message per (rule, monitor).

    The dedupe key holds the channel's current resend slot (`now` floored to a multiple of its interval), so
    calling this any number of times within one slot enqueues each re-post once.
    """
    wanted = set(firing)
    latest: dict[tuple[str, InstanceKey], tuple[Alert, str, str]] = {}
    for channel, payload in delivered:
        if channel not in intervals:
            continue
        try:
            group = AlertGroup.from_dict(payload)
        except (KeyError, TypeError, ValueError):
            continue  # unreadable rows were failed by the outbox already
        for alert in group.alerts:
            if alert.instance in wanted:
                latest[(channel, alert.instance)] = (alert, group.rule, group.monitor)
    buckets: dict[tuple[str, str, str], list[Alert]] = {}
    for (channel, _), (alert, rule, monitor) in sorted(
        latest.items(), key=lambda i: (i[0][0], i[0][1].sort_key())
    ):
        buckets.setdefault((channel, rule, monitor), []).append(alert)
    groups = []
    for (channel, rule, monitor), alerts in sorted(buckets.items()):
        interval = intervals[channel].total_seconds()
        slot_start = datetime.fromtimestamp(
            (now.timestamp() // interval) * interval if interval > 0 else now.timestamp(), UTC
        )
        fingerprints = "\x1f".join(sorted(a.fingerprint or a.instance.as_text() for a in alerts))
        text = "\x1e".join(
            ("alertmanager-resend", channel, rule, monitor, slot_start.isoformat(), fingerprints)
        )
        groups.append(
            AlertGroup(
                dedupe_key=hashlib.sha256(text.encode()).hexdigest()[:32],
                channel=channel,
                transition=Transition.REPEAT,
                rule=rule,
                monitor=monitor,
                window_start=slot_start,
                window_end=now,
                created_at=now,
                alerts=tuple(alerts),
            )
        )
    return groups
