"""`GET /api/monitors/{name}/quality`: the data-quality checks' stored results (docs/quality.md, docs/api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from driftwatch.api.result_routes import NOT_FOUND, json_item, results_router
from driftwatch.api.routes_read import From, Limit, State, To
from driftwatch.storage.quality import quality_results


class QualityItem(BaseModel):
    scope: str = Field(description="window (a computed window's rows) or cycle (the rows one cycle read)")
    model_version: str = Field(description="'*' for a cycle")
    window_start: datetime = Field(description="a cycle: when its run started")
    window_end: datetime
    check: str = Field(description="range, categories, missing, constant, row_count, parse, type, duplicates")
    feature: str | None = Field(description="None for a check of the whole window or cycle")
    status: str = Field(
        description="ok, warn, fail, or not_judged (too little to judge; the reason says why)"
    )
    value: float | None = Field(
        description="what was measured: a share; for row_count the robust z of the window's rows"
    )
    warn_bar: float | None
    fail_bar: float | None
    reason: str
    run_id: str
    computed_at: datetime


class QualityPage(BaseModel):
    items: list[QualityItem]
    total: int = Field(description="items returned (newest window first, at most `limit`)")
    failures: int = Field(description="items with status fail")
    warnings: int = Field(description="items with status warn")


def quality_router(read: Any) -> APIRouter:
    router = results_router(read, "monitors")

    @router.get(
        "/monitors/{name}/quality",
        response_model=QualityPage,
        responses=NOT_FOUND,
        summary="Data-quality check results per window (and per cycle for the ingest checks)",
    )
    def list_quality(
        name: str,
        state: State,
        start: From = None,
        end: To = None,
        scope: Annotated[Literal["window", "cycle"] | None, Query(description="window or cycle")] = None,
        status: Annotated[
            Literal["ok", "warn", "fail", "not_judged"] | None, Query(description="only this status")
        ] = None,
        limit: Limit = 1000,
    ) -> dict[str, Any]:
        state.monitor(name)
        rows = quality_results(state.db.cursor(), name, scope, status, start, end, limit)
        items = [json_item(r) for r in rows]
        return {
            "items": items,
            "total": len(items),
            "failures": sum(1 for i in items if i["status"] == "fail"),
            "warnings": sum(1 for i in items if i["status"] == "warn"),
        }

    return router
