"""At-least-once delivery from the outbox: attempts, retries with backoff, and meta-alerts.

The pipeline commits state changes and their messages in one transaction; this module only reads due rows
through the `Outbox` protocol and records what happened to each attempt. Policy:

* 2xx: delivered; the channel is marked healthy.
* connection error, timeout, 5xx, 408: retried after `uniform(0, min(cap, base * 2**(n-1)))` seconds (full
  jitter, at least `min_seconds`), n being the attempts made so far.
* 429: retried no sooner than its `Retry-After` (seconds or an HTTP date), else as above.
* any other 4xx (400 invalid_payload, 403 action_prohibited, 404 channel_not_found, 410 channel_is_archived,
  401, ...) and 3xx: permanent. So is running out of attempts (`max_attempts`). The row is failed, the
  channel marked unhealthy and, when it was healthy until then, a meta-alert is enqueued on every other
  channel.

Defaults: base 5 s, cap 15 min, 20 attempts (about 3 hours of retrying at worst), at least 1 s apart.

The one duplicate this allows: the receiver answered 2xx and the process died before `mark_delivered` was
recorded; the row is sent again after the restart. Webhook receivers can drop it by its `Idempotency-Key`.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal, Protocol

from driftwatch.alerting.channels.base import Channel, SendResult
from driftwatch.alerting.grouping import AlertGroup
from driftwatch.alerting.model import Alert, InstanceKey, Op, Transition

logger = logging.getLogger(__name__)

META_RULE = "DriftwatchChannelUnhealthy"
META_MONITOR = "driftwatch"


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxRow:
    """A message waiting for delivery, as the outbox hands it out."""

    id: int
    dedupe_key: str
    channel: str
    message: AlertGroup
    attempts: int  # attempts made so far
    created_at: datetime
    next_attempt_at: datetime


class Outbox(Protocol):
    """Durable storage of messages and their attempts (DuckDB in the service, in memory in tests)."""

    def enqueue(self, messages: Sequence[AlertGroup], now: datetime) -> int:
        """Insert messages due at `now`; a dedupe key already present is ignored. Returns rows inserted."""
        ...

    def pending(self, now: datetime, limit: int = 100) -> list[OutboxRow]:
        """Undelivered, unfailed rows with `next_attempt_at <= now`, oldest due first."""
        ...

    def record_attempt(
        self,
        row_id: int,
        outcome: AttemptOutcome,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        attempted_at: datetime,
    ) -> None:
        """Append one attempt and count it; a RETRY moves the row's `next_attempt_at`."""
        ...

    def mark_delivered(self, row_id: int, at: datetime) -> None: ...

    def mark_failed(self, row_id: int, reason: str, at: datetime) -> None: ...

    def mark_channel_unhealthy(self, channel: str, reason: str, at: datetime) -> bool:
        """Record the channel as unhealthy; True when it was healthy until now (meta-alerts go out once)."""
        ...

    def mark_channel_healthy(self, channel: str, at: datetime) -> None: ...


