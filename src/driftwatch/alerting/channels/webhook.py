"""Generic webhooks: the Alertmanager webhook payload (version 4), POSTed with httpx.

Many receivers already parse this format. Each request carries an `Idempotency-Key` header (the message's
dedupe key), so a receiver can drop the one duplicate at-least-once delivery allows: a crash between the
receiver's 2xx and the outbox recording it.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import httpx

from driftwatch.alerting.channels.base import SendResult
from driftwatch.alerting.channels.formatting import report_link, rfc3339, truncate
from driftwatch.alerting.grouping import AlertGroup
from driftwatch.alerting.model import Transition
from driftwatch.alerting.secret import RedactingFilter, Secret

# Alertmanager's "zero time", sent as endsAt while an alert is still firing.
ZERO_TIME = "0001-01-01T00:00:00Z"
USER_AGENT = "driftwatch-alerting"


def alertmanager_payload(
    group: AlertGroup, receiver: str, report_base_url: str | None = None
) -> dict[str, Any]:
    """The version 4 webhook body for one group (pure)."""
    group_labels = group.group_labels
    matchers = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    alerts = []
    for alert in group.alerts:
        resolved = group.transition is Transition.RESOLVED
        ends_at = rfc3339(alert.ends_at) if resolved and alert.ends_at is not None else ZERO_TIME
        alerts.append(
            {
                "status": group.status,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": rfc3339(alert.starts_at),
                "endsAt": ends_at,
                "generatorURL": report_link(alert.report_url, report_base_url) or "",
                "fingerprint": alert.fingerprint,
                # Not in Alertmanager's format (receivers ignore unknown keys); Grafana sends the same field.
                "values": {alert.metric: _json_number(alert.value)},
            }
        )
    return {
        "version": "4",
        "groupKey": f"{{}}:{{{matchers}}}",
        "truncatedAlerts": 0,
        "status": group.status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": group.common_labels,
        "commonAnnotations": group.common_annotations,
        "externalURL": report_base_url or "",
        "alerts": alerts,
    }


def _json_number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)


class WebhookChannel:
    """POSTs Alertmanager-format JSON to one URL, kept as a `Secret`."""

    min_interval_seconds = 0.0

    def __init__(
        self,
        name: str,
        url: Secret,
        report_base_url: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._name = name
        self._url = url
        self._report_base_url = report_base_url
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=False)
        # httpx logs every request with its full URL at INFO level.
        self._filter = RedactingFilter([url])
        logging.getLogger("httpx").addFilter(self._filter)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self._name!r}, url={self._url!r})"

    def payload(self, message: AlertGroup) -> dict[str, Any]:
        return alertmanager_payload(message, self._name, self._report_base_url)

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
        body = json.dumps(self.payload(message), ensure_ascii=False, allow_nan=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "User-Agent": USER_AGENT,
        }
        try:
            response = self._client.post(self._url.reveal(), content=body, headers=headers)
        except Exception as error:  # noqa: BLE001 - any transport failure becomes a retryable result
            return SendResult(ok=False, error=self._url.redact(f"{type(error).__name__}: {error}"))
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(ok=True, status_code=status)
        text = truncate(response.text.strip(), 200)
        return SendResult(
            ok=False,
            status_code=status,
            retry_after=response.headers.get("Retry-After"),
            error=self._url.redact(f"HTTP {status}: {text}"),
        )

    def close(self) -> None:
        self._client.close()
        logging.getLogger("httpx").removeFilter(self._filter)
