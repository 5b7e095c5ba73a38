"""Data-quality results (docs/quality.md): stored per window, or per cycle for the ingest checks, and read back
for the API, `/metrics`, the alert rules and the report.

One table, `quality_results` (created by the migration in storage/quality_schema.py). `scope` says what a row judges: 'window' (a computed window of one model
version: range, categories, missing, constant, row_count) or 'cycle' (the rows one cycle's ingest read: parse,
type, duplicates; model version '*', window_start/window_end the run's start and finish). `feature` is ''
for a check of the whole window or cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from driftwatch.durations import as_utc, to_naive_utc
from driftwatch.storage.database import registered
from driftwatch.storage.predictions import window_filter
from driftwatch.storage.retention import NOT_EXPIRED_SQL
from driftwatch.storage.runs import COMPLETED
from driftwatch.storage.schema import prediction_table, value_column

_EPOCH = datetime(1970, 1, 1)
_BATCH = "_quality_batch"  # a view name on the writing cursor, registered for one insert


def naive(ts: datetime | None) -> datetime | None:
    return None if ts is None else to_naive_utc(ts)


_COLUMNS = (
    "scope, model_version, window_start, window_end, check_name, feature, status, value, warn_bar, fail_bar, "
    "reason, run_id, computed_at"
)


@dataclass(frozen=True)
class QualityRow:
    """One stored check result (times timezone-aware UTC; `feature` None for a whole-window check)."""

    scope: str
    model_version: str
    window_start: datetime
    window_end: datetime
    check: str
    feature: str | None
    status: str
    value: float | None
    warn_bar: float | None
    fail_bar: float | None
    reason: str
    run_id: str
    computed_at: datetime


@dataclass(frozen=True)
class QualityKey:
    """Where a batch of results belongs: the window (or cycle) they judge."""

    monitor: str
    scope: str
    model_version: str
    window_start: datetime
    window_end: datetime


def replace_quality(
    tx: duckdb.DuckDBPyConnection,
    key: QualityKey,
    results: Sequence[tuple[str, str | None, str, float | None, float | None, float | None, str]],
    run_id: str,
    now: datetime,
) -> None:
    """Replace the results of one window (or cycle): (check, feature, status, value, warn, fail, reason)
    each. Inside the caller's transaction, so a recomputed window never shows old and new results mixed."""
    start = naive(key.window_start)
    tx.execute(
        "DELETE FROM quality_results WHERE monitor = ? AND scope = ? AND model_version = ? AND window_start = ?",
        [key.monitor, key.scope, key.model_version, start],
    )
    if not results:
        return
    # One Arrow table per window, not executemany: DuckDB runs executemany row by row (~1 ms a row).
    columns = list(zip(*results, strict=True))
    table = pa.table(
        {
            "check_name": pa.array(columns[0], pa.string()),
            "feature": pa.array([f or "" for f in columns[1]], pa.string()),
            "status": pa.array(columns[2], pa.string()),
            "value": pa.array(columns[3], pa.float64()),
            "warn_bar": pa.array(columns[4], pa.float64()),
            "fail_bar": pa.array(columns[5], pa.float64()),
            "reason": pa.array(columns[6], pa.string()),
        }
    )
    with registered(tx, _BATCH, table):
        tx.execute(
            "INSERT INTO quality_results SELECT $monitor, $scope, $version, $start, $end, check_name, feature, "
            f"status, value, warn_bar, fail_bar, reason, $run_id, $now FROM {_BATCH}",
            {
                "monitor": key.monitor,
                "scope": key.scope,
                "version": key.model_version,
                "start": start,
                "end": naive(key.window_end),
                "run_id": run_id,
                "now": naive(now),
            },
        )


def past_window_rows(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str, before: datetime, limit: int
) -> list[int]:
    """Rows of the last `limit` computed windows (all rows, segment '*') of a model version before `before`,
    newest first: the usual volume a window's row count is judged against."""
    rows = cur.execute(
        "SELECT rows FROM window_summaries WHERE monitor = ? AND model_version = ? AND segment = '*' "
        "AND window_start < ? ORDER BY window_start DESC LIMIT ?",
        [monitor, model_version, naive(before), limit],
    ).fetchall()
    return [int(r[0]) for r in rows]


def count_outside(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str,
    window: tuple[datetime, datetime],
    feature: str,
    bounds: tuple[float, float],
) -> int:
    """How many of a window's values of a numeric feature lie below bounds[0] or above bounds[1]."""
    where, params = window_filter(model_version, to_naive_utc(window[0]), to_naive_utc(window[1]))
    column = value_column(feature)
    found = cur.execute(
        f"SELECT count(*) FROM {prediction_table(monitor)} WHERE {where} "
        f"AND ({column} < $low OR {column} > $high)",
        {**params, "low": bounds[0], "high": bounds[1]},
    ).fetchone()
    return int(found[0]) if found is not None else 0


def quarantine_reasons_since(cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime) -> dict[str, int]:
    """Prediction rows quarantined at or after `since`, counted by their stored reason."""
    rows = cur.execute(
        "SELECT reason, count(*) FROM quarantine WHERE monitor = ? AND kind = 'predictions' "
        "AND quarantined_at >= ? GROUP BY reason",
        [monitor, naive(since)],
    ).fetchall()
    return {str(reason): int(count) for reason, count in rows}


