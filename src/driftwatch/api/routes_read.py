"""Read endpoints: health, monitors, windows, feature results, performance, alerts, runs.

Handlers are plain `def`, so FastAPI runs them on its thread pool and each uses its own thread's cursor.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BeforeValidator

from driftwatch.api.errors import Invalid
from driftwatch.api.json_values import finite, finite_values
from driftwatch.api.models import (
    AlertsPage,
    FeatureResult,
    Health,
    MonitorDetail,
    MonitorHealth,
    MonitorInfo,
    PerformancePage,
    PerformanceRow,
    ResultsPage,
    RunsPage,
    WindowsPage,
    error_responses,
)
from driftwatch.api.state import AppState, app_state, package_version
from driftwatch.durations import as_utc, format_duration, parse_duration
from driftwatch.pipeline.rollup import rollup_results
from driftwatch.storage import api_queries as queries
from driftwatch.storage.results import RESULT_FIELDS, feature_results
from driftwatch.timestamps import RANGE_TEXT, YEAR_PATTERN, range_problem

State = Annotated[AppState, Depends(app_state)]
Limit = Annotated[int, Query(ge=1, le=10000, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="skip this many items")]
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _not_a_number(value: Any) -> Any:
    """pydantic reads `to=0.5` as 0.5 s after 1970; a bound must be written as a date or time."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("expected an ISO 8601 date or time such as 2026-11-01 or 2026-11-01T08:00:00Z")
    return value


def _within_range(value: datetime) -> datetime:
    problem = range_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


QueryTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_within_range)]
From = Annotated[
    QueryTime | None,
    Query(
        alias="from",
        description=f"windows starting at or after this time (UTC if naive; {RANGE_TEXT})",
        json_schema_extra={"pattern": YEAR_PATTERN},
    ),
]
To = Annotated[
    QueryTime | None,
    Query(
        alias="to",
        description=f"windows starting before this time ({RANGE_TEXT})",
        json_schema_extra={"pattern": YEAR_PATTERN},
    ),
]
Text = Annotated[str | None, Query(max_length=200)]
Segment = Annotated[
    str, Query(max_length=200, description="'*' for all rows, e.g. 'environment=prod-us-west1'")
]
_ALERT_LIMIT = 10_000


def health_router() -> APIRouter:
    router = APIRouter(tags=["service"])

    @router.get("/health", response_model=Health, summary="Liveness and each monitor's last successful cycle")
    def health(state: State) -> Health:
        cur = state.db.cursor()
        success = queries.last_successful_cycles(cur)
        last = queries.last_runs(cur)
        monitors = []
        for name in state.settings.monitors:
            run = last.get(name)
            monitors.append(
                MonitorHealth(
                    name=name,
                    last_successful_cycle=success.get(name),
                    last_run_status=run["status"] if run else None,
                    last_run_finished=run["finished_at"] if run else None,
                    next_scheduled_cycle=state.next_run(name),
                    cycle_running=state.runner.busy(name),
                )
            )
        running = state.worker is not None and state.worker.running
        return Health(version=package_version(), scheduler_running=running, monitors=monitors)

    return router


def _monitor_info(state: AppState, name: str, last: dict[str, Any], latest: dict[str, Any]) -> dict[str, Any]:
    monitor = state.settings.monitors[name]
    features = monitor.features
    return {
        "name": name,
        "window": format_duration(monitor.window),
        "window_seconds": int(monitor.window.total_seconds()),
        "numeric_features": list(features.numeric) if features else None,
        "categorical_features": list(features.categorical) if features else None,
        "segments": list(monitor.predictions.segments),
        "task": getattr(monitor, "task", None),
        "labels_configured": getattr(monitor, "labels", None) is not None,
        "schedule": state.schedule(name),
        "next_scheduled_cycle": state.next_run(name),
        "cycle_running": state.runner.busy(name),
        "last_run": last.get(name),
        "latest_window": latest.get(name),
    }


def _in_range(ts: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or ts >= start) and (end is None or ts < end)


def _as_utc(ts: datetime | None) -> datetime | None:
    return None if ts is None else as_utc(ts)


