"""One batch of normalised prediction rows (an Arrow record batch streamed from a source file) stored in the
monitor's table: new rows inserted, bad rows quarantined, their windows queued.

A file is ingested as a stream of bounded batches, one transaction per batch (`pipeline.ingest`): a 10M-row file
used to be copied whole into a temp table and inserted by one `INSERT … ON CONFLICT`, so memory grew with the
file and DuckDB spilled (10M rows took 13.6× the time of 1M, 4.9 GB peak RSS). Every statement here reads the
batch as a registered Arrow view (no copy) and costs in proportion to the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from driftwatch.storage.database import first_row, registered
from driftwatch.storage.predictions import (
    insert_batch,
    pairs_repeat,
    row_group_aligned,
    width_us,
    window_bucket_sql,
)
from driftwatch.storage.quarantine import quarantine_batch

STREAM_BATCH = "_ingest_stream_batch"  # a view name on the writing cursor, registered for one batch at a time
READ_BATCH = "_ingest_read_batch"  # the same on the reading side's cursor (`batch_pairs_repeat`)


@dataclass(frozen=True)
class BatchCounts:
    """What one batch did: rows in it, rows with a `_reason`, rows inserted, rows newly quarantined."""

    rows: int
    bad: int
    inserted: int
    quarantined: int

    @property
    def duplicates(self) -> int:
        """Good rows not inserted: their (request id, model version) was stored already (earlier file, batch
        or row)."""
        return self.rows - self.bad - self.inserted


def store_prediction_batch(
    tx: duckdb.DuckDBPyConnection,
    monitor: str,
    batch: pa.Table,
    columns: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    source: str,
    window: timedelta,
    now: datetime,
    repeats: bool | None = None,
) -> BatchCounts:
    """Inside the file's transaction: store one normalised batch; returns its counts.

    `columns` is (numeric, categorical, segments) as configured. Safe to run twice on the same rows (a file
    read again after a crash): a stored (request id, model version) is skipped and a quarantined row is not
    added again. The caller holds `Database.predictions_writer(monitor)` around the transaction. `repeats`:
    `batch_pairs_repeat(batch)`, when the caller found it outside the transaction (None: found here).
    """
    with registered(tx, STREAM_BATCH, batch):
        bad = bad_rows(tx, STREAM_BATCH)
        aligned = (
            row_group_aligned([len(chunk) for chunk in batch.column(0).chunks])
            if batch.num_columns
            else False
        )
        inserted = insert_batch(tx, monitor, STREAM_BATCH, *columns, repeats=repeats, aligned=aligned)
        quarantined = quarantine_batch(tx, monitor, "predictions", source, STREAM_BATCH, now) if bad else 0
        if batch.num_rows > bad:  # as before streaming: re-read good rows re-queue their windows
            queue_batch_windows(tx, monitor, STREAM_BATCH, window, now)
    return BatchCounts(batch.num_rows, bad, inserted, quarantined)


def batch_pairs_repeat(cur: duckdb.DuckDBPyConnection, batch: pa.Table) -> bool:
    """Whether a (request id, model version) occurs on more than one good row of a normalised batch.

    Depends on the batch alone, so ingest finds it on its read-ahead thread, on that thread's own cursor,
    while the batch before is being stored (10M rows: ~1.4 s of the store's critical path).
    """
    with registered(cur, READ_BATCH, batch):
        return pairs_repeat(cur, READ_BATCH)


def bad_rows(cur: duckdb.DuckDBPyConnection, batch: str) -> int:
    """How many rows of a normalised batch have a `_reason` (are to be quarantined)."""
    row = first_row(cur.execute(f"SELECT count(*) FROM {batch} WHERE _reason IS NOT NULL"))
    return int(row[0]) if row else 0


def queue_batch_windows(
    tx: duckdb.DuckDBPyConnection, monitor: str, batch: str, window: timedelta, now: datetime
) -> None:
    """Queue (or re-queue, with reason 'new rows') every window a good row of the batch falls in."""
    bucket = window_bucket_sql("ts")
    tx.execute(
        f"INSERT INTO window_queue SELECT DISTINCT $monitor, model_version, {bucket}, "
        f"{bucket} + to_microseconds(CAST($width_us AS BIGINT)), $now, 'new rows' "
        f"FROM {batch} WHERE _reason IS NULL "
        "ON CONFLICT DO UPDATE SET queued_at = excluded.queued_at, reason = excluded.reason",
        {"monitor": monitor, "width_us": width_us(window), "now": now},
    )
