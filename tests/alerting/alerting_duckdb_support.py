"""The DuckDB outbox the pipeline delivers from, with the inspection helpers of `memory_outbox.InMemoryOutbox`
answered from its tables: the same test can assert on either."""

from __future__ import annotations

from memory_outbox import AttemptRecord, StoredRow

from driftwatch.alerting.delivery import AttemptOutcome, OutboxRow
from driftwatch.alerting.grouping import AlertGroup
from driftwatch.pipeline.alerts import DuckDBOutbox
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database


class InspectedDuckDBOutbox(DuckDBOutbox):
    """`DuckDBOutbox` on a real database file; `attempts`, `rows()`, `unhealthy`, `get` and `attempts_for`
    read what the outbox wrote to alert_outbox, alert_attempts and channel_health."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.db = db

    @property
    def attempts(self) -> list[AttemptRecord]:
        # Every attempt of every row, in the order they were recorded (rowid: insertion order).
        found = (
            self.db.cursor()
            .execute(
                "SELECT outbox_id, outcome, status_code, error, next_attempt_at, attempted_at "
                "FROM alert_attempts ORDER BY rowid"
            )
            .fetchall()
        )
        return [
            AttemptRecord(int(row_id), AttemptOutcome(outcome), code, error, store.aware(next_at), at_utc)
            for row_id, outcome, code, error, next_at, at in found
            if (at_utc := store.aware(at)) is not None
        ]

    def attempts_for(self, row_id: int) -> list[AttemptRecord]:
        return [a for a in self.attempts if a.row_id == row_id]

    def rows(self) -> list[StoredRow]:
        stored = store.messages(self.db.cursor(), limit=1_000_000)
        return [_stored_row(m) for m in sorted(stored, key=lambda m: m.id)]

    def get(self, dedupe_key: str) -> StoredRow:
        (row,) = [r for r in self.rows() if r.row.dedupe_key == dedupe_key]
        return row

    @property
    def unhealthy(self) -> dict[str, str]:
        return {
            str(c["channel"]): str(c["reason"])
            for c in store.channel_health(self.db.cursor())
            if not c["healthy"]
        }


def _stored_row(message: store.StoredMessage) -> StoredRow:
    row = OutboxRow(
        id=message.id,
        dedupe_key=message.dedupe_key,
        channel=message.channel,
        message=AlertGroup.from_dict(message.payload),
        attempts=message.attempts,
        created_at=message.created_at,
        next_attempt_at=message.next_attempt_at,
    )
    # The table keeps the last error of any attempt; the reference keeps only a failed row's reason.
    reason = message.last_error if message.status == "failed" else None
    finished = message.delivered_at if message.status != "pending" else None
    return StoredRow(row, message.status, reason, finished)
