"""An in-memory `Outbox`: the reference semantics of the `alerting.delivery.Outbox` protocol.

Tests only (it used to live in src/ although nothing there used it). The outbox the pipeline delivers from is
`pipeline.alerts.DuckDBOutbox`; the tests that drive a `Sender` run on both (the `outbox` fixture in conftest.py),
and the inspection helpers below have a DuckDB twin in alerting_duckdb_support.py.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from driftwatch.alerting.delivery import AttemptOutcome, OutboxRow
from driftwatch.alerting.grouping import AlertGroup


@dataclass(frozen=True)
class AttemptRecord:
    row_id: int
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    attempted_at: datetime


@dataclass(frozen=True)
class StoredRow:
    row: OutboxRow
    status: str = "pending"  # pending | delivered | failed
    reason: str | None = None
    finished_at: datetime | None = None


class InMemoryOutbox:
    """Thread-safe; keeps every attempt so tests can assert on them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, StoredRow] = {}
        self._ids: dict[str, int] = {}
        self._next_id = 1
        self.attempts: list[AttemptRecord] = []
        self.unhealthy: dict[str, str] = {}

    def enqueue(self, messages: Sequence[AlertGroup], now: datetime) -> int:
        inserted = 0
        with self._lock:
            for message in messages:
                if message.dedupe_key in self._ids:
                    continue  # the unique constraint: a re-run's message is already here
                row = OutboxRow(self._next_id, message.dedupe_key, message.channel, message, 0, now, now)
                self._rows[row.id] = StoredRow(row)
                self._ids[message.dedupe_key] = row.id
                self._next_id += 1
                inserted += 1
        return inserted

    def pending(self, now: datetime, limit: int = 100) -> list[OutboxRow]:
        with self._lock:
            due = [
                s.row for s in self._rows.values() if s.status == "pending" and s.row.next_attempt_at <= now
            ]
        due.sort(key=lambda r: (r.next_attempt_at, r.id))
        return due[:limit]

    def record_attempt(
        self,
        row_id: int,
        outcome: AttemptOutcome,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        attempted_at: datetime,
    ) -> None:
        with self._lock:
            stored = self._rows[row_id]
            row = replace(stored.row, attempts=stored.row.attempts + 1)
            if next_attempt_at is not None:
                row = replace(row, next_attempt_at=next_attempt_at)
            self._rows[row_id] = replace(stored, row=row)
            self.attempts.append(
                AttemptRecord(row_id, outcome, status_code, error, next_attempt_at, attempted_at)
            )

    def mark_delivered(self, row_id: int, at: datetime) -> None:
        with self._lock:
            self._rows[row_id] = replace(self._rows[row_id], status="delivered", finished_at=at)

    def mark_failed(self, row_id: int, reason: str, at: datetime) -> None:
        with self._lock:
            self._rows[row_id] = replace(self._rows[row_id], status="failed", reason=reason, finished_at=at)

    def mark_channel_unhealthy(self, channel: str, reason: str, at: datetime) -> bool:
        with self._lock:
            was_healthy = channel not in self.unhealthy
            self.unhealthy[channel] = reason
            return was_healthy

    def mark_channel_healthy(self, channel: str, at: datetime) -> None:
        with self._lock:
            self.unhealthy.pop(channel, None)

    # Inspection helpers for the tests (InspectedDuckDBOutbox answers the same questions from the tables).

    def rows(self) -> list[StoredRow]:
        with self._lock:
            return [self._rows[i] for i in sorted(self._rows)]

    def get(self, dedupe_key: str) -> StoredRow:
        with self._lock:
            return self._rows[self._ids[dedupe_key]]

    def attempts_for(self, row_id: int) -> list[AttemptRecord]:
        return [a for a in self.attempts if a.row_id == row_id]
