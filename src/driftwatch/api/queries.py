"""Read queries the API serves beyond storage/results.py: runs, window summaries, counts, optional tables.

All values are bound as parameters; table names from config go through `quote_identifier`. Tables owned by
features that may not be installed yet (`alert_state`, `alert_outbox`) are read only when they exist.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import duckdb

from driftwatch.durations import as_utc, to_naive_utc
from driftwatch.storage.database import Database, first_row
from driftwatch.storage.schema import prediction_table

RUN_COLUMNS = (
    "run_id",
    "monitor",
    "trigger",
    "started_at",
    "finished_at",
    "status",
    "rows_ingested",
    "rows_duplicate",
    "rows_quarantined",
    "files_failed",
    "windows_computed",
    "error",
)
WINDOW_COLUMNS = (
    "monitor",
    "model_version",
    "segment",
    "window_start",
    "window_end",
    "rows",
    "features",
    "features_warn",
    "features_drift",
    "drift_share",
    "status",
    "run_id",
    "computed_at",
)


def utc(ts: datetime | None) -> datetime | None:
    """Naive UTC (as stored) → aware UTC."""
    return None if ts is None else as_utc(ts)


def naive(ts: datetime) -> datetime:
    """Aware → naive UTC, the form TIMESTAMP columns hold."""
    return to_naive_utc(ts)


def finite(value: Any) -> Any:
    """NaN/inf → None, so JSON stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _run(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(RUN_COLUMNS, row, strict=True))
    started, finished = item["started_at"], item["finished_at"]
    item["seconds"] = (finished - started).total_seconds() if finished is not None else None
    item["started_at"] = utc(started)
    item["finished_at"] = utc(finished)
    return item


def runs(
    cur: duckdb.DuckDBPyConnection,
    monitor: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Runs, newest first, and the total matching."""
    where, params = _filters({"monitor": monitor, "status": status})
    total_row = first_row(cur.execute(f"SELECT count(*) FROM runs WHERE {where}", params))
    rows = cur.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE {where} "
        "ORDER BY started_at DESC, run_id LIMIT $limit OFFSET $offset",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    return [_run(r) for r in rows], int(total_row[0]) if total_row else 0


def last_runs(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per monitor: the latest run (any status)."""
    rows = cur.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM runs "
        "QUALIFY row_number() OVER (PARTITION BY monitor ORDER BY started_at DESC, run_id) = 1"
    ).fetchall()
    return {str(r[1]): _run(r) for r in rows}


def last_success(cur: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """Per monitor: when its last successful cycle finished."""
    rows = cur.execute(
        "SELECT monitor, max(finished_at) FROM runs WHERE status = 'ok' GROUP BY monitor"
    ).fetchall()
    return {str(m): utc(ts) for m, ts in rows if ts is not None}  # type: ignore[misc]


def windows(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str | None,
    segment: str | None,
    start: datetime | None,
    end: datetime | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int, int]:
    """Window summaries of one monitor, oldest first, the total matching and how many of those were judged
    (status other than insufficient_data)."""
    where, params = _filters(
        {"monitor": monitor, "model_version": model_version, "segment": segment, "status": status}
    )
    if start is not None:
        where += " AND window_start >= $start"
        params["start"] = naive(start)
    if end is not None:
        where += " AND window_start < $end"
        params["end"] = naive(end)
    total_row = first_row(
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'insufficient_data') "
            f"FROM window_summaries WHERE {where}",
            params,
        )
    )
    rows = cur.execute(
        f"SELECT {', '.join(WINDOW_COLUMNS)} FROM window_summaries WHERE {where} "
        "ORDER BY window_start, model_version, segment LIMIT $limit OFFSET $offset",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    total, judged = (int(total_row[0]), int(total_row[1])) if total_row else (0, 0)
    return [_window(r) for r in rows], total, judged


def latest_windows(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per monitor: the most recent overall window summary (any model version)."""
    rows = cur.execute(
        f"SELECT {', '.join(WINDOW_COLUMNS)} FROM window_summaries WHERE segment = '*' "
        "QUALIFY row_number() OVER (PARTITION BY monitor ORDER BY window_start DESC, model_version) = 1"
    ).fetchall()
    return {str(r[0]): _window(r) for r in rows}


def _window(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(WINDOW_COLUMNS, row, strict=True))
    for key in ("window_start", "window_end", "computed_at"):
        item[key] = utc(item[key])
    item["drift_share"] = finite(item["drift_share"])
    return item


def _filters(values: dict[str, str | None]) -> tuple[str, dict[str, object]]:
    where = ["1 = 1"]
    params: dict[str, object] = {}
    for column, value in values.items():
        if value is not None:
            where.append(f"{column} = ${column}")
            params[column] = value
    return " AND ".join(where), params


def _count(cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> int:
    row = first_row(cur.execute(sql, params))
    return int(row[0]) if row and row[0] is not None else 0


def monitor_counts(db: Database, monitor: str) -> dict[str, int]:
    """Rows stored, quarantined, labels, windows computed and queued, for one monitor."""
    cur = db.cursor()
    table_exists = db.table_exists(f"predictions:{monitor}")
    return {
        "predictions_stored": _count(cur, f"SELECT count(*) FROM {prediction_table(monitor)}", [])
        if table_exists
        else 0,
        "rows_quarantined": _count(cur, "SELECT count(*) FROM quarantine WHERE monitor = ?", [monitor]),
        "labels_stored": _count(cur, "SELECT count(*) FROM labels WHERE monitor = ?", [monitor])
        if db.table_exists("labels")
        else 0,
        "windows_computed": _count(
            cur, "SELECT count(*) FROM window_summaries WHERE monitor = ? AND segment = '*'", [monitor]
        ),
        "windows_queued": _count(cur, "SELECT count(*) FROM window_queue WHERE monitor = ?", [monitor]),
    }


def table_columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def optional_table_rows(
    db: Database, table: str, monitor: str | None, limit: int
) -> list[dict[str, Any]] | None:
    """Every column of a table owned by another feature (None when the table does not exist yet)."""
    if not db.table_exists(table):
        return None
    cur = db.cursor()
    columns = table_columns(cur, table)
    where, params = (
        ("monitor = $monitor", {"monitor": monitor}) if monitor and "monitor" in columns else ("1 = 1", {})
    )
    quoted = '"' + table.replace('"', '""') + '"'
    result = cur.execute(f"SELECT * FROM {quoted} WHERE {where} LIMIT $limit", {**params, "limit": limit})
    names = [d[0] for d in result.description or ()]
    out = []
    for row in result.fetchall():
        item = {}
        for name, value in zip(names, row, strict=True):
            if isinstance(value, datetime):
                value = utc(value)
            item[str(name)] = finite(value)
        out.append(item)
    return out
