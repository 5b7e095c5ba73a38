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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.durations import WINDOW_ORIGIN, to_naive_utc
from driftwatch.pipeline.snapshots import manifest_files, settle_unfinished, snapshot_columns, write_snapshot
from driftwatch.storage.database import Database
from driftwatch.storage.retention import (
    advance_watermark,
    delete_expired_labels,
    delete_expired_predictions,
    delete_expired_quarantine,
    drop_expired_queue_entries,
    earliest_queued_window,
    expired_before,
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


def _in_batches(db: Database, delete: Callable[[duckdb.DuckDBPyConnection, int], int], limit: int) -> int:
    """Run `delete` (at most `limit` rows each) in its own transaction until a batch comes back short."""
    total = 0
    while True:
        with db.transaction() as tx:
            deleted = delete(tx, limit)
        total += deleted
        if deleted < limit:
            return total


def _move_watermark(db: Database, name: str, cutoff: datetime, now: datetime) -> tuple[int, datetime]:
    """Steps 1 and 2 in one transaction: (late queue entries dropped, the watermark now in force)."""
    with db.transaction() as tx:
        dropped = drop_expired_queue_entries(tx, name)
        queued = earliest_queued_window(tx, name)
        advance_watermark(tx, name, min(cutoff, queued) if queued is not None else cutoff, now)
        return dropped, expired_before(tx, name) or cutoff


def _delete_snapshotted(
    db: Database, monitor: MonitorConfig, record: SnapshotRecord, watermark: datetime
) -> int:
    """Delete the rows of one complete snapshot that are before the watermark, then mark it applied."""
    files = manifest_files(Path(record.path)) or []
    cols = snapshot_columns(db, monitor)
    before = min(record.before, watermark)
    deleted = _in_batches(
        db,
        lambda tx, n: delete_snapshotted_predictions(
            tx, monitor.name, (cols.id, cols.model_version), files, before, n
        ),
        monitor.retention.batch_rows,
    )
    with db.transaction() as tx:
        set_snapshot_status(tx, record.snapshot_id, "applied")
    return deleted


def _expire_with_snapshots(db: Database, monitor: MonitorConfig, root: Path, watermark: datetime) -> int:
    """Export the rows before the watermark, then delete only the rows the completed snapshot holds.

    First, what a stopped process left: a complete snapshot whose rows were not (all) deleted yet is applied,
    not written again.
    """
    deleted = sum(_delete_snapshotted(db, monitor, r, watermark) for r in settle_unfinished(db, monitor.name))
    if count_before(db.cursor(), monitor.name, watermark) == 0:
        return deleted
    snap = write_snapshot(db, monitor, root, None, watermark)
    if snap is None:
        return deleted
    record = SnapshotRecord(snap.snapshot_id, str(snap.path), "complete", None, watermark)
    return deleted + _delete_snapshotted(db, monitor, record, watermark)


def expire_rows(db: Database, monitor: MonitorConfig, now: datetime) -> RetentionSummary:
    """Delete the monitor's raw rows past their retention; a no-op when retention is off."""
    settings = monitor.retention
    summary = RetentionSummary()
    naive_now = to_naive_utc(now)
    limit = settings.batch_rows
    name = monitor.name
    cutoff = prediction_cutoff(monitor, now)
    if cutoff is not None:
        summary.late_windows_dropped, summary.cutoff = _move_watermark(db, name, cutoff, naive_now)
        watermark = summary.cutoff
        if not db.table_exists(f"predictions:{name}"):
            pass
        elif settings.snapshot is not None:
            summary.predictions_expired = _expire_with_snapshots(
                db, monitor, Path(settings.snapshot), watermark
            )
        else:
            summary.predictions_expired = _in_batches(
                db, lambda tx, n: delete_expired_predictions(tx, name, watermark, n), limit
            )
    if settings.quarantine is not None:
        q_cutoff = naive_now - settings.quarantine
        summary.quarantine_expired = _in_batches(
            db, lambda tx, n: delete_expired_quarantine(tx, name, q_cutoff, n), limit
        )
    if settings.labels is not None:
        l_cutoff = naive_now - settings.labels
        summary.labels_expired = _in_batches(
            db, lambda tx, n: delete_expired_labels(tx, name, l_cutoff, n), limit
        )
    summary.oldest_kept = oldest_prediction(db.cursor(), name)
    return summary
