"""The cycle's last step: delete raw rows older than the monitor's `retention:` (config/retention.py).

Order, so that a crash at any point loses nothing that is still needed:
1. queue entries of windows before the current watermark (`retention_state.expired_before`) are dropped: rows
   that arrived late for a window already expired cannot be judged with the rest of its rows gone;
2. the watermark moves forward to the cutoff, but never past a window still queued (not computed yet, e.g.
   after a reference change): from then on the queues skip windows before it, so none of them is ever
   recomputed from a partial set of rows; the windows after it keep every row;
3. prediction rows older than the watermark go in batches of `batch_rows`, each its own short transaction, so
   the writer lock (pushes, the API) is never held for long. A row whose window is queued meanwhile stays.

The cutoff is aligned down to a window boundary: a window is either wholly kept or wholly expired, and every
expired window is past its label horizon (config load refuses a retention shorter than window + horizon).
Running it twice deletes nothing more: idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.durations import WINDOW_ORIGIN, to_naive_utc
from driftwatch.errors import SourceError
from driftwatch.pipeline.snapshots import (
    configured_store,
    listed_files,
    settle_unfinished,
    snapshot_columns,
    store_for_location,
    write_snapshot,
)
from driftwatch.sources.snapshot_store import SnapshotStore
from driftwatch.storage.database import Database
from driftwatch.storage.retention import (
    advance_watermark,
    count_expired,
    delete_expired_labels,
    delete_expired_predictions,
    delete_expired_quarantine,
    drop_expired_queue_entries,
    earliest_queued_window,
    expired_before,
    expiry_slice_ends,
    oldest_prediction,
)
from driftwatch.storage.snapshots import (
    SnapshotRecord,
    count_before,
    delete_snapshotted_predictions,
    set_snapshot_status,
)

_ORIGIN = WINDOW_ORIGIN.replace(tzinfo=None)


@dataclass
class RetentionSummary:
    predictions_expired: int = 0
    quarantine_expired: int = 0
    labels_expired: int = 0
    late_windows_dropped: int = (
        0  # queue entries (drift, performance) of windows already expired: not computed
    )
    cutoff: datetime | None = None  # the watermark: prediction rows before this (naive UTC) are gone
    oldest_kept: datetime | None = None
    # Why no prediction row was deleted this time although some are due (e.g. the snapshot store unreachable).
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_expired(self) -> int:
        return self.predictions_expired + self.quarantine_expired + self.labels_expired


def window_floor(ts: datetime, window: timedelta) -> datetime:
    """The start of the window holding `ts` (naive UTC), on the same grid as the pipeline's windows."""
    return _ORIGIN + ((ts - _ORIGIN) // window) * window


def prediction_cutoff(monitor: MonitorConfig, now: datetime) -> datetime | None:
    """Rows before this may go (naive UTC, a window boundary); None when predictions are kept forever."""
    keep = monitor.retention.predictions
    if keep is None:
        return None
    return window_floor(to_naive_utc(now) - keep, monitor.window)


@dataclass(frozen=True)
class _Batches:
    """Deletes in short transactions of at most `limit` rows; each adds what it deleted to the run's
    `rows_expired` in the same transaction, so the count stays exact if the process is killed mid-way."""

    db: Database
    limit: int
    run_id: str | None  # None: not part of a recorded run (e.g. a test calling expire_rows directly)

    def each(
        self, ends: list[datetime | None], delete: Callable[[duckdb.DuckDBPyConnection, datetime | None], int]
    ) -> int:
        """Run `delete` once per slice end, each in its own transaction; the rows deleted."""
        total = 0
        for end in ends:
            with self.db.transaction() as tx:
                deleted = delete(tx, end)
                if self.run_id is not None and deleted:
                    count_expired(tx, self.run_id, deleted)
            total += deleted
        return total

    def run(self, delete: Callable[[duckdb.DuckDBPyConnection, int], int]) -> int:
        """Run `delete` until a batch comes back short; the rows deleted."""
        total = 0
        while True:
            with self.db.transaction() as tx:
                deleted = delete(tx, self.limit)
                if self.run_id is not None and deleted:
                    count_expired(tx, self.run_id, deleted)
            total += deleted
            if deleted < self.limit:
                return total


def _move_watermark(db: Database, name: str, cutoff: datetime, now: datetime) -> tuple[int, datetime]:
    """Steps 1 and 2 in one transaction: (late queue entries dropped, the watermark now in force)."""
    with db.transaction() as tx:
        dropped = drop_expired_queue_entries(tx, name)
        queued = earliest_queued_window(tx, name)
        advance_watermark(tx, name, min(cutoff, queued) if queued is not None else cutoff, now)
        return dropped, expired_before(tx, name) or cutoff


def _delete_snapshotted(
    batches: _Batches, monitor: MonitorConfig, record: SnapshotRecord, watermark: datetime
) -> int:
    """Delete the rows of one complete snapshot that are before the watermark, then mark it applied.

    The predictions (request id, model version) come from the snapshot's files as the store holds them
    (downloaded from object storage).
    """
    db = batches.db
    store = store_for_location(record.path, monitor.retention.snapshot_store)
    cols = snapshot_columns(db, monitor)
    before = min(record.before, watermark)
    with store.local_files(record.path, listed_files(store, record.path) or []) as files:
        deleted = batches.run(
            lambda tx, n: delete_snapshotted_predictions(
                tx, monitor.name, (cols.id, cols.model_version), files, before, n
            )
        )
    with db.transaction() as tx:
        set_snapshot_status(tx, record.snapshot_id, "applied")
    return deleted


def _expire_with_snapshots(
    batches: _Batches, monitor: MonitorConfig, store: SnapshotStore, watermark: datetime
) -> int:
    """Export the rows before the watermark, then delete only the rows the completed snapshot holds.

    First, what a stopped process left: a complete snapshot whose rows were not (all) deleted yet is applied,
    not written again; an incomplete one is removed.
    """
    db = batches.db
    deleted = sum(_delete_snapshotted(batches, monitor, r, watermark) for r in settle_unfinished(db, monitor))
    if count_before(db.cursor(), monitor.name, watermark) == 0:
        return deleted
    snap = write_snapshot(db, monitor, store, None, watermark)
    if snap is None:
        return deleted
    record = SnapshotRecord(snap.snapshot_id, snap.path, "complete", None, watermark)
    return deleted + _delete_snapshotted(batches, monitor, record, watermark)


def _expire_predictions(
    batches: _Batches, monitor: MonitorConfig, watermark: datetime, summary: RetentionSummary
) -> None:
    """Step 3: plain batched deletion, or snapshot first. An unreachable snapshot store deletes nothing (a
    warning in the run); the rows wait for the next cycle."""
    name = monitor.name
    store = configured_store(monitor)
    if store is None:
        # Slices of about `batch_rows` rows, oldest first; the last (None) takes what is left, including
        # rows that became deletable while the others ran.
        ends: list[datetime | None] = [
            *expiry_slice_ends(batches.db.cursor(), name, watermark, batches.limit),
            None,
        ]
        summary.predictions_expired = batches.each(
            ends, lambda tx, end: delete_expired_predictions(tx, name, watermark, end)
        )
        return
    try:
        summary.predictions_expired = _expire_with_snapshots(batches, monitor, store, watermark)
    except SourceError as exc:
        summary.warnings.append(f"retention: no snapshot written, expired rows kept for now: {exc}")


def expire_rows(
    db: Database, monitor: MonitorConfig, now: datetime, run_id: str | None = None
) -> RetentionSummary:
    """Delete the monitor's raw rows past their retention; a no-op when retention is off.

    `run_id`: the run whose `rows_expired` counts the deleted rows batch by batch.
    """
    settings = monitor.retention
    summary = RetentionSummary()
    naive_now = to_naive_utc(now)
    batches = _Batches(db, settings.batch_rows, run_id)
    name = monitor.name
    cutoff = prediction_cutoff(monitor, now)
    if cutoff is not None:
        summary.late_windows_dropped, summary.cutoff = _move_watermark(db, name, cutoff, naive_now)
        if db.table_exists(f"predictions:{name}"):
            _expire_predictions(batches, monitor, summary.cutoff, summary)
    if settings.quarantine is not None:
        q_cutoff = naive_now - settings.quarantine
        summary.quarantine_expired = batches.run(
            lambda tx, n: delete_expired_quarantine(tx, name, q_cutoff, n)
        )
    if settings.labels is not None:
        l_cutoff = naive_now - settings.labels
        summary.labels_expired = batches.run(lambda tx, n: delete_expired_labels(tx, name, l_cutoff, n))
    summary.oldest_kept = oldest_prediction(db.cursor(), name)
    return summary
