"""The `alerting.delivery.Outbox` protocol on DuckDB (the alert_outbox / alert_attempts / channel_health tables
behind `storage.alerts`), and the Alertmanager re-posts that go through it."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from driftwatch.alerting.grouping import AlertGroup
from driftwatch.pipeline.alerts.state import instance_key
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database

if TYPE_CHECKING:  # the delivery side imports the HTTP clients: only when delivering
    from driftwatch.alerting.channels.base import Channel
    from driftwatch.alerting.delivery import AttemptOutcome, OutboxRow

logger = logging.getLogger(__name__)


def new_message(
    group: AlertGroup, now: datetime, status: str = "pending", silenced_by: str | None = None
) -> store.NewMessage:
    """The outbox row of a message: created, and due, at `now` (the message itself is stored as it is)."""
    return store.NewMessage(
        dedupe_key=group.dedupe_key,
        channel=group.channel,
        rule=group.rule,
        monitor=group.monitor,
        transition=group.transition.value,
        window_start=group.window_start,
        alerts=len(group.alerts),
        payload=group.to_dict(),
        created_at=now,
        status=status,
        silenced_by=silenced_by,
    )


class DuckDBOutbox:
    """The `Outbox` protocol on the alert_outbox / alert_attempts / channel_health tables.

    `channels`, when given, limits `pending` to rows for those channels: rows for a channel this process
    cannot build (its environment variable is not set here) stay pending for a process that can, instead of
    failing.
    """

    def __init__(
        self,
        db: Database,
        channels: Iterable[str] | None = None,
        resend_intervals: Mapping[str, timedelta] | None = None,
    ) -> None:
        self._db = db
        self._channels = None if channels is None else frozenset(channels)
        # Alertmanager channels: firing alerts are re-posted every interval (see enqueue_alertmanager_resends).
        # Checked from `pending`, which every delivery pass calls, so re-posts go on wherever delivery runs.
        self._resend = dict(resend_intervals or {})
        self._next_resend_check: datetime | None = None

    def enqueue(self, messages: Sequence[AlertGroup], now: datetime) -> int:
        rows = [new_message(m, now) for m in messages]
        with self._db.transaction() as tx:
            return store.insert_messages(tx, rows)

    def pending(self, now: datetime, limit: int = 100) -> list[OutboxRow]:
        from driftwatch.alerting.delivery import AttemptOutcome, OutboxRow

        if self._resend and (self._next_resend_check is None or now >= self._next_resend_check):
            enqueue_alertmanager_resends(self._db, self._resend, now)
            # A fifth of the shortest interval: each slot's re-post goes out early in the slot.
            self._next_resend_check = now + min(self._resend.values()) / 5
        out: list[OutboxRow] = []
        for item in store.due_messages(self._db.cursor(), now, limit, self._channels):
            try:
                message = AlertGroup.from_dict(item.payload)
            except (KeyError, TypeError, ValueError) as error:
                reason = f"stored message cannot be read ({type(error).__name__}: {error})"
                self.record_attempt(item.id, AttemptOutcome.FAILED, None, reason, None, now)
                self.mark_failed(item.id, reason, now)
                logger.error("notification %s failed: %s", item.dedupe_key, reason)
                continue
            out.append(
                OutboxRow(
                    id=item.id,
                    dedupe_key=item.dedupe_key,
                    channel=item.channel,
                    message=message,
                    attempts=item.attempts,
                    created_at=item.created_at,
                    next_attempt_at=item.next_attempt_at,
                )
            )
        return out

    def record_attempt(
        self,
        row_id: int,
        outcome: AttemptOutcome,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        attempted_at: datetime,
    ) -> None:
        store.record_attempt(
            self._db, row_id, outcome.value, status_code, error, next_attempt_at, attempted_at
        )

    def mark_delivered(self, row_id: int, at: datetime) -> None:
        store.finish_message(self._db, row_id, "delivered", at)

    def mark_failed(self, row_id: int, reason: str, at: datetime) -> None:
        store.finish_message(self._db, row_id, "failed", at, reason)

    def mark_channel_unhealthy(self, channel: str, reason: str, at: datetime) -> bool:
        return store.mark_channel(self._db, channel, False, reason, at)

    def mark_channel_healthy(self, channel: str, at: datetime) -> None:
        store.mark_channel(self._db, channel, True, None, at)


def resend_intervals(channels: Mapping[str, Channel]) -> dict[str, timedelta]:
    """The re-post interval of every Alertmanager channel among `channels`."""
    return {
        name: interval
        for name, channel in channels.items()
        if isinstance(interval := getattr(channel, "resend_interval", None), timedelta)
    }


def enqueue_alertmanager_resends(db: Database, intervals: Mapping[str, timedelta], now: datetime) -> int:
    """Enqueue a re-post of every alert still firing to each Alertmanager channel, once per resend slot
    (idempotent within a slot: the dedupe key holds the slot). Returns the rows inserted."""
    if not intervals:
        return 0
    from driftwatch.alerting.channels.alertmanager import resend_groups

    cur = db.cursor()
    firing = [row for row in store.load_states(cur) if row.state == "firing"]
    if not firing:
        return 0
    # A firing message is created after its window was evaluated: no earlier row can describe these alerts.
    since = min((row.firing_since for row in firing if row.firing_since is not None), default=None)
    delivered = store.delivered_firing_payloads(
        cur, list(intervals), since or datetime(1970, 1, 1, tzinfo=UTC)
    )
    groups = resend_groups(delivered, [instance_key(row) for row in firing], intervals, now)
    if not groups:
        return 0
    with db.transaction() as tx:
        return store.insert_messages(tx, [new_message(g, now) for g in groups])
