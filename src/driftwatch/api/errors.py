"""Exceptions mapped to HTTP answers, in one place. Bad input is always a 4xx with a clear message.

Handlers here are the only code that decides a status code for an exception; routes raise domain errors
(`DriftwatchError` and its subclasses) or the small `ApiError` family below. Everything else becomes a 500 whose
body says nothing about internals (the exception is logged, without request headers, so no token leaks).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from driftwatch.errors import ConfigError, DatabaseLockedError, DriftwatchError, InputError, SourceError
from driftwatch.worker import CycleBusyError

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


class ApiError(Exception):
    """An answer a route decided on: status, one-sentence detail, optional per-item errors."""

    status = 400

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


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


def error_response(
    status: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": _CODES.get(status, "error"), "detail": detail}
    if errors is not None:
        body["errors"] = errors
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
    errors = exc.errors if isinstance(exc, ApiError) else None
    detail = exc.detail if isinstance(exc, ApiError) else str(exc)
    return error_response(status, detail, errors, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item.get("loc", ()))
        errors.append({"where": where, "reason": str(item.get("msg", "invalid"))})
    first = errors[0] if errors else {"where": "request", "reason": "invalid"}
    return error_response(422, f"{first['where']}: {first['reason']}", errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


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
