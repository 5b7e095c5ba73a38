"""Reads the API serves beyond storage/results.py: runs, window summaries, row counts, optional tables.

Each function is named for what it returns. Times come back aware UTC (they are stored naive UTC); every
other value comes back as stored (the API turns NaN into null). All values are bound as parameters; table
names are quoted. Tables owned by parts of driftwatch that may not be installed in a database yet
(`alert_state`, `labels`, a monitor's predictions) are read only when they exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from driftwatch.durations import as_utc, to_naive_utc
from driftwatch.storage.alerts import aware
from driftwatch.storage.database import Database, first_row
from driftwatch.storage.filters import equal_filters
from driftwatch.storage.pushes import windows_waiting
from driftwatch.storage.report_queries import SUMMARY_COLUMNS, table_columns
from driftwatch.storage.runs import COMPLETED
from driftwatch.storage.schema import prediction_table, quote_identifier

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
    "rows_expired",
    "alerts_firing",
    "alerts_enqueued",
    "alerts_suppressed",
    "error",
)
_WINDOW_TIMES = ("window_start", "window_end", "computed_at")


def _run(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(RUN_COLUMNS, row, strict=True))
    started, finished = item["started_at"], item["finished_at"]
    item["seconds"] = (finished - started).total_seconds() if finished is not None else None
    item["started_at"] = aware(started)
    item["finished_at"] = aware(finished)
    return item


def runs_page(
    cur: duckdb.DuckDBPyConnection,
    monitor: str | None,
    status: str | Sequence[str] | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Runs, newest first (with `seconds` when finished), and the total matching. `status`: one status, or
    several (a run with any of them matches)."""
    where, params = equal_filters({"monitor": monitor})
    if status is not None:
        where += " AND list_contains($statuses, status)"
        params["statuses"] = [status] if isinstance(status, str) else list(status)
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


def last_successful_cycles(cur: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """Per monitor, in name order: when its last successful cycle finished (aware UTC). A `degraded` cycle
    (a source unreadable, every step run) counts: it computed what it could read, and the unreadable source has
    its own signal (`files_failed`, DriftwatchSourceUnreadable); "no successful cycle" means none ran to its end."""
    rows = cur.execute(
        "SELECT monitor, max(finished_at) FROM runs WHERE status IN (?, ?) GROUP BY monitor ORDER BY monitor",
        list(COMPLETED),
    ).fetchall()
    return {str(m): as_utc(ts) for m, ts in rows if ts is not None}


def windows_page(
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
    """Window summaries of one monitor starting in [start, end), oldest first, the total matching and how
    many of those were judged (status other than insufficient_data)."""
    where, params = equal_filters(
        {"monitor": monitor, "model_version": model_version, "segment": segment, "status": status}
    )
    if start is not None:
        where += " AND window_start >= $start"
        params["start"] = to_naive_utc(start)
    if end is not None:
        where += " AND window_start < $end"
        params["end"] = to_naive_utc(end)
    total_row = first_row(
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'insufficient_data') "
            f"FROM window_summaries WHERE {where}",
            params,
        )
    )
    rows = cur.execute(
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM window_summaries WHERE {where} "
        "ORDER BY window_start, model_version, segment LIMIT $limit OFFSET $offset",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    total, judged = (int(total_row[0]), int(total_row[1])) if total_row else (0, 0)
    return [_window(r) for r in rows], total, judged


def latest_overall_windows(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per monitor: the most recent overall window summary (any model version)."""
    rows = cur.execute(
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM window_summaries WHERE segment = '*' "
        "QUALIFY row_number() OVER (PARTITION BY monitor ORDER BY window_start DESC, model_version) = 1"
    ).fetchall()
    return {str(r[0]): _window(r) for r in rows}


def _window(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(SUMMARY_COLUMNS, row, strict=True))
    for key in _WINDOW_TIMES:
        item[key] = aware(item[key])
    return item


def _count(cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> int:
    row = first_row(cur.execute(sql, params))
    return int(row[0]) if row and row[0] is not None else 0


def monitor_counts(db: Database, monitor: str) -> dict[str, int]:
    """Rows stored, quarantined, labels, windows computed and queued, for one monitor."""
    cur = db.cursor()
    has_predictions = db.table_exists(f"predictions:{monitor}")
    return {
        "predictions_stored": _count(cur, f"SELECT count(*) FROM {prediction_table(monitor)}", [])
        if has_predictions
        else 0,
        "rows_quarantined": _count(cur, "SELECT count(*) FROM quarantine WHERE monitor = ?", [monitor]),
        "labels_stored": _count(cur, "SELECT count(*) FROM labels WHERE monitor = ?", [monitor])
        if db.table_exists("labels")
        else 0,
        "windows_computed": _count(
            cur, "SELECT count(*) FROM window_summaries WHERE monitor = ? AND segment = '*'", [monitor]
        ),
        "windows_queued": windows_waiting(cur, monitor),
    }


def optional_table_rows(
    db: Database, table: str, monitor: str | None, limit: int
) -> list[dict[str, Any]] | None:
    """Every column of a table owned by another feature (None when the table does not exist yet), times
    aware UTC, at most `limit` rows, only `monitor`'s when named and the table has that column."""
    if not db.table_exists(table):
        return None
    cur = db.cursor()
    columns = table_columns(cur, table)
    where, params = equal_filters({"monitor": monitor if monitor and "monitor" in columns else None})
    result = cur.execute(
        f"SELECT * FROM {quote_identifier(table)} WHERE {where} LIMIT $limit", {**params, "limit": limit}
    )
    names = [str(d[0]) for d in result.description or ()]
    return [
        {name: as_utc(v) if isinstance(v, datetime) else v for name, v in zip(names, row, strict=True)}
        for row in result.fetchall()
    ]


def invalid_batch_records(
    cur: duckdb.DuckDBPyConnection, batch_sql: str, params: dict[str, object]
) -> list[tuple[Any, ...]]:
    """(row number, request id, reason) of every record a normalising batch query refused, in row order.

    `batch_sql` is a query built by sources/ or pipeline/labels.py over a staged file (its own parameters
    bound in `params`); it has the columns `_row`, `request_id` and `_reason`."""
    rows: list[tuple[Any, ...]] = cur.execute(
        f"SELECT _row, request_id, _reason FROM ({batch_sql}) WHERE _reason IS NOT NULL ORDER BY _row", params
    ).fetchall()
    return rows
