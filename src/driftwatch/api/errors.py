"""Exceptions mapped to HTTP answers, in one place. Bad input is always a 4xx with a clear message.

Handlers here are the only code that decides a status code for an exception; routes raise domain errors
(`DriftwatchError` and its subclasses) or the small `ApiError` family below. Everything else becomes a 500 whose
body says nothing about internals (the exception is logged, without request headers, so no token leaks).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from driftwatch.errors import ConfigError, DatabaseLockedError, DriftwatchError, InputError, SourceError
from driftwatch.pipeline.runner import CycleBusyError

log = logging.getLogger("driftwatch.api")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


# An error body lists at most this many per-item errors (and says how many more there were), each text cut
# to this many characters: docs/api.md, "Limits".
MAX_ERRORS = 100
MAX_ERROR_TEXT = 1000


class ApiError(Exception):
    """An answer a route decided on: status, one-sentence detail, optional per-item errors."""

    status = 400

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # Only what the answer will show is kept, so the full list can be freed as soon as this is raised.
        self.errors = errors if errors is None or len(errors) <= MAX_ERRORS else errors[: MAX_ERRORS + 1]
        self.errors_total = len(errors) if errors is not None else 0


class NotFound(ApiError):
    status = 404


class Unauthorized(ApiError):
    status = 401


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class Invalid(ApiError):
    status = 422


def bounded(errors: list[dict[str, Any]], total: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The first `MAX_ERRORS` items (long texts cut to `MAX_ERROR_TEXT`) and how many of `total` (default:
    all of `errors`) were left out.

    An error body must stay small whatever the request was: 1M invalid records once made a 106 MiB answer.
    """
    kept = [
        {k: _cut(v) for k, v in item.items()} if isinstance(item, dict) else item
        for item in errors[:MAX_ERRORS]
    ]
    return kept, max(0, (len(errors) if total is None else total) - len(kept))


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ERROR_TEXT:
        return value[: MAX_ERROR_TEXT - 1] + "…"
    return value


def error_response(
    status: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    total: int | None = None,
) -> JSONResponse:
    """The error body: {error, detail, errors?, errors_omitted?}; `total` counts errors beyond the list given."""
    body: dict[str, Any] = {"error": _CODES.get(status, "error"), "detail": _cut(detail)}
    if errors is not None:
        body["errors"], omitted = bounded(errors, total)
        if omitted:
            body["errors_omitted"] = omitted
    return JSONResponse(body, status_code=status, headers=headers)


def _status_of(exc: Exception) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, CycleBusyError):
        return 409
    if isinstance(exc, DatabaseLockedError):
        return 503
    if isinstance(exc, SourceError):
        return 422
    if isinstance(exc, ConfigError | InputError | ValueError):
        return 400
    return 400  # any other DriftwatchError: raised on purpose, about the request


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    status = _status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, ApiError):
        return error_response(status, exc.detail, exc.errors, headers, total=exc.errors_total)
    return error_response(status, str(exc), None, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item.get("loc", ()))
        reason = str(item.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's prefix for ours
        errors.append({"where": where, "reason": reason})
    first = errors[0] if errors else {"where": "request", "reason": "invalid"}
    return error_response(422, f"{first['where']}: {first['reason']}", errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # The router names only the methods of the first route matching the path; a path served by two
        # routers (GET and POST /api/monitors/{name}/runs) must list both. Paths outside the schema (/docs)
        # keep the router's answer.
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
    return error_response(exc.status_code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this request's path."""
    methods: set[str] = set()
    for pattern, documented in _path_methods(request.app):
        if pattern.fullmatch(request.url.path):
            methods |= documented
    return sorted(methods)


def _path_methods(app: Any) -> list[tuple[re.Pattern[str], set[str]]]:
    """(path regex, methods) per path of the app's OpenAPI schema, built once per app."""
    cached: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "path_methods", None)
    if cached is None:
        cached = []
        for path, operations in app.openapi().get("paths", {}).items():
            # `{path}` of /reports/{path} spans folders; every other parameter is one segment.
            regex = re.sub(
                r"\\\{(\w+)\\\}", lambda m: ".+" if m.group(1) == "path" else "[^/]+", re.escape(path)
            )
            cached.append((re.compile(regex), {m.upper() for m in operations}))
        app.state.path_methods = cached
    return cached


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return error_response(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DriftwatchError, _api_error)
    app.add_exception_handler(ValueError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
