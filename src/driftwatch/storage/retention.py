"""Deleting expired raw rows (pipeline/retention.py decides when; the statements are here).

Every delete takes at most `limit` rows and runs in the caller's own short transaction, so a cycle never
holds the writer lock for long. A prediction row is deleted only when it is older than the cutoff and no
queue still holds a window covering it (`window_queue`, `performance_queue`, `pushed_windows`).

`retention_state.expired_before` is the per-monitor watermark: every prediction row older than it may be gone.
A window starting before it can no longer be recomputed from raw rows, so the queues skip it
(`EXPIRED_WINDOW_SQL`): recomputing it would replace its full results with the few rows still present.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from driftwatch.storage.database import first_row
from driftwatch.storage.schema import prediction_table

# Appended to a queue's WHERE clause (binds the monitor once): the window's rows are all still stored.
NOT_EXPIRED_SQL = (
    "window_start >= coalesce((SELECT max(expired_before) FROM retention_state AS rs WHERE rs.monitor = ?), "
    "TIMESTAMP '-infinity')"
)

_QUEUED = (
    "SELECT 1 FROM {queue} AS q WHERE q.monitor = $monitor AND p.ts >= q.window_start AND p.ts < q.window_end"
)


def expired_before(cur: duckdb.DuckDBPyConnection, monitor: str) -> datetime | None:
    """The monitor's watermark (naive UTC), None before any deletion."""
    row = first_row(
        cur.execute("SELECT max(expired_before) FROM retention_state WHERE monitor = ?", [monitor])
    )
    return row[0] if row and row[0] is not None else None


def advance_watermark(cur: duckdb.DuckDBPyConnection, monitor: str, cutoff: datetime, now: datetime) -> None:
    """Record that rows older than `cutoff` may be deleted; the watermark only moves forward.

    Written BEFORE the first row goes, so a crash in between leaves the queues already skipping the windows.
    """
    cur.execute(
        "INSERT INTO retention_state (monitor, expired_before, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (monitor) DO UPDATE SET expired_before = greatest(retention_state.expired_before, "
        "excluded.expired_before), updated_at = excluded.updated_at",
        [monitor, cutoff, now],
    )


def earliest_queued_window(cur: duckdb.DuckDBPyConnection, monitor: str) -> datetime | None:
    """The start of the monitor's earliest window still waiting in a queue (naive UTC), None when none is."""
    row = first_row(
        cur.execute(
            "SELECT min(window_start) FROM (SELECT window_start FROM window_queue WHERE monitor = $m "
            "UNION ALL SELECT window_start FROM performance_queue WHERE monitor = $m "
            "UNION ALL SELECT window_start FROM pushed_windows WHERE monitor = $m)",
            {"m": monitor},
        )
    )
    return row[0] if row and row[0] is not None else None


def drop_expired_queue_entries(cur: duckdb.DuckDBPyConnection, monitor: str) -> int:
    """Remove queue entries of windows older than the watermark (late rows for them cannot be judged)."""
    dropped = 0
    for queue in ("window_queue", "performance_queue"):
        row = first_row(
            cur.execute(
                f"DELETE FROM {queue} WHERE monitor = ? AND NOT ({NOT_EXPIRED_SQL})", [monitor, monitor]
            )
        )
        dropped += int(row[0]) if row else 0
    row = first_row(
        cur.execute(
            "DELETE FROM pushed_windows WHERE monitor = ? AND window_start < "
            "coalesce((SELECT max(expired_before) FROM retention_state WHERE monitor = ?), TIMESTAMP '-infinity')",
            [monitor, monitor],
        )
    )
    return dropped + (int(row[0]) if row else 0)


def _deletable(monitor: str) -> tuple[str, str]:
    """(the monitor's predictions table, the condition on its rows `p` that may go: ``ts < $cutoff`` and no
    queue holds their window)."""
    queued = " OR ".join(
        f"EXISTS ({_QUEUED.format(queue=q)})" for q in ("window_queue", "performance_queue", "pushed_windows")
    )
    return prediction_table(monitor), f"p.ts < $cutoff AND NOT ({queued})"