Verdict = Literal["delivered", "retry", "rate_limited", "permanent"]


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 900.0
    max_attempts: int = 20
    min_seconds: float = 1.0

    def backoff_seconds(self, attempts: int, rng: random.Random) -> float:
        """Full jitter after `attempts` failed attempts (AWS architecture blog, "Exponential Backoff And
        Jitter"): spreads retries of many rows over the whole interval instead of bunching them."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** min(max(attempts - 1, 0), 60))
        return max(self.min_seconds, rng.uniform(0.0, ceiling))

    @staticmethod
    def verdict(result: SendResult) -> Verdict:
        if result.ok:
            return "delivered"
        status = result.status_code
        if status is None or status >= 500 or status == 408:
            return "retry"
        if status == 429:
            return "rate_limited"
        return "permanent"


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    meta_alerts: int = 0
    unhealthy_channels: list[str] = field(default_factory=list)


class Sender:
    """Takes due rows from the outbox and attempts each once per pass. Clock, sleep and randomness are
    injected, so tests drive time by hand while the HTTP underneath stays real."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        batch_size: int = 100,
    ) -> None:
        self._outbox = outbox
        self._channels = dict(channels)
        self._clock = clock
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._batch_size = batch_size
        self._last_sent: dict[str, datetime] = {}
        self.on_meta_alerts: Callable[[], None] | None = None  # called after a pass that enqueued some

    def deliver_due(self) -> DeliveryReport:
        """One pass over every row due now, `batch_size` rows at a time, each row attempted once per pass.

        A batch that comes back full is followed by another, so a pass never stops at the first hundred (it
        once did, leaving the rest for a pass 30 s later or the next `driftwatch run`). Meta-alerts enqueued
        in the last batch are due at once, for the next pass.
        """
        report = DeliveryReport()
        seen: set[int] = set()
        while True:
            rows = self._outbox.pending(self._clock(), self._batch_size)
            fresh = [row for row in rows if row.id not in seen]
            for row in fresh:
                seen.add(row.id)
                self._attempt(row, report)
            # A full batch of rows already tried in this pass (their retry came due while it ran) ends it too.
            if len(rows) < self._batch_size or not fresh:
                return report

    def run(
        self, stop: threading.Event, poll_seconds: float = 5.0, wake: threading.Event | None = None
    ) -> None:
        """Deliver until `stop` is set: a pass, then wait `poll_seconds` or until `wake` is set."""
        wake = wake or threading.Event()
        while not stop.is_set():
            wake.clear()  # before the pass: a wake-up during it starts the next one at once
            try:
                report = self.deliver_due()
            except Exception as error:  # noqa: BLE001 - the loop must outlive a bad pass; rows stay due
                logger.error("delivery pass failed: %s", type(error).__name__)
            else:
                if report.meta_alerts and self.on_meta_alerts is not None:
                    self.on_meta_alerts()
            wake.wait(poll_seconds)

    def _attempt(self, row: OutboxRow, report: DeliveryReport) -> None:
        channel = self._channels.get(row.channel)
        if channel is None:
            reason = f"no channel named {row.channel!r} is configured"
            now = self._clock()
            self._outbox.record_attempt(row.id, AttemptOutcome.FAILED, None, reason, None, now)
            self._outbox.mark_failed(row.id, reason, now)
            report.failed += 1
            logger.error("notification %s failed: %s", row.dedupe_key, reason)
            return
        self._pace(channel)
        try:
            result = channel.send(row.message, row.dedupe_key)
        except Exception as exc:  # noqa: BLE001 - a channel bug must not stop delivery of other rows
            # The exception text could quote a URL, so only its type is kept.
            result = SendResult(
                ok=False, error=f"unexpected {type(exc).__name__} in channel {channel.name!r}"
            )
        now = self._clock()
        self._last_sent[channel.name] = now
        attempts = row.attempts + 1
        verdict = self._policy.verdict(result)
        if verdict == "delivered":
            self._outbox.record_attempt(row.id, AttemptOutcome.DELIVERED, result.status_code, None, None, now)
            self._outbox.mark_delivered(row.id, now)
            self._outbox.mark_channel_healthy(channel.name, now)
            report.delivered += 1
            return
        error = result.error or f"HTTP {result.status_code}"
        if verdict != "permanent" and attempts < self._policy.max_attempts:
            delay = None
            if verdict == "rate_limited":
                delay = retry_after_seconds(result.retry_after, now)
            if delay is None:
                delay = self._policy.backoff_seconds(attempts, self._rng)
            else:
                delay = max(delay, self._policy.min_seconds)
            next_at = now + timedelta(seconds=delay)
            self._outbox.record_attempt(row.id, AttemptOutcome.RETRY, result.status_code, error, next_at, now)
            report.retried += 1
            logger.warning(
                "notification %s to %s: attempt %d failed (%s); next attempt at %s",
                row.dedupe_key,
                channel.name,
                attempts,
                error,
                next_at.isoformat(),
            )
            return
        reason = error if verdict == "permanent" else f"gave up after {attempts} attempts; last: {error}"
        self._outbox.record_attempt(row.id, AttemptOutcome.FAILED, result.status_code, error, None, now)
        self._outbox.mark_failed(row.id, reason, now)
        report.failed += 1
        logger.error("notification %s to %s failed permanently: %s", row.dedupe_key, channel.name, reason)
        if self._outbox.mark_channel_unhealthy(channel.name, reason, now):
            report.unhealthy_channels.append(channel.name)
            if row.message.rule != META_RULE:  # no meta-alerts about meta-alerts: they could ping-pong
                others = [name for name in sorted(self._channels) if name != channel.name]
                report.meta_alerts += self._outbox.enqueue(
                    meta_alerts(channel.name, reason, row, others, now), now
                )

    def _pace(self, channel: Channel) -> None:
        last = self._last_sent.get(channel.name)
        if last is None or channel.min_interval_seconds <= 0:
            return
        wait = channel.min_interval_seconds - (self._clock() - last).total_seconds()
        if wait > 0:
            self._sleep(wait)


