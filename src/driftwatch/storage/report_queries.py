"""Named queries the HTML reports read: window summaries, feature series, one window's features, provenance,
and the optional performance and alert tables.

Performance and alert tables are owned by other parts of driftwatch and may not exist yet in a given database
(or may exist with no rows); every function here that reads them says so by returning None, so a page can
print "not configured" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from driftwatch.storage.alerts import INSTANCE_KEY
from driftwatch.storage.database import first_row
from driftwatch.storage.schema import (
    feature_column,
    prediction_table,
    segment_column,
    value_column,
    value_column_name,
)

OVERALL = "*"
PERFORMANCE_TABLE = "performance_results"
ALERT_STATE_TABLE = "alert_state"
# The alert history: the outbox (one row per message owed to a channel) is what alerting stores today.
ALERT_HISTORY_TABLES = ("alert_outbox", "alert_history")
# Columns shown from an alert table, in this order, when present; anything else (payloads) is left out.
ALERT_COLUMNS = (
    *INSTANCE_KEY,
    "state",
    "status",
    "transition",
    "alerts",
    "channel",
    "metric",
    "value",
    "last_value",
    "window_start",
    "active_since",
    "firing_since",
    "last_window",
    "resolved_at",
    "created_at",
    "delivered_at",
    "updated_at",
)
_ALERT_TIME_COLUMNS = ("created_at", "updated_at", "window_start", "last_window", "active_since")


@dataclass(frozen=True)
class WindowSummary:
    monitor: str
    model_version: str
    segment: str
    window_start: datetime  # naive UTC, as stored
    window_end: datetime
    rows: int
    features: int
    features_warn: int
    features_drift: int
    drift_share: float | None
    status: str
    run_id: str
    computed_at: datetime


# The columns of a window summary, in WindowSummary's order; the API's window pages read the same ones.
SUMMARY_COLUMNS = (
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
_SUMMARY_COLUMNS = ", ".join(SUMMARY_COLUMNS)


def window_summaries(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str | None = None, segment: str | None = None
) -> list[WindowSummary]:
    """Every stored window of a monitor (all versions and segments unless narrowed), oldest first."""
    rows = cur.execute(
        f"SELECT {_SUMMARY_COLUMNS} FROM window_summaries WHERE monitor = $m "
        "AND ($v IS NULL OR model_version = $v) AND ($s IS NULL OR segment = $s) "
        "ORDER BY model_version, segment, window_start",
        {"m": monitor, "v": model_version, "s": segment},
    ).fetchall()
    return [_summary(r) for r in rows]


def latest_windows(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[WindowSummary]:
    """The latest overall window of each model version of a monitor, newest version window first."""
    rows = cur.execute(
        f"SELECT {_SUMMARY_COLUMNS} FROM window_summaries WHERE monitor = ? AND segment = '{OVERALL}' "
        "QUALIFY row_number() OVER (PARTITION BY model_version ORDER BY window_start DESC) = 1 "
        "ORDER BY window_start DESC, model_version",
        [monitor],
    ).fetchall()
    return [_summary(r) for r in rows]


def _summary(row: tuple[Any, ...]) -> WindowSummary:
    share = row[9]
    return WindowSummary(
        monitor=str(row[0]),
        model_version=str(row[1]),
        segment=str(row[2]),
        window_start=row[3],
        window_end=row[4],
        rows=int(row[5]),
        features=int(row[6]),
        features_warn=int(row[7]),
        features_drift=int(row[8]),
        drift_share=None if share is None or np.isnan(share) else float(share),
        status=str(row[10]),
        run_id=str(row[11]),
        computed_at=row[12],
    )


@dataclass(frozen=True)
class FeaturePoint:
    """One feature in one window: what the overview's time series plot."""

    model_version: str
    segment: str
    window_start: datetime
    feature: str
    kind: str
    status: str
    psi: float | None
    ks_statistic: float | None
    js_distance: float | None


