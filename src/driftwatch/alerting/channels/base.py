"""The channel contract: how the delivery loop hands a message to Slack, a webhook or a log file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from driftwatch.alerting.grouping import AlertGroup


@dataclass(frozen=True)
class SendResult:
    """What one attempt returned. Channels never raise for transport problems; they report them here.

    `error` is already free of secrets. `retry_after` is the raw `Retry-After` header: the delivery loop
    parses it against its own clock.
    """

    ok: bool
    status_code: int | None = None  # None: no HTTP response (connection error, timeout, file error)
    retry_after: str | None = None
    error: str | None = None


class Channel(Protocol):
    """A destination for messages. Implementations must keep their URL out of repr, errors and logs."""

    @property
    def name(self) -> str: ...

    @property
    def min_interval_seconds(self) -> float:
        """Pause between two messages to this channel (Slack webhooks take about one a second)."""
        ...

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult: ...

    def close(self) -> None: ...