class ChannelLanes:
    """One delivery thread per channel, so a slow or hanging channel delays only its own messages.

    Each lane runs `Sender.run` with a sender whose outbox hands out that channel's rows only; the retry
    policy, Retry-After, pacing and the at-least-once bookkeeping are the sender's, unchanged. `wake()` starts
    a pass on every lane at once (after a cycle enqueued messages, or on the scheduler's tick); a lane still
    busy with a hanging request picks the wake-up up when that request times out. A lane that marks its
    channel unhealthy wakes the others for the meta-alerts it enqueued for them.
    """

    def __init__(self, senders: Mapping[str, Sender], poll_seconds: float = 5.0) -> None:
        self._senders = dict(senders)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._wakes = {name: threading.Event() for name in self._senders}
        self._threads: list[threading.Thread] = []
        for sender in self._senders.values():
            sender.on_meta_alerts = self.wake

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._senders)

    def start(self) -> None:
        for name, sender in self._senders.items():
            thread = threading.Thread(
                target=sender.run,
                args=(self._stop, self._poll, self._wakes[name]),
                name=f"driftwatch-deliver-{name}",
                daemon=True,  # a request hanging at exit must not keep the process alive
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        for event in self._wakes.values():
            event.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the lanes, waiting up to `timeout` seconds in all; False if one is still in a request (its row
        stays pending and is sent again after the restart: at least once)."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)


def meta_alerts(
    failed_channel: str, reason: str, row: OutboxRow, targets: Sequence[str], now: datetime
) -> list[AlertGroup]:
    """Messages telling the other channels that `failed_channel` stopped delivering."""
    instance = InstanceKey(META_RULE, META_MONITOR, "-", "-", failed_channel)
    labels = {
        "alertname": META_RULE,
        "monitor": META_MONITOR,
        "channel": failed_channel,
        "severity": "critical",
    }
    lost = row.message
    annotations = {
        "summary": f"Channel {failed_channel!r} stopped delivering: {reason}",
        "description": (
            f"Undelivered: {lost.rule} on {lost.monitor} ({lost.transition.value}, window "
            f"{lost.window_start.isoformat()}). Fix the channel (its URL lives in its environment variable), "
            "then check `driftwatch` notifications for failed rows."
        ),
    }
    alert = Alert(
        instance=instance,
        metric="delivery_status",
        value=None,
        op=Op.EQ,
        threshold=None,
        recover=None,
        baseline=None,
        samples=None,
        labels=labels,
        annotations=annotations,
        starts_at=now,
        fingerprint=hashlib.sha256(instance.as_text().encode()).hexdigest()[:16],
    )
    groups = []
    for target in targets:
        key = hashlib.sha256(
            "\x1e".join(("meta", failed_channel, target, row.dedupe_key)).encode()
        ).hexdigest()
        groups.append(
            AlertGroup(
                dedupe_key=key[:32],
                channel=target,
                transition=Transition.FIRING,
                rule=META_RULE,
                monitor=META_MONITOR,
                window_start=now,
                window_end=now,
                created_at=now,
                alerts=(alert,),
            )
        )
    return groups