def run_started_at(cur: duckdb.DuckDBPyConnection, run_id: str) -> datetime | None:
    found = cur.execute("SELECT started_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return as_utc(found[0]) if found is not None else None


def _row(values: tuple[Any, ...]) -> QualityRow:
    scope, version, start, end, check, feature, status, value, warn, fail, reason, run_id, computed = values
    return QualityRow(
        scope=str(scope),
        model_version=str(version),
        window_start=as_utc(start),
        window_end=as_utc(end),
        check=str(check),
        feature=str(feature) or None,
        status=str(status),
        value=None if value is None else float(value),
        warn_bar=None if warn is None else float(warn),
        fail_bar=None if fail is None else float(fail),
        reason=str(reason),
        run_id=str(run_id),
        computed_at=as_utc(computed),
    )


def quality_rows_since(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[QualityRow]:
    """Results stored after `since` for windows (or runs) starting at or after `cutoff` (alert samples)."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM quality_results WHERE monitor = ? AND computed_at > ? AND window_start >= ? "
        "ORDER BY window_start, scope, model_version, check_name, feature",
        [monitor, naive(since) or _EPOCH, naive(cutoff) or _EPOCH],
    ).fetchall()
    return [_row(r) for r in rows]


def window_quality(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str, window_start: datetime
) -> list[QualityRow]:
    """The stored results of one window, by check and feature."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM quality_results WHERE monitor = ? AND scope = 'window' AND model_version = ? "
        "AND window_start = ? ORDER BY check_name, feature",
        [monitor, model_version, naive(window_start)],
    ).fetchall()
    return [_row(r) for r in rows]


def quality_results(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    scope: str | None,
    status: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[QualityRow]:
    """Stored results, newest window first, filtered by scope, status and window start in [start, end)."""
    where = ["monitor = ?"]
    params: list[object] = [monitor]
    for column, value in (("scope", scope), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if start is not None:
        where.append("window_start >= ?")
        params.append(naive(start))
    if end is not None:
        where.append("window_start < ?")
        params.append(naive(end))
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM quality_results WHERE {' AND '.join(where)} "
        "ORDER BY window_start DESC, scope, model_version, check_name, feature LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [_row(r) for r in rows]


def latest_quality(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, QualityRow]]:
    """(monitor, result) of each monitor's latest window (or cycle) per scope, check, feature and model
    version: what `/metrics` shows now."""
    rows = cur.execute(
        f"SELECT monitor, {_COLUMNS} FROM quality_results "
        "QUALIFY row_number() OVER (PARTITION BY monitor, scope, model_version, check_name, feature "
        "ORDER BY window_start DESC) = 1 ORDER BY monitor, scope, model_version, check_name, feature"
    ).fetchall()
    return [(str(r[0]), _row(tuple(r[1:]))) for r in rows]


@dataclass(frozen=True)
class UnjudgedWindow:
    """A stored window (segment '*') whose quality results are missing or older than its statistics."""

    model_version: str
    start: datetime  # naive UTC, as window_summaries keeps it
    end: datetime


def windows_to_judge(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[UnjudgedWindow]:
    """Windows with drift results (segment '*') whose rows are still stored and whose quality results are
    missing or older than the drift results, computed by a run that did not finish ok; oldest first. Driven by
    the stored results, not by one cycle's memory: a cycle that stopped between storing its windows and judging
    them is caught up by the next one (as storage.multivariate.windows_to_judge does for the multivariate
    stage). Only stopped runs' windows: a run that finished ok judged its own, so a window whose checks are all
    disabled (no result stored) is not re-read every cycle."""
    rows = cur.execute(
        "SELECT w.model_version, w.window_start, w.window_end FROM window_summaries AS w "
        "LEFT JOIN (SELECT model_version, window_start, min(computed_at) AS computed_at FROM quality_results "
        "WHERE monitor = ? AND scope = 'window' GROUP BY model_version, window_start) AS q "
        "USING (model_version, window_start) "
        "WHERE w.monitor = ? AND w.segment = '*' AND (q.computed_at IS NULL OR q.computed_at < w.computed_at) "
        # a run that ran to its end (ok, or degraded: a source unreadable) judged its own windows
        "AND w.run_id IN (SELECT run_id FROM runs WHERE monitor = w.monitor AND status NOT IN (?, ?)) "
        f"AND {NOT_EXPIRED_SQL.replace('window_start', 'w.window_start', 1)} "
        "ORDER BY w.window_start, w.model_version",
        [monitor, monitor, *COMPLETED, monitor],
    ).fetchall()
    return [UnjudgedWindow(str(r[0]), r[1], r[2]) for r in rows]


@dataclass(frozen=True)
class UnjudgedRuns:
    """Earlier runs of a monitor whose ingest no cycle-scope check has judged (they stopped before the quality
    stage): the first one's start and their rows, to be judged with the current run's."""

    since: datetime | None  # timezone-aware UTC; None: none
    rows_read: int
    rows_duplicate: int


def unjudged_runs(cur: duckdb.DuckDBPyConnection, monitor: str, run_id: str) -> UnjudgedRuns:
    """Runs other than `run_id`, started before it and after the last cycle-scope results were stored (their
    window_end) and that did not finish ok, with their read and duplicated row counts (read = ingested +
    duplicated + quarantined, as the ingest counts them)."""
    found = cur.execute(
        "SELECT min(started_at), coalesce(sum(rows_ingested + rows_duplicate + rows_quarantined), 0), "
        "coalesce(sum(rows_duplicate), 0) FROM runs WHERE monitor = ? AND run_id <> ? AND status NOT IN (?, ?) "
        "AND started_at > coalesce((SELECT max(window_end) FROM quality_results WHERE monitor = ? "
        "AND scope = 'cycle'), TIMESTAMP '-infinity') "
        "AND started_at < (SELECT started_at FROM runs WHERE run_id = ?)",
        [monitor, run_id, *COMPLETED, monitor, run_id],
    ).fetchone()
    if found is None or found[0] is None:
        return UnjudgedRuns(None, 0, 0)
    return UnjudgedRuns(as_utc(found[0]), int(found[1]), int(found[2]))
