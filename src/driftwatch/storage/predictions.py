"""A monitor's predictions table: created from its config, filled from a normalised batch, read per window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb

from driftwatch.durations import WINDOW_ORIGIN, to_naive_utc
from driftwatch.storage.database import first_row
from driftwatch.storage.prediction_identity import PREDICTION_KEY_COLUMNS
from driftwatch.storage.probabilities import PROBABILITY_PREFIX, probability_column, probability_column_name
from driftwatch.storage.schema import feature_column, prediction_table, quote_identifier, segment_column

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
    probabilities: tuple[str, ...] = (),
) -> None:
    """Create the table, or add columns for features/segments added to the config since (old rows: NULL);
    `probabilities` are a multiclass monitor's class names, a DOUBLE column `p:<class>` each
    (storage/probabilities.py)."""
    table = prediction_table(monitor)
    cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({PREDICTION_KEY_COLUMNS})")
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
    wanted += [(probability_column_name(c), probability_column(c), "DOUBLE") for c in probabilities]
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
    repeats: bool | None = None,
    aligned: bool = False,
) -> int:
    """Insert the good rows of a normalised batch table; a prediction already stored is skipped. Returns rows
    added. `repeats`: `pairs_repeat` of the batch when the caller found it already (None: found here).
    `aligned`: the batch is an Arrow table whose chunks are whole row groups (`row_group_aligned`), so the
    anti-join may be left out when no stored id is in the batch's range (`_ids_may_be_stored`).

    A prediction is identified by (request_id, model_version): the same request scored by two model versions
    (a shadow deployment) is two rows, the same request and version sent again is one. A pair seen twice in
    the batch is inserted once, from its first row (the lowest `_row`, as `ON CONFLICT DO NOTHING` kept the
    first row it scanned). A stored pair (committed, or inserted earlier in this transaction by a previous
    batch of the same file) is left out by an anti-join on the pair.

    The table has no primary key (docs/benchmarks.md "Prediction identity without a primary key"): DuckDB
    maintains a key's ART index at every COMMIT that deletes rows (retention: ~25-40 µs per deleted key,
    the cycle at day 180 took 4.3-5.0x the cycle at day 90), and the anti-join never used it anyway (it
    scans the stored pairs: ~0.1 CPU-s per 1M stored rows). What the key did besides, refusing a second
    writer's copy of the same id, is now done by the caller holding `Database.predictions_writer(monitor)`
    from before BEGIN to after COMMIT (file batches in `pipeline.ingest`, pushes in `api.push`): inserts
    into one monitor's table are serialised, and each one's snapshot already holds every earlier insert, so
    the anti-join sees every stored pair. Nothing else inserts into a predictions table.
    """
    # (unquoted name, quoted identifier): the batch's DESCRIBE gives names unquoted, so a name holding a `"` must
    # be compared unquoted (comparing `"f:a""b"` stripped of its outer quotes missed it: the feature was stored
    # as NULL on every row).
    wanted = [(c, c) for c in ("request_id", "ts", "model_version", "prediction", "output")]
    wanted += [(f"s:{s}", segment_column(s)) for s in segments]
    wanted += [(f"f:{n}", feature_column(n)) for n in numeric + categorical]
    present = {str(r[0]) for r in cur.execute(f"DESCRIBE {batch}").fetchall()}
    # A multiclass model's per-class probabilities (`p:<class>`, storage.probabilities), when configured.
    wanted += [(c, quote_identifier(c)) for c in sorted(present) if c.startswith(PROBABILITY_PREFIX)]
    names = ", ".join(quoted for _, quoted in wanted)
    select = ", ".join(quoted if raw in present else f"NULL AS {quoted}" for raw, quoted in wanted)
    table = prediction_table(monitor)
    # The first row per pair only when a pair repeats in the batch (rare): the check is one aggregate, the
    # filter it spares a semi-join of every row (1M rows: 1.55 -> 1.31 CPU-s with the insert).
    first_only = (
        f"AND _row IN (SELECT min(_row) FROM {batch} WHERE _reason IS NULL GROUP BY request_id, model_version) "
        if (pairs_repeat(cur, batch) if repeats is None else repeats)
        else ""
    )
    # The batch's rows already stored, found by a join (DuckDB builds its hash table on the smaller side, the
    # batch, and pushes the batch's min/max pair into the scan of the stored pairs, so row groups of other ids
    # are skipped by their zone maps), then left out by row number. `NOT EXISTS` built the hash table on the
    # stored pairs: with 10M stored, 0.64 CPU-s per 1M-row batch of new, time-ordered ids, against ~0 this way
    # (random ids, whose ranges overlap every row group: 0.76 vs 0.78). Same rows either way.
    not_stored = (
        f"AND _row NOT IN (SELECT b._row FROM {batch} AS b JOIN {table} AS stored "
        "ON stored.request_id = b.request_id AND stored.model_version = b.model_version "
        "WHERE b._reason IS NULL)"
        if not aligned or _ids_may_be_stored(cur, table, batch)
        else ""
    )
    row = first_row(
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {select} FROM {batch} WHERE _reason IS NULL {first_only}"
            f"{not_stored}"
        )
    )
    return int(row[0]) if row else 0


# DuckDB's rows per row group (its default, which `storage.database` does not change).
ROW_GROUP_ROWS = 122_880


def row_group_aligned(chunk_rows: Sequence[int]) -> bool:
    """Whether an Arrow table of chunks of these sizes is inserted fastest without an anti-join.

    Measured (DuckDB 2.0, 1M rows x 25 columns): a plain `INSERT ... SELECT` from Arrow chunks of 122,880
    rows (a Parquet row group, as DuckDB's Parquet reader hands them out) took 0.53 s, 0.67 s with the
    anti-join; from chunks of another size (the NDJSON reader's ~11.6k, or 46k, 93k) it took 0.89-1.04 s
    without the anti-join and 0.55 s with it. DuckDB's order-keeping insert merges row groups that chunks
    of another size leave partly filled; a join in the plan avoids that path. A few odd chunks (a Parquet
    file's last row group of each million rows) cost nothing measurable: up to one row group's worth of rows
    in odd chunks counts as aligned.
    """
    return sum(rows for rows in chunk_rows if rows % ROW_GROUP_ROWS) <= ROW_GROUP_ROWS


def _ids_may_be_stored(cur: duckdb.DuckDBPyConnection, table: str, batch: str) -> bool:
    """Whether a stored row's request id lies between the batch's smallest and largest good id.

    When none does, no row of the batch can be stored already and the anti-join is left out: it builds a
    hash table of the batch's pairs whatever the stored rows (10M-row Parquet file in 10 batches: 11.1 ->
    9.9 s). The range test reads only the row groups whose zone maps overlap the range, so it is ~1 ms for
    ids that grow with time (new rows, new ids); random ids (UUIDs) overlap every batch and take the
    anti-join as before.
    """
    bounds = first_row(
        cur.execute(f"SELECT min(request_id), max(request_id) FROM {batch} WHERE _reason IS NULL")
    )
    if bounds is None or bounds[0] is None:
        return False  # no good row: nothing to insert
    row = first_row(
        cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE request_id BETWEEN $low AND $high)",
            {"low": bounds[0], "high": bounds[1]},
        )
    )
    return bool(row and row[0])


def pairs_repeat(cur: duckdb.DuckDBPyConnection, batch: str) -> bool:
    """Whether some (request_id, model_version) occurs on more than one good row of the batch.

    First by the pairs' 64-bit hashes, which is exact in the usual answer: as many distinct hashes as rows
    means as many distinct pairs. Fewer (a repeat, or two pairs with one hash) is settled on the pairs
    themselves. Hashes are fixed-width, so this costs ~2/3 of grouping the strings (1M rows).
    """
    distinct = first_row(
        cur.execute(
            f"SELECT count(*) = count(DISTINCT hash(request_id, model_version)) FROM {batch} WHERE _reason IS NULL"
        )
    )
    if distinct and distinct[0]:
        return False
    row = first_row(
        cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM {batch} WHERE _reason IS NULL GROUP BY request_id, model_version "
            "HAVING count(*) > 1)"
        )
    )
    return bool(row and row[0])


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