def expiry_slice_ends(
    cur: duckdb.DuckDBPyConnection, monitor: str, cutoff: datetime, limit: int
) -> list[datetime]:
    """The timestamp of every `limit`-th prediction row that may go, oldest first: the ends of the time slices
    retention deletes one transaction each.

    Why slices of time and not ``rowid IN (… LIMIT n)`` batches: a delete by row id probes every row id of the
    table and each batch re-finds its rows, so a day's deletion cost grew with the rows kept; slice bounds are
    on `ts`, which DuckDB's zone maps prune to the oldest row groups, and one ordered pass finds every end
    (500k rows deleted from a 10M-row table in 50k batches: 0.51 CPU-s by row id, 0.19 by planned slices,
    0.13 as one delete).
    """
    table, deletable = _deletable(monitor)
    rows = cur.execute(
        f"SELECT ts FROM (SELECT p.ts, row_number() OVER (ORDER BY p.ts) AS n FROM {table} AS p "
        f"WHERE {deletable}) WHERE n % $limit = 0 ORDER BY ts",
        {"monitor": monitor, "cutoff": cutoff, "limit": limit},
    ).fetchall()
    return [r[0] for r in rows]


def delete_expired_predictions(
    cur: duckdb.DuckDBPyConnection, monitor: str, cutoff: datetime, through: datetime | None
) -> int:
    """Delete the prediction rows that may go (``ts < cutoff``, no queue holds their window) with
    ``ts <= through``, or all of them when `through` is None; returns how many."""
    table, deletable = _deletable(monitor)
    params: dict[str, object] = {"monitor": monitor, "cutoff": cutoff}
    if through is not None:
        deletable = f"p.ts <= $through AND {deletable}"
        params["through"] = through
    row = first_row(cur.execute(f"DELETE FROM {table} AS p WHERE {deletable}", params))
    return int(row[0]) if row else 0


def delete_expired_quarantine(
    cur: duckdb.DuckDBPyConnection, monitor: str, cutoff: datetime, limit: int
) -> int:
    """Delete at most `limit` quarantined rows of the monitor quarantined before `cutoff`."""
    row = first_row(
        cur.execute(
            "DELETE FROM quarantine WHERE rowid IN (SELECT rowid FROM quarantine "
            "WHERE monitor = ? AND quarantined_at < ? LIMIT ?)",
            [monitor, cutoff, limit],
        )
    )
    return int(row[0]) if row else 0


def delete_expired_labels(cur: duckdb.DuckDBPyConnection, monitor: str, cutoff: datetime, limit: int) -> int:
    """Delete at most `limit` labels (current, then replaced ones) labelled before `cutoff`."""
    row = first_row(
        cur.execute(
            "DELETE FROM labels WHERE rowid IN (SELECT rowid FROM labels "
            "WHERE monitor = ? AND labelled_at < ? LIMIT ?)",
            [monitor, cutoff, limit],
        )
    )
    deleted = int(row[0]) if row else 0
    if deleted < limit:
        row = first_row(
            cur.execute(
                "DELETE FROM label_history WHERE rowid IN (SELECT rowid FROM label_history "
                "WHERE monitor = ? AND labelled_at < ? LIMIT ?)",
                [monitor, cutoff, limit - deleted],
            )
        )
        deleted += int(row[0]) if row else 0
    return deleted


def oldest_prediction(cur: duckdb.DuckDBPyConnection, monitor: str) -> datetime | None:
    """The timestamp of the oldest prediction row kept (naive UTC), None for an empty or missing table."""
    exists = first_row(
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [f"predictions:{monitor}"]
        )
    )
    if not exists or not exists[0]:
        return None
    row = first_row(cur.execute(f"SELECT min(ts) FROM {prediction_table(monitor)}"))
    return row[0] if row and row[0] is not None else None


def count_expired(cur: duckdb.DuckDBPyConnection, run_id: str, rows: int) -> None:
    """Add `rows` to the run's `rows_expired` in the deleting transaction itself, so the count stays exact
    when the process is killed before the run is finished (an interrupted run keeps what it deleted)."""
    cur.execute(
        "UPDATE runs SET rows_expired = coalesce(rows_expired, 0) + ? WHERE run_id = ?", [rows, run_id]
    )
