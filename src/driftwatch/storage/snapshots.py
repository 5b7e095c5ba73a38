"""Snapshots of prediction rows to Parquet (pipeline/snapshots.py writes them; the statements are here).

A snapshot is written with the monitor's own log column names (`SnapshotColumns`), so the folder reads back
as a `predictions` source with the monitor's config and only `path` changed. Files are partitioned
`day=YYYY-MM-DD/version=<model_version>/`; the model version stays inside the files too, so a reader that
ignores the hive partitions still sees it.

The `snapshots` table follows each snapshot: `writing` (recorded before the first byte, so a crash leaves a
trace; `writing_on_demand` for `driftwatch snapshot`), `complete` (the manifest is written), `applied` (its rows
are deleted from the monitor's table); `on_demand` (an on-demand snapshot's manifest is written), `abandoned`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.storage.database import first_row
from driftwatch.storage.schema import feature_column, prediction_table, quote_identifier, segment_column


@dataclass(frozen=True)
class SnapshotColumns:
    """The monitor's log column names the rows are written under."""

    timestamp: str
    id: str
    model_version: str
    features_field: str | None  # a struct column holding the features; None = one column per feature
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    prediction: str | None
    output: str | None
    segments: tuple[str, ...]


# A snapshot being written, by purpose: recorded before the first byte so a process killed after the manifest
# but before the final status still tells the next pass which status to settle it in.
WRITING = "writing"  # for retention: settled `complete`, then its rows may be deleted
WRITING_ON_DEMAND = "writing_on_demand"  # `driftwatch snapshot`: settled `on_demand`, never used for deletion


@dataclass(frozen=True)
class SnapshotRecord:
    snapshot_id: str
    path: str
    status: str
    after: datetime | None
    before: datetime


def _select_list(cols: SnapshotColumns) -> str:
    q = quote_identifier
    items = [
        f"request_id AS {q(cols.id)}",
        f"ts AS {q(cols.timestamp)}",
        f"model_version AS {q(cols.model_version)}",
    ]
    if cols.prediction:
        items.append(f"prediction AS {q(cols.prediction)}")
    if cols.output:
        items.append(f"output AS {q(cols.output)}")
    items += [f"{segment_column(s)} AS {q(s)}" for s in cols.segments]
    names = cols.numeric + cols.categorical
    if cols.features_field is not None:
        fields = ", ".join(f"{q(n)} := {feature_column(n)}" for n in names)
        items.append(f"struct_pack({fields}) AS {q(cols.features_field)}")
    else:
        items += [f"{feature_column(n)} AS {q(n)}" for n in names]
    # Partition keys (hive folders): not in the files.
    items += ["strftime(ts, '%Y-%m-%d') AS day", "model_version AS version"]
    return ", ".join(items)


def export_rows(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    cols: SnapshotColumns,
    after: datetime | None,
    before: datetime,
    folder: str,
) -> int:
    """Write the monitor's rows with ``after <= ts < before`` under `folder` (it must not exist); returns rows."""
    where = "ts < $before" + (" AND ts >= $after" if after is not None else "")
    params: dict[str, object] = {"before": before}
    if after is not None:
        params["after"] = after
    row = first_row(
        cur.execute(
            f"COPY (SELECT {_select_list(cols)} FROM {prediction_table(monitor)} WHERE {where} "
            "ORDER BY ts, request_id, model_version) TO "
            f"'{_literal(folder)}' (FORMAT PARQUET, PARTITION_BY (day, version), FILENAME_PATTERN 'part-{{i}}')",
            params,
        )
    )
    return int(row[0]) if row else 0


def _literal(text: str) -> str:
    """A path as an SQL string literal's body (COPY's target cannot be a bound parameter)."""
    return text.replace("'", "''")


def record_snapshot(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    snapshot_id: str,
    path: str,
    after: datetime | None,
    before: datetime,
    now: datetime,
    status: str = WRITING,
) -> None:
    """Record a snapshot before its first byte: `status` is WRITING (for retention: may become `complete`)
    or WRITING_ON_DEMAND (`driftwatch snapshot`: becomes `on_demand`, never used for a deletion)."""
    cur.execute(
        "INSERT INTO snapshots (monitor, snapshot_id, path, after_ts, before_ts, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [monitor, snapshot_id, path, after, before, status, now],
    )


def set_snapshot_status(
    cur: duckdb.DuckDBPyConnection,
    snapshot_id: str,
    status: str,
    rows: int | None = None,
    size: int | None = None,
) -> None:
    cur.execute(
        "UPDATE snapshots SET status = ?, rows = coalesce(?, rows), bytes = coalesce(?, bytes) "
        "WHERE snapshot_id = ?",
        [status, rows, size, snapshot_id],
    )


def unapplied_snapshots(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[SnapshotRecord]:
    """The monitor's snapshots not yet `applied` (writing, writing_on_demand or complete), oldest first."""
    rows = cur.execute(
        "SELECT snapshot_id, path, status, after_ts, before_ts FROM snapshots "
        "WHERE monitor = ? AND status IN (?, ?, 'complete') ORDER BY created_at",
        [monitor, WRITING, WRITING_ON_DEMAND],
    ).fetchall()
    return [SnapshotRecord(str(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows]


def snapshot_bytes_total(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Monitor → bytes written by completed snapshots."""
    rows = cur.execute(
        "SELECT monitor, sum(coalesce(bytes, 0)) FROM snapshots WHERE status IN ('complete', 'applied', 'on_demand') "
        "GROUP BY monitor"
    ).fetchall()
    return {str(m): int(n or 0) for m, n in rows}


def delete_snapshotted_predictions(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    key_columns: tuple[str, str],
    files: list[str],
    before: datetime,
    limit: int,
) -> int:
    """Delete at most `limit` rows with ``ts < before`` whose prediction is in the snapshot `files`.

    `key_columns` names the snapshot's request-id and model-version columns: a prediction is the pair, so a
    shadow model's row of the same request that arrived after the snapshot was written is not in it. Only
    rows proven to be in a completed snapshot go: a row that arrived after the snapshot was written (a late
    row for an old window, a shadow row) stays until the next snapshot holds it.
    """
    table = prediction_table(monitor)
    rid, version = (quote_identifier(c) for c in key_columns)
    row = first_row(
        cur.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT p.rowid FROM {table} AS p "
            f"WHERE p.ts < $before AND EXISTS (SELECT 1 FROM read_parquet($files, hive_partitioning = false) "
            f"AS s WHERE s.{rid} = p.request_id AND s.{version} = p.model_version) LIMIT $limit)",
            {"files": files, "before": before, "limit": limit},
        )
    )
    return int(row[0]) if row else 0


def count_before(cur: duckdb.DuckDBPyConnection, monitor: str, before: datetime) -> int:
    row = first_row(cur.execute(f"SELECT count(*) FROM {prediction_table(monitor)} WHERE ts < ?", [before]))
    return int(row[0]) if row else 0


def stored_columns(
    cur: duckdb.DuckDBPyConnection, monitor: str
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(numeric features, categorical features, segments) as the monitor's predictions table holds them."""
    rows = cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [f"predictions:{monitor}"],
    ).fetchall()
    numeric = tuple(str(n)[2:] for n, t in rows if str(n).startswith("f:") and str(t) == "DOUBLE")
    categorical = tuple(str(n)[2:] for n, t in rows if str(n).startswith("f:") and str(t) != "DOUBLE")
    segments = tuple(str(n)[2:] for n, _ in rows if str(n).startswith("s:"))
    return numeric, categorical, segments