def _feature_result(row: dict[str, Any]) -> FeatureResult:
    fixed = set(RESULT_FIELDS) | {"windows"}
    stats = {k: finite(v) for k, v in row.items() if k not in fixed}
    return FeatureResult.model_validate(
        {
            **{k: row.get(k) for k in RESULT_FIELDS},
            "windows": row.get("windows"),
            "psi": stats.get("psi"),
            "ks_statistic": stats.get("ks_statistic"),
            "ks_pvalue": stats.get("ks_pvalue"),
            "statistics": stats,
        }
    )


def _judged_windows(results: list[FeatureResult]) -> tuple[int, int]:
    """(windows with some feature judged, windows with none) among the results: "no drift" needs a verdict."""
    judged: dict[tuple[str, str, datetime], bool] = {}
    for r in results:
        key = (r.model_version, r.segment, r.window_start)
        judged[key] = judged.get(key, False) or r.status != "insufficient_data"
    n_judged = sum(judged.values())
    return n_judged, len(judged) - n_judged


def _performance_rows(state: AppState, name: str, segment: str, metric: str | None) -> list[dict[str, Any]]:
    """Through the performance pipeline's named query when installed; else the table's rows as they are."""
    try:
        from driftwatch.storage.performance_results import performance_results
    except ImportError:
        rows = queries.optional_table_rows(state.db, "performance_results", name, 1_000_000) or []
        return [
            finite_values(r)
            for r in rows
            if r.get("segment") == segment and metric in (None, r.get("metric"))
        ]
    return performance_results(state.db.cursor(), monitor=name, segment=segment, metric=metric)


def _window_item(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "drift_share": finite(row["drift_share"])}


def _results_rows(
    state: AppState, name: str, segment: str, feature: str | None, rollup: str | None
) -> list[dict[str, Any]]:
    """Stored results, or (with `rollup`) the windows merged into periods of that length."""
    if rollup is None:
        return feature_results(state.db.cursor(), monitor=name, segment=segment, feature=feature)
    try:
        rows = rollup_results(state.db, state.monitor(name), parse_duration(rollup), segment)
    except ValueError as exc:  # not a duration, or not a multiple of the window: the parameter's fault
        raise Invalid(f"query.rollup: {exc}", [{"where": "query.rollup", "reason": str(exc)}]) from None
    return rows if feature is None else [r for r in rows if r["feature"] == feature]


def _results_page(
    rows: list[dict[str, Any]],
    model_version: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    items = []
    lo, hi = _as_utc(start), _as_utc(end)
    for row in rows:
        result = _feature_result(row)
        if model_version is not None and result.model_version != model_version:
            continue
        if _in_range(result.window_start, lo, hi):
            items.append(result)
    judged, not_judged = _judged_windows(items)
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "windows_judged": judged,
        "windows_not_judged": not_judged,
    }


def _performance_page(
    state: AppState,
    name: str,
    segment: str,
    metric: str | None,
    model_version: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[PerformanceRow], str | None]:
    """The performance rows in range, and a note when there are none because labels are not configured."""
    items = []
    lo, hi = _as_utc(start), _as_utc(end)
    for row in _performance_rows(state, name, segment, metric):
        item = PerformanceRow.model_validate(finite_values(row))
        if model_version is not None and item.model_version != model_version:
            continue
        if _in_range(as_utc(item.window_start), lo, hi):
            items.append(item)
    note = None
    if not items and getattr(state.settings.monitors[name], "labels", None) is None:
        note = "this monitor has no `labels:` section, so no realized performance is computed"
    return items, note


def monitors_router(read: Any) -> APIRouter:
    """Every read route under /api; registered in this order (the OpenAPI document lists them so)."""
    router = APIRouter(
        prefix="/api", tags=["monitors"], dependencies=[Depends(read)], responses=error_responses(401)
    )
    _add_monitor_routes(router)
    _add_result_routes(router)
    _add_run_routes(router)
    return router


_UNKNOWN = error_responses(404)  # every route naming a monitor


