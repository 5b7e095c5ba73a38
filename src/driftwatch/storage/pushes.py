"""Pushed prediction batches: staged on the pushing thread's cursor, stored in one short transaction that no
cycle waits for, and the windows they touch handed to the next cycle through `pushed_windows`.

Why a table of its own for the windows: a push must not write `window_queue`, because a running cycle deletes
rows there (a window it has just computed) and DuckDB refuses one of two transactions that write the same row.
`pushed_windows` is only ever appended to by pushes and emptied by a cycle (`fold_pushed_windows`, under the
monitor's lock), and a delete of committed rows commits alongside concurrent appends. The cycle folds it into
`window_queue` before it plans its windows; rows pushed after the fold are in the table the cycle reads, and
their windows wait in `pushed_windows` for the next cycle, so a window is computed again rather than missed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

from driftwatch.storage.database import first_row
from driftwatch.storage.ingested_files import record_ingested
from driftwatch.storage.predictions import insert_batch, width_us, window_bucket_sql

PUSH_BATCH = "_push_batch"  # a temp table: one per cursor, and every thread has its own cursor


def stage_batch(cur: duckdb.DuckDBPyConnection, normalised_sql: str, params: dict[str, Any]) -> int:
    """Read the normalised batch once into this cursor's temp table; returns its rows."""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {PUSH_BATCH} AS {normalised_sql}", params)
    row = first_row(cur.execute(f"SELECT count(*) FROM {PUSH_BATCH}"))
    return int(row[0]) if row else 0


def staged_problems(cur: duckdb.DuckDBPyConnection) -> list[tuple[Any, Any, Any]]:
    """(_row, request_id, _reason) of every refused record of the staged batch, in batch order."""
    rows = cur.execute(
        f"SELECT _row, request_id, _reason FROM {PUSH_BATCH} WHERE _reason IS NOT NULL ORDER BY _row"
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def drop_staged(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {PUSH_BATCH}")


def store_staged(
    tx: duckdb.DuckDBPyConnection,
    monitor: str,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    segments: tuple[str, ...],
    window: timedelta,
    source: str,
    size: int,
    rows: int,
    now: datetime,
) -> int:
    """Inside the push's transaction (the caller holds `Database.predictions_writer`): insert the staged rows
    (a stored prediction, the same request id and model version, is skipped), note the windows they fall in
    for the next cycle, and record the batch in `ingested_files`. Returns the rows inserted."""
    inserted = insert_batch(tx, monitor, PUSH_BATCH, numeric, categorical, segments)
    bucket = window_bucket_sql("ts")
    tx.execute(
        f"INSERT INTO pushed_windows SELECT DISTINCT $monitor, model_version, {bucket}, "
        f"{bucket} + to_microseconds(CAST($width_us AS BIGINT)), $now FROM {PUSH_BATCH} WHERE _reason IS NULL",
        {"monitor": monitor, "width_us": width_us(window), "now": now},
    )
    record_ingested(tx, monitor, "predictions", source, size, 0, now, (rows, inserted, rows - inserted, 0))
    return inserted


def fold_pushed_windows(tx: duckdb.DuckDBPyConnection, monitor: str, now: datetime) -> int:
    """Move the windows pushes noted into `window_queue` (queued at `now`); returns the windows queued.

    Only the rows this transaction sees are deleted: a push committing meanwhile keeps its rows for the next
    fold.
    """
    row = first_row(tx.execute("SELECT count(*) FROM pushed_windows WHERE monitor = ?", [monitor]))
    if not row or not row[0]:
        return 0
    queued = first_row(
        tx.execute(
            "INSERT INTO window_queue SELECT monitor, model_version, window_start, max(window_end), $now, "
            "'pushed rows' FROM pushed_windows WHERE monitor = $monitor "
            "GROUP BY monitor, model_version, window_start "
            "ON CONFLICT DO UPDATE SET queued_at = excluded.queued_at, reason = excluded.reason",
            {"monitor": monitor, "now": now},
        )
    )
    tx.execute("DELETE FROM pushed_windows WHERE monitor = ?", [monitor])
    return int(queued[0]) if queued else 0


def windows_waiting(cur: duckdb.DuckDBPyConnection, monitor: str) -> int:
    """Distinct (model version, window) pairs waiting to be computed: queued in `window_queue`, or noted by a
    push in `pushed_windows` and not yet folded into the queue by a cycle (a window in both counts once)."""
    row = first_row(
        cur.execute(
            "SELECT count(*) FROM (SELECT model_version, window_start FROM window_queue WHERE monitor = $m "
            "UNION SELECT model_version, window_start FROM pushed_windows WHERE monitor = $m)",
            {"m": monitor},
        )
    )
    return int(row[0]) if row else 0
