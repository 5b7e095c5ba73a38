"""Write endpoints (token required): run a cycle now, push predictions, push labels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from driftwatch.api import push
from driftwatch.api.errors import Invalid, PayloadTooLarge
from driftwatch.api.json_values import finite
from driftwatch.api.models import CycleResult, ErrorBody, LabelPushResult, PushResult
from driftwatch.api.state import AppState, app_state
from driftwatch.durations import as_utc
from driftwatch.pipeline.cycle import CycleSummary

State = Annotated[AppState, Depends(app_state)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong token"},
    404: {"model": ErrorBody, "description": "no such monitor"},
    409: {"model": ErrorBody, "description": "a cycle of this monitor is still running"},
}


def _batch_body(model: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes, declared or streamed."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Invalid("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is {int(declared)} bytes; this server accepts at most {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes, the most this server accepts")
        chunks.append(chunk)
    return b"".join(chunks)


def cycle_result(summary: CycleSummary) -> dict[str, Any]:
    ing = summary.ingest
    windows = []
    for w in summary.windows:
        overall = w.overall
        windows.append(
            {
                "model_version": w.window.model_version,
                "window_start": as_utc(w.window.start),
                "window_end": as_utc(w.window.end),
                "rows": overall.rows,
                "status": overall.decision.status,
                "drift_share": finite(overall.decision.drift_share),
            }
        )
    return {
        "run_id": summary.run_id,
        "monitor": summary.monitor,
        "status": summary.status,
        "error": summary.status_note,
        "seconds": summary.seconds,
        "files_read": ing.files_read,
        "rows_ingested": ing.rows_inserted,
        "rows_duplicate": ing.rows_duplicate,
        "rows_quarantined": ing.rows_quarantined,
        "files_failed": [{"path": p, "reason": r} for p, r in ing.failed_files],
        "profile_rebuilt": summary.profile_rebuilt,
        "windows_computed": summary.windows_computed,
        "windows": windows,
        "drifting_features": summary.drifting_features(),
    }


def write_router(write: Any) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["write"], dependencies=[Depends(write)])

    @router.post(
        "/monitors/{name}/runs",
        response_model=CycleResult,
        responses=_ERRORS,
        summary="Run the monitor's cycle now (waits for a cycle already running, up to server.run_wait)",
    )
    def run_now(name: str, state: State) -> dict[str, Any]:
        state.monitor(name)
        summary = state.runner.run(name, "api", wait=state.server.run_wait.total_seconds())
        return cycle_result(summary)

    @router.post(
        "/monitors/{name}/predictions",
        response_model=PushResult,
        responses={
            **_ERRORS,
            413: {"model": ErrorBody, "description": "body over server.max_body_bytes"},
            422: {
                "model": ErrorBody,
                "description": "invalid records: errors = [{index, request_id, reason}]",
            },
        },
        openapi_extra=_batch_body("PredictionBatch"),
        summary="Push a batch of predictions; all or nothing, idempotent by request id",
    )
    async def push_predictions(name: str, request: Request, state: State) -> dict[str, Any]:
        monitor = state.monitor(name)
        body = await read_body(request, state.server.max_body_bytes)
        wait = state.server.run_wait.total_seconds()
        # Parsing too runs off the event loop, which keeps answering (/health, reads) meanwhile.
        records = await run_in_threadpool(push.parse_batch, body)
        result = await run_in_threadpool(
            push.push_predictions, state.db, state.runner, monitor, records, wait
        )
        return {
            "batch_id": result.batch_id,
            "received": result.received,
            "inserted": result.inserted,
            "duplicate": result.duplicate,
        }

    @router.post(
        "/monitors/{name}/labels",
        response_model=LabelPushResult,
        responses={
            **_ERRORS,
            413: {"model": ErrorBody, "description": "body over server.max_body_bytes"},
            422: {
                "model": ErrorBody,
                "description": "invalid labels: errors = [{index, request_id, reason}]",
            },
        },
        openapi_extra=_batch_body("LabelBatch"),
        summary="Push a batch of delayed labels; upserted by request id",
    )
    async def push_labels(name: str, request: Request, state: State) -> dict[str, Any]:
        monitor = state.monitor(name)
        body = await read_body(request, state.server.max_body_bytes)
        records = await run_in_threadpool(push.parse_batch, body)  # off the event loop, as for predictions
        result = await run_in_threadpool(push.push_labels, state.db, monitor, records)
        return {
            "batch_id": result.batch_id,
            "received": result.received,
            "new": result.new,
            "replaced": result.replaced,
            "unchanged": result.unchanged,
            "windows_queued": result.windows_queued,
        }

    return router