def _add_monitor_routes(router: APIRouter) -> None:
    @router.get("/monitors", response_model=list[MonitorInfo], summary="Every configured monitor")
    def list_monitors(state: State) -> list[dict[str, Any]]:
        cur = state.db.cursor()
        last, latest = queries.last_runs(cur), _latest_windows(cur)
        return [_monitor_info(state, name, last, latest) for name in state.settings.monitors]

    @router.get(
        "/monitors/{name}",
        response_model=MonitorDetail,
        responses=_UNKNOWN,
        summary="One monitor, with row counts",
    )
    def get_monitor(name: str, state: State) -> dict[str, Any]:
        state.monitor(name)
        cur = state.db.cursor()
        info = _monitor_info(state, name, queries.last_runs(cur), _latest_windows(cur))
        return {**info, **queries.monitor_counts(state.db, name)}

    @router.get(
        "/monitors/{name}/windows",
        responses=_UNKNOWN,
        response_model=WindowsPage,
        summary="Window summaries: rows, features drifting, drift share, status",
    )
    def list_windows(
        name: str,
        state: State,
        start: From = None,
        end: To = None,
        model_version: Text = None,
        segment: Segment = "*",
        status: Text = None,
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        state.monitor(name)
        items, total, judged = queries.windows_page(
            state.db.cursor(), name, model_version, segment, start, end, status, limit, offset
        )
        return {
            "items": [_window_item(i) for i in items],
            "total": total,
            "limit": limit,
            "offset": offset,
            "judged": judged,
            "not_judged": total - judged,
        }


def _latest_windows(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    return {name: _window_item(w) for name, w in queries.latest_overall_windows(cur).items()}


def _add_result_routes(router: APIRouter) -> None:
    @router.get(
        "/monitors/{name}/results",
        responses=_UNKNOWN,
        response_model=ResultsPage,
        summary="Per window × feature statistics and status; `rollup` merges windows into longer periods",
    )
    def list_results(
        name: str,
        state: State,
        start: From = None,
        end: To = None,
        feature: Text = None,
        model_version: Text = None,
        segment: Segment = "*",
        rollup: Annotated[
            str | None,
            Query(
                max_length=20,
                pattern=r"^[1-9][0-9]{0,8}[smhdw]$",
                description="a whole multiple of the monitor's window, e.g. 7d: PSI, chi², JS… from stored "
                "counts (a period that is not a multiple of the window is a 422)",
            ),
        ] = None,
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        state.monitor(name)
        rows = _results_rows(state, name, segment, feature, rollup)
        page = _results_page(rows, model_version, start, end, limit, offset)
        return {**page, "rollup": rollup}

    @router.get(
        "/monitors/{name}/performance",
        responses=_UNKNOWN,
        response_model=PerformancePage,
        summary="Realized performance per window from delayed labels (when the labels pipeline is installed)",
    )
    def list_performance(
        name: str,
        state: State,
        start: From = None,
        end: To = None,
        metric: Text = None,
        model_version: Text = None,
        segment: Segment = "*",
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        state.monitor(name)
        if not state.db.table_exists("performance_results"):
            return {"items": [], "note": "performance tracking is not installed in this database yet"}
        items, note = _performance_page(state, name, segment, metric, model_version, start, end)
        return {"items": items[offset : offset + limit], "note": note}


def _add_run_routes(router: APIRouter) -> None:
    @router.get(
        "/monitors/{name}/runs",
        response_model=RunsPage,
        responses=_UNKNOWN,
        summary="This monitor's cycles, newest first",
    )
    def list_monitor_runs(
        name: str, state: State, status: Text = None, limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        state.monitor(name)
        items, total = queries.runs_page(state.db.cursor(), name, status, limit, offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @router.get(
        "/runs",
        response_model=RunsPage,
        responses=_UNKNOWN,
        summary="Cycles of every monitor, newest first",
        tags=["runs"],
    )
    def list_runs(
        state: State, monitor: Text = None, status: Text = None, limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        if monitor is not None:
            state.monitor(monitor)
        items, total = queries.runs_page(state.db.cursor(), monitor, status, limit, offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @router.get(
        "/alerts",
        response_model=AlertsPage,
        responses=_UNKNOWN,
        summary="Current alert states",
        tags=["alerts"],
    )
    def list_alerts(state: State, monitor: Text = None) -> dict[str, Any]:
        if monitor is not None:
            state.monitor(monitor)
        rows = queries.optional_table_rows(state.db, "alert_state", monitor, _ALERT_LIMIT)
        if rows is None:
            return {"items": [], "note": "alerting is not installed in this database yet"}
        return {"items": [finite_values(r) for r in rows], "note": None}
