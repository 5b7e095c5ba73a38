"""A monitor's predictions table: created from its config, filled from a normalised batch, read per window."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from driftwatch.durations import WINDOW_ORIGIN, to_naive_utc
from driftwatch.storage.database import first_row
from driftwatch.storage.schema import feature_column, prediction_table, segment_column

_ORIGIN = to_naive_utc(WINDOW_ORIGIN)


def window_bucket_sql(ts_column: str = "ts") -> str:
    """SQL for the start of a row's window; the window width in microseconds is bound as $width_us."""
    return f"time_bucket(to_microseconds(CAST($width_us AS BIGINT)), {ts_column}, TIMESTAMP '{_ORIGIN.isoformat(sep=' ')}')"


def width_us(width: timedelta) -> int:
    return int(width.total_seconds() * 1_000_000)


def ensure_prediction_table(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    segments: tuple[str, ...] = (),
) -> None:
    """Create the table, or add columns for features/segments added to the config since (old rows: NULL)."""
    table = prediction_table(monitor)
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "request_id VARCHAR PRIMARY KEY, ts TIMESTAMP NOT NULL, model_version VARCHAR NOT NULL, "
        "prediction DOUBLE, output VARCHAR)"
    )
    existing = {
        str(r[0])
        for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [f"predictions:{monitor}"],
        ).fetchall()
    }
    wanted = [(f"s:{s}", segment_column(s), "VARCHAR") for s in segments]
    wanted += [(f"f:{n}", feature_column(n), "DOUBLE") for n in numeric]
    wanted += [(f"f:{c}", feature_column(c), "VARCHAR") for c in categorical]
    for raw_name, quoted, sql_type in wanted:
        if raw_name not in existing:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {quoted} {sql_type}")


def insert_batch(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    batch: str,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    segments: tuple[str, ...],
) -> int:
    """Insert the good rows of a normalised batch table; a request_id already stored is skipped. Returns rows added.

    A request id seen twice in the batch is inserted once, from its first row (the lowest `_row`: as `ON CONFLICT
    DO NOTHING` kept the first row it scanned). A stored id (committed, or inserted earlier in this transaction
    by a previous batch of the same file) is left out by an anti-join on `request_id` alone.

    Why not `INSERT … ON CONFLICT DO NOTHING` any more (measured on 1M new Parquet rows, 22 features, DuckDB
    2.0.1, docs/benchmarks.md "Ingest in bounded batches"): DuckDB runs it as a MERGE that first de-duplicates
    the batch by a hash aggregate carrying all 26 columns, 2.5-2.9 CPU-s; grouping the keys alone and
    anti-joining costs 0.3 CPU-s and the plain insert 1.7 CPU-s. The anti-join scans the stored request ids
    (it grows with history, ~0.1 CPU-s per 1M stored ids), where the MERGE probed the key's ART index.
    Keep the primary key all the same: it is what refuses a second writer's copy of the same id (a push
    committing while a cycle ingests: `api.push` runs the push again on `database.is_conflict`, and then
    finds the id stored), whatever the row's timestamp.
    """
    # (unquoted name, quoted identifier): the batch's DESCRIBE gives names unquoted, so a name holding a `"` must
    # be compared unquoted (comparing `"f:a""b"` stripped of its outer quotes missed it: the feature was stored
    # as NULL on every row).
    wanted = [(c, c) for c in ("request_id", "ts", "model_version", "prediction", "output")]
    wanted += [(f"s:{s}", segment_column(s)) for s in segments]
    wanted += [(f"f:{n}", feature_column(n)) for n in numeric + categorical]
    names = ", ".join(quoted for _, quoted in wanted)
    present = {str(r[0]) for r in cur.execute(f"DESCRIBE {batch}").fetchall()}
    select = ", ".join(quoted if raw in present else f"NULL AS {quoted}" for raw, quoted in wanted)
    table = prediction_table(monitor)
    row = first_row(
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {select} FROM {batch} "
            f"WHERE _reason IS NULL AND _row IN (SELECT min(_row) FROM {batch} WHERE _reason IS NULL "
            "GROUP BY request_id) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} AS stored WHERE stored.request_id = {batch}.request_id)"
        )
    )
    return int(row[0]) if row else 0


def window_filter(model_version: str, start: datetime, end: datetime) -> tuple[str, dict[str, object]]:
    """The WHERE clause (and its bound parameters) selecting a window's rows of a predictions table.

    A window holds the rows with ``start <= ts < end`` (the start inclusive, the end exclusive, so a row at a
    window's end belongs to the next window only); the model version ``'*'`` selects every version. The
    parameters are named ``start``, ``end`` and ``version``.
    """
    params: dict[str, object] = {"start": start, "end": end}
    where = "ts >= $start AND ts < $end"
    if model_version != "*":
        where += " AND model_version = $version"
        params["version"] = model_version
    return where, params
