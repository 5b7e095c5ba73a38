"""Multivariate drift in the database: the fitted profiles, the windows still to judge, a window's joint rows,
and the stored results read by the API, `/metrics`, the alert rules and the report.

`pipeline.multivariate` keeps the logic; the SQL is here. Tables: `storage.multivariate_schema`.

`multivariate_results.profile_key` (and `MultivariateRow.profile_key`) holds the judging key
(`pipeline.multivariate.judging_key`: the fitted profile's key plus the verdict settings), not the key of a row
in `multivariate_profiles`; see `storage.multivariate_schema` for why the two share a name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from driftwatch.storage.database import first_row
from driftwatch.storage.predictions import window_filter
from driftwatch.storage.retention import NOT_EXPIRED_SQL
from driftwatch.storage.schema import feature_column, prediction_table

RESULT_COLUMNS = (
    "monitor",
    "model_version",
    "window_start",
    "window_end",
    "method",
    "status",
    "reason",
    "rows",
    "window_rows",
    "value",
    "warn_bar",
    "drift_bar",
    "low",
    "high",
    "profile_key",
    "run_id",
    "computed_at",
)
SAMPLE_SEED = 42
"""Fixed, so a window's sampled rows (and so its statistics) are the same on every re-run."""


@dataclass(frozen=True)
class JudgeWindow:
    """A window (all rows) whose multivariate results are missing or older than its drift results."""

    model_version: str
    start: datetime  # naive UTC
    end: datetime


@dataclass(frozen=True)
class JointRows:
    """A window's rows, aligned across features (a seeded sample of at most ``max_rows``), and its row count."""

    window_rows: int
    numeric: dict[str, npt.NDArray[np.float64]]
    categorical: dict[str, list[str | None]]


@dataclass(frozen=True)
class MultivariateRow:
    """One stored result: a method's verdict on a window."""

    monitor: str
    model_version: str
    window_start: datetime
    window_end: datetime
    method: str
    status: str
    reason: str
    rows: int
    window_rows: int
    value: float | None
    warn_bar: float | None
    drift_bar: float | None
    low: float | None
    high: float | None
    profile_key: str  # the judging key (pipeline.multivariate.judging_key), not a multivariate_profiles key
    run_id: str
    computed_at: datetime


# --- profiles -------------------------------------------------------------------------------------------------


def load_multivariate_profile(
    cur: duckdb.DuckDBPyConnection, monitor: str, key: str
) -> dict[str, Any] | None:
    row = first_row(
        cur.execute(
            "SELECT profile FROM multivariate_profiles WHERE monitor = ? AND profile_key = ?", [monitor, key]
        )
    )
    if row is None:
        return None
    data: dict[str, Any] = json.loads(row[0])
    return data


def save_multivariate_profile(
    cur: duckdb.DuckDBPyConnection, monitor: str, key: str, rows: int, data: dict[str, Any], now: datetime
) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO multivariate_profiles VALUES (?, ?, ?, ?, ?)",
        [monitor, key, rows, json.dumps(data), now],
    )


# --- what to judge, and a window's rows -----------------------------------------------------------------------


def windows_to_judge(cur: duckdb.DuckDBPyConnection, monitor: str, profile_key: str) -> list[JudgeWindow]:
    """Windows with drift results (segment '*') whose rows are still stored and whose multivariate results are
    missing, older than the drift results, or from another profile or judging settings (`profile_key`: the
    pipeline's judging key, pipeline.multivariate.judging_key); oldest first. Driven by the stored drift
    results, not the queue: a cycle that stopped between the two steps is caught up by the next one."""
    rows = cur.execute(
        "SELECT w.model_version, w.window_start, w.window_end FROM window_summaries AS w "
        "LEFT JOIN (SELECT model_version, window_start, min(computed_at) AS computed_at, "
        "bool_and(profile_key = ?) AS same_profile FROM multivariate_results WHERE monitor = ? "
        "GROUP BY model_version, window_start) AS m USING (model_version, window_start) "
        "WHERE w.monitor = ? AND w.segment = '*' AND (m.computed_at IS NULL OR m.computed_at < w.computed_at "
        f"OR NOT m.same_profile) AND {NOT_EXPIRED_SQL.replace('window_start', 'w.window_start', 1)} "
        "ORDER BY w.window_start, w.model_version",
        [profile_key, monitor, monitor, monitor],
    ).fetchall()
    return [JudgeWindow(str(r[0]), r[1], r[2]) for r in rows]


