"""Performance results in the database: the queue of windows to (re)compute, the stored rows with their
history, the reference baseline/calibrator, and the named query `driftwatch results --performance` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from driftwatch.durations import iso_utc, to_naive_utc
from driftwatch.storage.database import Database, first_row, registered, utcnow
from driftwatch.storage.filters import equal_filters
from driftwatch.storage.results import WINDOW_KEY
from driftwatch.storage.retention import NOT_EXPIRED_SQL

RESULT_COLUMNS: tuple[str, ...] = (
    *WINDOW_KEY,
    "metric",
    "window_end",
    "value",
    "low",
    "high",
    "stderr",
    "n_predictions",
    "n_labels",
    "coverage",
    "delay_median_s",
    "delay_p90_s",
    "status",
    "reason",
    "baseline",
    "run_id",
    "computed_at",
)
_FLOAT_COLUMNS = ("value", "low", "high", "stderr", "coverage", "delay_median_s", "delay_p90_s", "baseline")
_INT_COLUMNS = ("n_predictions", "n_labels")
# A recomputed row goes to history only when one of these changed: recomputing to the same numbers (say, after
# the reference file was touched) must not fill the history with copies.
_COMPARED = (
    "value",
    "low",
    "high",
    "n_predictions",
    "n_labels",
    "coverage",
    "delay_median_s",
    "delay_p90_s",
    "status",
    "baseline",
)
# The previous window's values, beside each row, for period-over-period rules (judge_against_previous).
PREVIOUS_FIELDS = (
    "previous_window_start",
    "previous_value",
    "previous_stderr",
    "previous_n_labels",
    "previous_coverage",
)


@dataclass(frozen=True)
class QueuedWindow:
    model_version: str
    start: datetime  # naive UTC
    end: datetime
    queued_at: datetime


def queue_from_window_queue(cur: duckdb.DuckDBPyConnection, monitor: str) -> int:
    """Queue for performance every window queued for drift (new or late prediction rows, a new reference).

    Called before the drift windows are computed (which empties `window_queue`), so a crash in between loses
    nothing: both queues still hold the window.
    """
    cur.execute(
        "INSERT INTO performance_queue SELECT monitor, model_version, window_start, window_end, queued_at, reason "
        "FROM window_queue WHERE monitor = ? "
        "ON CONFLICT DO UPDATE SET queued_at = greatest(performance_queue.queued_at, excluded.queued_at), "
        "reason = excluded.reason",
        [monitor],
    )
    row = first_row(cur.execute("SELECT count(*) FROM window_queue WHERE monitor = ?", [monitor]))
    return int(row[0]) if row else 0


def requeue_computed(cur: duckdb.DuckDBPyConnection, monitor: str, reason: str) -> None:
    """Queue every window that has performance results again (the baseline or calibrator changed)."""
    cur.execute(
        "INSERT INTO performance_queue SELECT DISTINCT monitor, model_version, window_start, window_end, ?, ? "
        "FROM performance_results WHERE monitor = ? ON CONFLICT DO NOTHING",
        [utcnow(), reason, monitor],
    )


def plan_performance(cur: duckdb.DuckDBPyConnection, monitor: str, now: datetime) -> list[QueuedWindow]:
    """Queued windows that have closed by `now`, oldest first."""
    naive_now = to_naive_utc(now)
    rows = cur.execute(
        "SELECT model_version, window_start, window_end, queued_at FROM performance_queue "
        f"WHERE monitor = ? AND window_end <= ? AND {NOT_EXPIRED_SQL} ORDER BY window_start, model_version",
        [monitor, naive_now, monitor],
    ).fetchall()
    return [QueuedWindow(str(r[0]), r[1], r[2], r[3]) for r in rows]


def store_performance(db: Database, monitor: str, window: QueuedWindow, rows: list[dict[str, Any]]) -> int:
    """Replace a window's rows in one transaction; changed old rows go to `performance_history`.

    Returns how many old rows were kept in history. The window leaves the queue only if nothing queued it
    again after it was planned.
    """
    key = [monitor, window.model_version, window.start]
    now = utcnow()
    with db.transaction() as tx:
        kept = 0
        if rows:
            with registered(tx, "_perf_rows", _arrow(rows)):
                changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in _COMPARED)
                before = _count(tx, "performance_history", key)
                tx.execute(
                    f"INSERT INTO performance_history SELECT o.*, ? FROM performance_results o "
                    "LEFT JOIN _perf_rows n USING (monitor, model_version, segment, window_start, metric) "
                    f"WHERE o.monitor = ? AND o.model_version = ? AND o.window_start = ? "
                    f"AND (n.metric IS NULL OR {changed}) ON CONFLICT DO NOTHING",
                    [now, *key],
                )
                kept = _count(tx, "performance_history", key) - before
                tx.execute(
                    "DELETE FROM performance_results WHERE monitor = ? AND model_version = ? AND window_start = ?",
                    key,
                )
                tx.execute("INSERT INTO performance_results BY NAME SELECT * FROM _perf_rows")
        tx.execute(
            "DELETE FROM performance_queue WHERE monitor = ? AND model_version = ? AND window_start = ? "
            "AND queued_at <= ?",
            [*key, window.queued_at],
        )
    return kept


def _count(cur: duckdb.DuckDBPyConnection, table: str, key: list[Any]) -> int:
    row = first_row(
        cur.execute(
            f"SELECT count(*) FROM {table} WHERE monitor = ? AND model_version = ? AND window_start = ?", key
        )
    )
    return int(row[0]) if row else 0


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for name in RESULT_COLUMNS:
        values = [r[name] for r in rows]
        if name in _FLOAT_COLUMNS:
            columns[name] = pa.array([_finite_or_none(v) for v in values], type=pa.float64())
        elif name in _INT_COLUMNS:
            columns[name] = pa.array(values, type=pa.int64())
        elif name in ("window_start", "window_end", "computed_at"):
            columns[name] = pa.array(values, type=pa.timestamp("us"))
        else:
            columns[name] = pa.array(values, type=pa.string())
    return pa.table(columns)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


# --- the reference's baseline metrics and calibrator ---------------------------------------------------------


@dataclass(frozen=True)
class StoredCalibration:
    reference_id: str
    task: str
    rows: int
    baseline: dict[str, dict[str, float | None]]
    calibrator: dict[str, Any] | None


def current_calibration(cur: duckdb.DuckDBPyConnection, monitor: str) -> StoredCalibration | None:
    row = first_row(
        cur.execute(
            "SELECT reference_id, task, rows, baseline::VARCHAR, calibrator::VARCHAR FROM reference_calibration "
            "WHERE monitor = ? AND is_current",
            [monitor],
        )
    )
    if row is None:
        return None
    return StoredCalibration(
        str(row[0]), str(row[1]), int(row[2]), json.loads(row[3]), json.loads(row[4]) if row[4] else None
    )


def save_calibration(cur: duckdb.DuckDBPyConnection, monitor: str, stored: StoredCalibration) -> None:
    """Store a reference's baseline and calibrator and make it current (call inside a transaction)."""
    cur.execute("UPDATE reference_calibration SET is_current = false WHERE monitor = ?", [monitor])
    cur.execute(
        "INSERT INTO reference_calibration VALUES (?, ?, ?, ?, ?, ?, ?, true) "
        "ON CONFLICT DO UPDATE SET task = excluded.task, rows = excluded.rows, baseline = excluded.baseline, "
        "calibrator = excluded.calibrator, created_at = excluded.created_at, is_current = true",
        [
            monitor,
            stored.reference_id,
            stored.task,
            stored.rows,
            json.dumps(stored.baseline, allow_nan=False),
            None if stored.calibrator is None else json.dumps(stored.calibrator, allow_nan=False),
            utcnow(),
        ],
    )