def feature_series(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[FeaturePoint]:
    """PSI, KS D and JS distance of every feature in every stored window of a monitor, oldest first."""
    rows = cur.execute(
        "SELECT r.model_version, r.segment, r.window_start, r.feature, r.kind, r.status, "
        "max(s.value) FILTER (WHERE s.statistic = 'psi'), "
        "max(s.value) FILTER (WHERE s.statistic = 'ks_statistic'), "
        "max(s.value) FILTER (WHERE s.statistic = 'js_distance') "
        "FROM feature_results r LEFT JOIN feature_stats s "
        "USING (monitor, model_version, segment, window_start, feature) WHERE r.monitor = ? "
        "GROUP BY ALL ORDER BY r.model_version, r.segment, r.feature, r.window_start",
        [monitor],
    ).fetchall()
    return [
        FeaturePoint(
            str(r[0]), str(r[1]), r[2], str(r[3]), str(r[4]), str(r[5]), _num(r[6]), _num(r[7]), _num(r[8])
        )
        for r in rows
    ]


@dataclass(frozen=True)
class WindowFeature:
    """One feature of one window with every stored statistic and its current bin counts."""

    feature: str
    kind: str
    rows: int
    status: str
    reason: str
    profile_id: str
    run_id: str
    computed_at: datetime
    stats: dict[str, float | None]
    counts: list[int] | None  # numeric: PSI bins + missing; categorical: categories + unseen + missing


def window_features(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str, segment: str, window_start: datetime
) -> list[WindowFeature]:
    """The features of one window (one version and segment), by name."""
    # Filter each table first: a join over all of feature_stats before filtering cost 40 ms per window.
    rows = cur.execute(
        "WITH r AS (SELECT * FROM feature_results WHERE monitor = $m AND model_version = $v AND segment = $s "
        "AND window_start = $w), "
        "s AS (SELECT feature, list(statistic ORDER BY statistic) AS names, list(value ORDER BY statistic) AS vals "
        "FROM feature_stats WHERE monitor = $m AND model_version = $v AND segment = $s AND window_start = $w "
        "GROUP BY feature), "
        "b AS (SELECT feature, counts FROM feature_bins WHERE monitor = $m AND model_version = $v "
        "AND segment = $s AND window_start = $w) "
        "SELECT r.feature, r.kind, r.rows, r.status, r.reason, r.profile_id, r.run_id, r.computed_at, "
        "s.names, s.vals, b.counts FROM r LEFT JOIN s ON s.feature = r.feature "
        "LEFT JOIN b ON b.feature = r.feature ORDER BY r.feature",
        {"m": monitor, "v": model_version, "s": segment, "w": window_start},
    ).fetchall()
    out = []
    for r in rows:
        stats = {str(k): _num(v) for k, v in zip(r[8] or [], r[9] or [], strict=True) if k is not None}
        out.append(
            WindowFeature(
                feature=str(r[0]),
                kind=str(r[1]),
                rows=int(r[2]),
                status=str(r[3]),
                reason=str(r[4]),
                profile_id=str(r[5]),
                run_id=str(r[6]),
                computed_at=r[7],
                stats=stats,
                counts=None if r[10] is None else [int(c) for c in r[10]],
            )
        )
    return out


@dataclass(frozen=True)
class ProfileInfo:
    profile_id: str
    path: str
    rows: int
    created_at: datetime
    is_current: bool


def profile_info(cur: duckdb.DuckDBPyConnection, monitor: str, profile_id: str) -> ProfileInfo | None:
    row = first_row(
        cur.execute(
            "SELECT profile_id, path, rows, created_at, is_current FROM reference_profiles "
            "WHERE monitor = ? AND profile_id = ?",
            [monitor, profile_id],
        )
    )
    return None if row is None else ProfileInfo(str(row[0]), str(row[1]), int(row[2]), row[3], bool(row[4]))


def current_profile_info(cur: duckdb.DuckDBPyConnection, monitor: str) -> ProfileInfo | None:
    row = first_row(
        cur.execute(
            "SELECT profile_id, path, rows, created_at, is_current FROM reference_profiles "
            "WHERE monitor = ? AND is_current",
            [monitor],
        )
    )
    return None if row is None else ProfileInfo(str(row[0]), str(row[1]), int(row[2]), row[3], bool(row[4]))


def window_values(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str,
    segment: str,
    window_start: datetime,
    window_end: datetime,
    features: tuple[str, ...],
) -> dict[str, np.ndarray] | None:
    """The window's values of numeric features (NaN = missing), restricted to a segment ('column=value').

    None when the predictions table or one of the columns is gone (the window page then shows bins only).
    """
    if not features:
        return {}
    table = f"predictions:{monitor}"
    columns = {
        str(r[0])
        for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }
    wanted = {value_column_name(name) for name in features}
    where = "model_version = $v AND ts >= $start AND ts < $end"
    params: dict[str, object] = {"v": model_version, "start": window_start, "end": window_end}
    if segment != OVERALL:
        column, _, value = segment.partition("=")
        wanted.add(f"s:{column}")
        where += f" AND {segment_column(column)} = $seg"
        params["seg"] = value
    if not wanted <= columns:
        return None
    select = ", ".join(f"coalesce({value_column(n)}, 'NaN'::DOUBLE) AS {feature_column(n)}" for n in features)
    arrays = cur.execute(
        f"SELECT {select} FROM {prediction_table(monitor)} WHERE {where}", params
    ).fetchnumpy()
    return {n: np.asarray(arrays[f"f:{n}"], dtype=np.float64) for n in features}


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    status: str


def run_info(cur: duckdb.DuckDBPyConnection, run_id: str) -> RunInfo | None:
    row = first_row(
        cur.execute(
            "SELECT run_id, trigger, started_at, finished_at, status FROM runs WHERE run_id = ?", [run_id]
        )
    )
    return None if row is None else RunInfo(str(row[0]), str(row[1]), row[2], row[3], str(row[4]))


# --- optional tables: performance and alerts --------------------------------------------------------------


def table_exists(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = first_row(
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
    )
    return bool(row and row[0])


def table_columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """A table's column names in their order (empty when there is no such table)."""
    rows = cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


@dataclass(frozen=True)
class PerformancePoint:
    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    metric: str
    value: float | None
    low: float | None
    high: float | None
    n_predictions: int
    n_labels: int
    coverage: float | None
    status: str
    reason: str
    baseline: float | None
    computed_at: datetime


_PERFORMANCE_COLUMNS = (
    "model_version",
    "segment",
    "window_start",
    "window_end",
    "metric",
    "value",
    "low",
    "high",
    "n_predictions",
    "n_labels",
    "coverage",
    "status",
    "reason",
    "baseline",
    "computed_at",
)


def performance_points(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str | None = None,
    segment: str | None = None,
    window_start: datetime | None = None,
) -> list[PerformancePoint] | None:
    """Realized and estimated performance rows of a monitor, oldest first; None when the table is absent."""
    if not table_exists(cur, PERFORMANCE_TABLE):
        return None
    if not set(_PERFORMANCE_COLUMNS) <= set(table_columns(cur, PERFORMANCE_TABLE)):
        return None
    rows = cur.execute(
        f"SELECT {', '.join(_PERFORMANCE_COLUMNS)} FROM {PERFORMANCE_TABLE} WHERE monitor = $m "
        "AND ($v IS NULL OR model_version = $v) AND ($s IS NULL OR segment = $s) "
        "AND ($w IS NULL OR window_start = $w) "
        "ORDER BY model_version, segment, metric, window_start",
        {"m": monitor, "v": model_version, "s": segment, "w": window_start},
    ).fetchall()
    return [
        PerformancePoint(
            model_version=str(r[0]),
            segment=str(r[1]),
            window_start=r[2],
            window_end=r[3],
            metric=str(r[4]),
            value=_num(r[5]),
            low=_num(r[6]),
            high=_num(r[7]),
            n_predictions=int(r[8]),
            n_labels=int(r[9]),
            coverage=_num(r[10]),
            status=str(r[11]),
            reason=str(r[12]),
            baseline=_num(r[13]),
            computed_at=r[14],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class AlertTable:
    """Rows of an alert table as text-ready values: `columns` names what each row holds."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def alert_rows(
    cur: duckdb.DuckDBPyConnection, table: str, monitor: str | None, limit: int = 200
) -> AlertTable | None:
    """The latest rows of an alert table (state or history) for a monitor; None when the table is absent.

    The alert tables are written by the alerting part of the pipeline; only the columns named in
    ALERT_COLUMNS are read, so a payload column with a rendered message never reaches a page unescaped or
    unexpectedly.
    """
    if not table_exists(cur, table):
        return None
    present = table_columns(cur, table)
    shown = tuple(c for c in ALERT_COLUMNS if c in present)
    if not shown:
        return None
    where, params = "1 = 1", []
    if monitor is not None and "monitor" in present:
        where, params = "monitor = ?", [monitor]
    order = next((c for c in _ALERT_TIME_COLUMNS if c in present), shown[0])
    cols = ", ".join(f'"{c}"' for c in shown)
    rows = cur.execute(
        f'SELECT {cols} FROM "{table}" WHERE {where} ORDER BY "{order}" DESC NULLS LAST LIMIT {int(limit)}',
        params,
    ).fetchall()
    return AlertTable(table, shown, [tuple(r) for r in rows])


def alert_history_table(cur: duckdb.DuckDBPyConnection) -> str | None:
    return next((t for t in ALERT_HISTORY_TABLES if table_exists(cur, t)), None)


def firing_alerts(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str | None = None
) -> int | None:
    """How many alert instances of a monitor (and version) are firing; None when alert state is not stored."""
    if not table_exists(cur, ALERT_STATE_TABLE):
        return None
    present = set(table_columns(cur, ALERT_STATE_TABLE))
    column = next((c for c in ("state", "status") if c in present), None)
    if column is None or "monitor" not in present:
        return None
    where, params = f"monitor = ? AND \"{column}\" = 'firing'", [monitor]
    if model_version is not None and "model_version" in present:
        where += " AND model_version = ?"
        params.append(model_version)
    row = first_row(cur.execute(f"SELECT count(*) FROM {ALERT_STATE_TABLE} WHERE {where}", params))
    return int(row[0]) if row else 0


# --- what changed since the last render --------------------------------------------------------------------


def window_fingerprints(cur: duckdb.DuckDBPyConnection, monitor: str) -> dict[tuple[str, str, datetime], str]:
    """(model_version, segment, window_start) → a text that changes whenever the window's page would.

    Drift results change with their run id; performance rows (when stored) with their computed_at.
    """
    perf = ""
    if table_exists(cur, PERFORMANCE_TABLE):
        perf = (
            " LEFT JOIN (SELECT model_version, segment, window_start, max(computed_at)::VARCHAR AS p "
            f"FROM {PERFORMANCE_TABLE} WHERE monitor = ? GROUP BY ALL) p "
            "USING (model_version, segment, window_start)"
        )
    select_perf = "coalesce(p.p, '')" if perf else "''"
    rows = cur.execute(
        f"SELECT w.model_version, w.segment, w.window_start, "
        f"w.run_id || '|' || w.computed_at::VARCHAR || '|' || {select_perf} "
        f"FROM window_summaries w{perf} WHERE w.monitor = ?",
        [monitor, monitor] if perf else [monitor],
    ).fetchall()
    return {(str(r[0]), str(r[1]), r[2]): str(r[3]) for r in rows}


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) or np.isinf(number) else number


def all_windows(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[tuple[str, datetime]]:
    """Every computed (model_version, window_start) of a monitor, for a full re-render."""
    rows = cur.execute(
        "SELECT DISTINCT model_version, window_start FROM window_summaries WHERE monitor = ? ORDER BY 2, 1",
        [monitor],
    ).fetchall()
    return [(str(v), w) for v, w in rows]