def window_joint_rows(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    window: JudgeWindow,
    numeric: Sequence[str],
    categorical: Sequence[str],
    max_rows: int,
) -> JointRows:
    """The window's feature columns row by row (numeric as float64 with NaN, categoricals as text or None): a
    repeatable reservoir sample of ``max_rows`` rows when the window has more."""
    where, params = window_filter(window.model_version, window.start, window.end)
    table = prediction_table(monitor)
    total_row = first_row(cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", params))
    total = int(total_row[0]) if total_row else 0
    select = [f"coalesce({feature_column(n)}, 'NaN'::DOUBLE) AS _n{i}" for i, n in enumerate(numeric)]
    select += [f"{feature_column(n)}::VARCHAR AS _c{i}" for i, n in enumerate(categorical)]
    select.append("1 AS _one")
    sample = (
        f" USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE ({SAMPLE_SEED})"
        if total > max_rows
        else ""
    )
    # Sorted by request id: the sample's row order (and so the classifier's folds) is the same on every run.
    result = cur.execute(
        f"SELECT * EXCLUDE (_id) FROM (SELECT {', '.join(select)}, request_id AS _id FROM {table} "
        f"WHERE {where}){sample} ORDER BY _id",
        params,
    ).fetchnumpy()
    return JointRows(
        total,
        {n: np.asarray(result[f"_n{i}"], dtype=np.float64) for i, n in enumerate(numeric)},
        {
            n: [None if v is None else str(v) for v in result[f"_c{i}"].tolist()]
            for i, n in enumerate(categorical)
        },
    )


# --- results --------------------------------------------------------------------------------------------------


def replace_multivariate_results(
    cur: duckdb.DuckDBPyConnection, monitor: str, window: JudgeWindow, rows: Sequence[dict[str, object]]
) -> None:
    """Replace the window's stored results with ``rows`` (one per method)."""
    cur.execute(
        "DELETE FROM multivariate_results WHERE monitor = ? AND model_version = ? AND window_start = ?",
        [monitor, window.model_version, window.start],
    )
    placeholders = ", ".join("?" for _ in RESULT_COLUMNS)
    for row in rows:
        cur.execute(
            f"INSERT INTO multivariate_results ({', '.join(RESULT_COLUMNS)}) VALUES ({placeholders})",
            [row[c] for c in RESULT_COLUMNS],
        )


def _result(row: tuple[Any, ...]) -> MultivariateRow:
    def number(value: object) -> float | None:
        return None if value is None else float(str(value))

    return MultivariateRow(
        monitor=str(row[0]),
        model_version=str(row[1]),
        window_start=row[2],
        window_end=row[3],
        method=str(row[4]),
        status=str(row[5]),
        reason=str(row[6]),
        rows=int(row[7]),
        window_rows=int(row[8]),
        value=number(row[9]),
        warn_bar=number(row[10]),
        drift_bar=number(row[11]),
        low=number(row[12]),
        high=number(row[13]),
        profile_key=str(row[14]),
        run_id=str(row[15]),
        computed_at=row[16],
    )


def multivariate_results(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[MultivariateRow]:
    """Stored results of a monitor, newest window first: optionally one model version, windows starting in
    [start, end), results computed after ``since``, at most ``limit`` rows (naive UTC bounds)."""
    where = ["monitor = ?"]
    params: list[object] = [monitor]
    for column, op, value in (
        ("model_version", "=", model_version),
        ("window_start", ">=", start),
        ("window_start", "<", end),
        ("computed_at", ">", since),
    ):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(value)
    sql = (
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM multivariate_results WHERE {' AND '.join(where)} "
        "ORDER BY window_start DESC, model_version, method"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [_result(r) for r in cur.execute(sql, params).fetchall()]


def latest_multivariate_results(cur: duckdb.DuckDBPyConnection) -> list[MultivariateRow]:
    """Every monitor's newest window's results per model version and method (for `/metrics`)."""
    rows = cur.execute(
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM multivariate_results "
        "QUALIFY row_number() OVER (PARTITION BY monitor, model_version, method ORDER BY window_start DESC) = 1 "
        "ORDER BY monitor, model_version, method"
    ).fetchall()
    return [_result(r) for r in rows]


def multivariate_fingerprints(
    cur: duckdb.DuckDBPyConnection, monitor: str
) -> dict[tuple[str, datetime], str]:
    """(model_version, window_start) → the newest `computed_at` of its multivariate results, as text: joined
    to the window page's fingerprint, so a page is redrawn when only its multivariate results changed."""
    rows = cur.execute(
        "SELECT model_version, window_start, max(computed_at)::VARCHAR FROM multivariate_results "
        "WHERE monitor = ? GROUP BY ALL",
        [monitor],
    ).fetchall()
    return {(str(r[0]), r[1]): str(r[2]) for r in rows}
