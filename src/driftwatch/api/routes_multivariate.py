"""`GET /api/monitors/{name}/multivariate`: the multivariate drift results per window and method
(docs/api.md; the methods in docs/statistics-decisions.md, "Multivariate drift")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from driftwatch.api.result_routes import NOT_FOUND, json_item, results_router
from driftwatch.api.routes_read import From, Limit, State, Text, To
from driftwatch.durations import to_naive_utc
from driftwatch.storage.multivariate import multivariate_results

Method = Annotated[str | None, Query(pattern="^(reconstruction|classifier)$", description="one method only")]


class MultivariateResult(BaseModel):
    model_version: str
    window_start: datetime
    window_end: datetime
    method: str = Field(
        description="reconstruction (PCA reconstruction error) or classifier (domain classifier)"
    )
    status: str = Field(description="ok, warn, drift or insufficient_data (too few rows: not judged)")
    reason: str
    rows: int = Field(description="window rows the statistic used (a sample of at most `max_rows`)")
    window_rows: int
    value: float | None = Field(description="mean reconstruction error, or the classifier's ROC AUC")
    warn_bar: float | None = None
    drift_bar: float | None = Field(None, description="the learned drift bar, or 0.5 + margin for the AUC")
    low: float | None = Field(None, description="the AUC's 95 % DeLong interval")
    high: float | None = None
    computed_at: datetime


class MultivariatePage(BaseModel):
    items: list[MultivariateResult]
    enabled: bool = Field(description="the monitor's `multivariate.enabled`")


def multivariate_router(read: Any) -> APIRouter:
    router = results_router(read, "monitors")

    @router.get(
        "/monitors/{name}/multivariate",
        response_model=MultivariatePage,
        responses=NOT_FOUND,
        summary="Multivariate drift per window: PCA reconstruction error and domain classifier, newest first",
    )
    def list_multivariate(
        name: str,
        state: State,
        start: From = None,
        end: To = None,
        model_version: Text = None,
        method: Method = None,
        limit: Limit = 1000,
    ) -> dict[str, Any]:
        monitor = state.monitor(name)
        rows = multivariate_results(
            state.db.cursor(),
            name,
            model_version=model_version,
            start=None if start is None else to_naive_utc(start),
            end=None if end is None else to_naive_utc(end),
        )
        items = [json_item(r) for r in rows if method is None or r.method == method]
        return {"items": items[:limit], "enabled": monitor.multivariate.enabled}

    return router
