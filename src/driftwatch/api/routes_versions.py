"""Version comparisons over HTTP (read): which version pairs a monitor compares, each pair's windows, and one
window's comparison with its per-segment and per-feature details.

Unknown monitor, an unknown pair or a window that was not compared: 404 naming what is known. docs/versions.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from driftwatch.api.errors import NotFound
from driftwatch.api.result_routes import NOT_FOUND, json_item, results_router
from driftwatch.api.state import AppState, app_state
from driftwatch.durations import to_naive_utc
from driftwatch.storage import versions as store

State = Annotated[AppState, Depends(app_state)]
Version = Annotated[str, Path(min_length=1, max_length=200, description="a model_version as logged")]


class ConfiguredVersions(BaseModel):
    baseline: str
    candidate: str
    mode: str = Field(description="shadow, canary or auto")


class VersionPair(BaseModel):
    baseline: str
    candidate: str
    windows: int = Field(description="windows compared")
    latest_window: datetime


class VersionsOverview(BaseModel):
    monitor: str
    configured: ConfiguredVersions | None = Field(
        description="the monitor's `versions:` section; null if none"
    )
    pairs: list[VersionPair]


class VersionComparison(BaseModel):
    baseline: str
    candidate: str
    window_start: datetime
    window_end: datetime
    mode: str = Field(description="shadow (same request ids) or canary (disjoint)")
    status: str = Field(description="candidate_ok, candidate_worse or insufficient_data")
    reasons: list[str]
    baseline_rows: int
    candidate_rows: int
    pairs: int = Field(description="requests scored by both versions")
    score_ks: float | None = None
    score_ks_pvalue: float | None = None
    score_psi: float | None = None
    decision_chi2_pvalue: float | None = None
    decision_js: float | None = None
    agreement: float | None = None
    agreement_low: float | None = None
    agreement_high: float | None = None
    flip_share: float | None = None
    score_diff_mean: float | None = None
    score_diff_quantiles: list[float | None] | None = Field(None, description="at 5, 25, 50, 75, 95 %")
    metric: str | None = None
    baseline_value: float | None = None
    baseline_low: float | None = None
    baseline_high: float | None = None
    baseline_labels: int | None = None
    candidate_value: float | None = None
    candidate_low: float | None = None
    candidate_high: float | None = None
    candidate_labels: int | None = None
    metric_delta: float | None = None
    metric_delta_low: float | None = None
    metric_delta_high: float | None = None
    metric_delta_pvalue: float | None = None
    computed_at: datetime


class ComparisonDetail(BaseModel):
    kind: str = Field(description="segment_flips, segment_metric or input")
    name: str
    n: int | None = None
    value: float | None = None
    other: float | None = None
    pvalue: float | None = None
    adjusted_pvalue: float | None = None
    flagged: bool


class ComparisonPage(BaseModel):
    items: list[VersionComparison]


class ComparisonWithDetails(VersionComparison):
    details: list[ComparisonDetail]


def versions_router(read: Any) -> APIRouter:
    router = results_router(read, "versions")

    @router.get(
        "/monitors/{name}/versions",
        response_model=VersionsOverview,
        responses=NOT_FOUND,
        summary="The configured baseline/candidate and every version pair compared",
    )
    def overview(name: str, state: State) -> dict[str, Any]:
        monitor = state.monitor(name)
        configured = getattr(monitor, "versions", None)
        return {
            "monitor": name,
            "configured": None
            if configured is None
            else {
                "baseline": configured.baseline,
                "candidate": configured.candidate,
                "mode": configured.mode,
            },
            "pairs": [json_item(p) for p in store.compared_pairs(state.db.cursor(), name)],
        }

    @router.get(
        "/monitors/{name}/versions/{baseline}/{candidate}",
        response_model=ComparisonPage,
        responses=NOT_FOUND,
        summary="A version pair's comparisons, newest window first",
    )
    def pair(
        name: str,
        baseline: Version,
        candidate: Version,
        state: State,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> dict[str, Any]:
        state.monitor(name)
        rows = store.comparisons(state.db.cursor(), name, baseline, candidate, limit)
        if not rows:
            raise NotFound(_unknown_pair(state, name, baseline, candidate))
        return {"items": [json_item(r) for r in rows]}

    @router.get(
        "/monitors/{name}/versions/{baseline}/{candidate}/{window_start}",
        response_model=ComparisonWithDetails,
        responses=NOT_FOUND,
        summary="One window's comparison with its segment and input-feature details",
    )
    def window(
        name: str,
        baseline: Version,
        candidate: Version,
        window_start: Annotated[datetime, Path(description="the window's start (ISO 8601, UTC)")],
        state: State,
    ) -> dict[str, Any]:
        state.monitor(name)
        try:
            start = to_naive_utc(window_start)
        except (OverflowError, ValueError):  # an offset that moves the time out of datetime's range
            start = None
        cur = state.db.cursor()
        row = None if start is None else store.comparison_at(cur, name, baseline, candidate, start)
        if row is None or start is None:
            raise NotFound(
                f"no comparison of {baseline!r} and {candidate!r} for the window starting {window_start}"
            )
        details = store.comparison_details(cur, name, baseline, candidate, start)
        return {**json_item(row), "details": [json_item(d) for d in details]}

    return router


def _unknown_pair(state: AppState, name: str, baseline: str, candidate: str) -> str:
    known = [f"{p['baseline']} vs {p['candidate']}" for p in store.compared_pairs(state.db.cursor(), name)]
    listed = ", ".join(known) if known else "none yet"
    return f"monitor {name!r} has no comparison of {baseline!r} and {candidate!r}; compared pairs: {listed}"