# --- the named query ------------------------------------------------------------------------------------------


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def performance_results(
    cur: duckdb.DuckDBPyConnection,
    monitor: str | None = None,
    segment: str | None = "*",
    metric: str | None = None,
) -> list[dict[str, Any]]:
    """One dict per monitor × version × segment × window × metric, oldest window first.

    Beside each row, `previous_*` hold the same metric of the previous stored window of the same monitor,
    version and segment (NULL for the first), so a period-over-period rule can call
    `verdict.judge_against_previous` without another query.
    """
    where, params = equal_filters({"monitor": monitor, "segment": segment, "metric": metric})
    fields = [c for c in RESULT_COLUMNS if c != "run_id"]
    lag = "OVER (PARTITION BY monitor, model_version, segment, metric ORDER BY window_start)"
    rows = cur.execute(
        f"SELECT {', '.join(fields)}, lag(window_start) {lag}, lag(value) {lag}, lag(stderr) {lag}, "
        f"lag(n_labels) {lag}, lag(coverage) {lag} FROM performance_results WHERE {where} "
        "ORDER BY monitor, model_version, segment, window_start, metric",
        params,
    ).fetchall()
    out = []
    for row in rows:
        item = dict(zip((*fields, *PREVIOUS_FIELDS), row, strict=True))
        for name in ("window_start", "window_end", "computed_at", "previous_window_start"):
            item[name] = _iso(item[name])
        out.append(item)
    return out


def performance_history(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    metric: str,
    window_start: datetime,
    segment: str = "*",
    model_version: str | None = None,
) -> list[dict[str, Any]]:
    """Every stored version of one window's metric, oldest first, the current one last (all model versions
    unless one is named)."""
    cols = "model_version, value, low, high, n_labels, coverage, status, computed_at"
    where = "monitor = $m AND metric = $x AND window_start = $w AND segment = $s AND ($v IS NULL OR model_version = $v)"
    rows = cur.execute(
        f"SELECT {cols} FROM (SELECT {cols} FROM performance_history WHERE {where} "
        f"UNION ALL SELECT {cols} FROM performance_results WHERE {where}) ORDER BY model_version, computed_at",
        {"m": monitor, "x": metric, "w": window_start, "s": segment, "v": model_version},
    ).fetchall()
    names = [c.strip() for c in cols.split(",")]
    return [dict(zip(names, r, strict=True)) for r in rows]
