"""Silences over HTTP, in Alertmanager's shape: list (read), add and expire (write, token required).

While `driftwatch serve` runs it holds the DuckDB file, so `driftwatch silence add|expire` cannot write; these
endpoints are how an on-call engineer silences a noisy alert on a running service. Input is checked by the
same functions as the CLI (`alerting.silences`: `check_matchers`, `parse_time`, `new_silence`); bad input is a
422 naming the field and the value. Writes run on the thread pool in `Database.transaction()`, serialised with
the cycles' writes. The alert evaluation reads the silences table inside its own transaction at every cycle,
so a new or expired silence applies from the next evaluation on: nothing here is cached.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from driftwatch.alerting.silences import check_matchers, new_silence, parse_time, silence_state
from driftwatch.api.errors import Invalid, NotFound
from driftwatch.api.models import ErrorBody, SilenceInfo, SilenceRequest, SilencesPage
from driftwatch.api.routes_write import read_body
from driftwatch.api.state import AppState, app_state
from driftwatch.durations import parse_duration
from driftwatch.errors import InputError
from driftwatch.pipeline.alerts import stored_silence
from driftwatch.storage import alerts as store

log = logging.getLogger("driftwatch.api")

State = Annotated[AppState, Depends(app_state)]
SilenceId = Annotated[str, Path(max_length=200, description="the silence's id (from GET /api/silences)")]
DEFAULT_CREATED_BY = "api"
_SHOWN = 80  # characters of a bad value echoed in an error


def silence_info(row: store.SilenceRow, now: datetime) -> dict[str, Any]:
    """A stored silence as the API answers it, with its state at `now`."""
    return {
        "id": row.id,
        "matchers": dict(row.matchers),
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "comment": row.comment,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "expired_at": row.expired_at,
        "state": silence_state(row.starts_at, row.ends_at, now),
    }


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _invalid(field: str, reason: str) -> Invalid:
    return Invalid(f"body.{field}: {reason}", [{"where": f"body.{field}", "reason": reason}])


def parse_request(raw: bytes) -> SilenceRequest:
    """The body as a `SilenceRequest`, or a 422 listing each problem with its field and the value given."""
    try:
        return SilenceRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = []
        for item in exc.errors(include_url=False):
            where = ".".join(["body", *(str(p) for p in item.get("loc", ()))])
            reason = str(item.get("msg", "invalid"))
            if item.get("type") not in ("missing", "json_invalid"):
                reason += f" (got {_shown(item.get('input'))})"
            errors.append({"where": where, "reason": reason})
        first = errors[0] if errors else {"where": "body", "reason": "invalid"}
        raise Invalid(f"{first['where']}: {first['reason']}", errors) from None


def build_silence(given: SilenceRequest, now: datetime) -> store.SilenceRow:
    """The silence a valid request describes (times relative to `now`), checked by the CLI's rules."""
    try:
        matchers = check_matchers(given.matchers)
    except InputError as exc:
        raise _invalid("matchers", str(exc)) from None
    if not matchers:
        raise _invalid("matchers", 'at least one matcher is needed, e.g. {"feature": "age"}')
    if not given.comment.strip():
        raise _invalid("comment", f"a silence needs a comment saying why (got {_shown(given.comment)})")
    try:
        starts_at = parse_time(given.starts_at, now) if given.starts_at is not None else now
    except InputError as exc:
        raise _invalid("starts_at", str(exc)) from None
    if (given.ends_at is None) == (given.duration is None):
        which = "both were given" if given.ends_at is not None else "neither was given"
        raise _invalid(
            "ends_at",
            f"give either ends_at (a time, or a duration from now) or duration (from starts_at); {which}",
        )
    field = "ends_at" if given.ends_at is not None else "duration"
    try:
        if given.ends_at is not None:
            ends_at = parse_time(given.ends_at, now)
        else:
            ends_at = starts_at + _duration(str(given.duration))
        silence = new_silence(
            matchers, starts_at, ends_at, given.comment, given.created_by or DEFAULT_CREATED_BY
        )
    except InputError as exc:
        raise _invalid(field, str(exc)) from None
    except OverflowError:
        raise _invalid(field, f"{given.duration!r} from {starts_at.isoformat()} is after year 9999") from None
    return stored_silence(silence, now)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _find(state: AppState, silence_id: str) -> store.SilenceRow:
    found = store.silence_by_id(state.db.cursor(), silence_id)
    if found is None:
        raise NotFound(f"no silence with id {silence_id!r} (see GET /api/silences?all=true)")
    return found


def silences_router(read: Any, write: Any) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["silences"])
    unauthorized: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody, "description": "missing or wrong token"}
    }
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": ErrorBody, "description": "no silence with this id"}
    }

    @router.get(
        "/silences",
        response_model=SilencesPage,
        responses=unauthorized,
        dependencies=[Depends(read)],
        summary="Silences that have not ended (with all=true, every silence), oldest first",
    )
    def list_silences(
        state: State,
        show_all: Annotated[bool, Query(alias="all", description="include silences that have ended")] = False,
    ) -> dict[str, Any]:
        now = state.clock()
        rows = store.load_silences(state.db.cursor(), now, include_ended=show_all)
        return {"items": [silence_info(row, now) for row in rows]}

    @router.get(
        "/silences/{silence_id}",
        response_model=SilenceInfo,
        responses={**unauthorized, **not_found},
        dependencies=[Depends(read)],
        summary="One silence",
    )
    def get_silence(silence_id: SilenceId, state: State) -> dict[str, Any]:
        return silence_info(_find(state, silence_id), state.clock())

    @router.post(
        "/silences",
        status_code=201,
        response_model=SilenceInfo,
        responses={
            **unauthorized,
            413: {"model": ErrorBody, "description": "body over server.max_body_bytes"},
            422: {"model": ErrorBody, "description": "invalid silence: names the field and the value"},
        },
        dependencies=[Depends(write)],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SilenceRequest"}}},
            }
        },
        summary="Add a silence: matching alerts still change state, their messages are recorded as suppressed",
    )
    async def add_silence(request: Request, state: State) -> dict[str, Any]:
        given = parse_request(await read_body(request, state.server.max_body_bytes))
        now = state.clock()
        row = build_silence(given, now)
        await run_in_threadpool(store.insert_silence, state.db, row)
        log.info(
            "silence %s added by %r: %r from %s until %s",
            row.id,
            row.created_by,
            row.matchers,
            row.starts_at.isoformat(),
            row.ends_at.isoformat(),
        )
        return silence_info(row, now)

    @router.delete(
        "/silences/{silence_id}",
        response_model=SilenceInfo,
        responses={**unauthorized, **not_found},
        dependencies=[Depends(write)],
        summary="Expire a silence now (an ended one is returned unchanged)",
    )
    def expire_silence(silence_id: SilenceId, state: State) -> dict[str, Any]:
        now = state.clock()
        row = store.expire_silence(state.db, silence_id, now)
        if row is None:
            raise NotFound(f"no silence with id {silence_id!r} (see GET /api/silences?all=true)")
        log.info("silence %s expired; it ends at %s", row.id, row.ends_at.isoformat())
        return silence_info(row, now)

    return router
