"""The app factory: `create_app(settings, db, server_settings, scheduler, clock)` → a FastAPI app.

The factory starts nothing: the scheduler (a `worker.Worker`, seen here only as the `state.Scheduler`
protocol) is built and started by `driftwatch.service.serve`, and tests build a small app per test on a
temporary database. `GET /metrics` is a plain route at exactly that path (mounting
prometheus_client's ASGI app would redirect `/metrics` to `/metrics/`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from driftwatch.alerting.secret import Secret
from driftwatch.api.auth import TokenAuth
from driftwatch.api.docs_ui import install_docs
from driftwatch.api.errors import install_error_handlers
from driftwatch.api.limits import BodyLimits
from driftwatch.api.metrics import metrics_registry, render
from driftwatch.api.models import ErrorBody, LabelBatch, PredictionBatch, SilenceRequest, error_responses
from driftwatch.api.routes_files import files_router
from driftwatch.api.routes_multivariate import multivariate_router
from driftwatch.api.routes_quality import quality_router
from driftwatch.api.routes_read import health_router, monitors_router
from driftwatch.api.routes_silences import silences_router
from driftwatch.api.routes_versions import versions_router
from driftwatch.api.routes_write import write_router
from driftwatch.api.state import AppState, Scheduler, package_version
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.durations import utc_now
from driftwatch.pipeline.runner import Clock, CycleRunner
from driftwatch.storage.database import Database

DESCRIPTION = """\
Drift and model-quality monitoring. Reads are open unless `server.public_reads` is false; writes need
`Authorization: Bearer <token>` (the token is the value of the environment variable named by
`server.token_env`, `DRIFTWATCH_TOKEN` by default). Errors are JSON: `{"error", "detail", "errors"?}`.
See docs/api.md.
"""


def create_app(
    settings: Settings,
    db: Database,
    server_settings: ServerSettings | None = None,
    scheduler: Scheduler | None = None,
    clock: Clock = utc_now,
    token: Secret | str | None = None,
) -> FastAPI:
    """Build the API over an open Database.

    `scheduler` is the running schedule, any `Scheduler` (None: no schedule; "run now" still works, serialised by the app's own
    per-monitor locks). `token` overrides the environment variable named by `server_settings.token_env`.
    """
    server = server_settings or ServerSettings()
    if token is None:
        auth = TokenAuth.from_environment(server.token_env, server.public_reads)
    else:
        secret = token if isinstance(token, Secret) else Secret(token)
        auth = TokenAuth(secret, server.token_env, server.public_reads)
    runner = scheduler.runner if scheduler is not None else CycleRunner(settings, db, clock)
    state = AppState(settings, db, server, runner, scheduler, clock, auth)

    app = FastAPI(
        title="driftwatch",
        version=package_version(),
        description=DESCRIPTION,
        responses={422: {"model": ErrorBody, "description": "invalid request"}},
        docs_url=None,  # /docs is served with local assets by install_docs (no CDN)
    )
    app.state.driftwatch = state
    install_error_handlers(app)
    app.add_middleware(BodyLimits, max_bytes=server.max_body_bytes)
    app.include_router(health_router())
    app.include_router(monitors_router(auth.require_read))
    app.include_router(write_router(auth.require_write))
    app.include_router(silences_router(auth.require_read, auth.require_write))
    app.include_router(files_router(auth.require_read))
    app.include_router(quality_router(auth.require_read))
    app.include_router(multivariate_router(auth.require_read))
    app.include_router(versions_router(auth.require_read))
    install_docs(app)

    registry = metrics_registry(settings, db, scheduler, server.metrics_max_features)

    @app.get(
        "/metrics",
        tags=["service"],
        response_class=Response,
        dependencies=[Depends(auth.require_read)],
        responses=error_responses(401),
        summary="Prometheus metrics, read from the database at scrape time",
    )
    def metrics() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (PredictionBatch, LabelBatch, SilenceRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            document_security(schema, auth)
            link_silences(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


# Operations that never ask for the token, whatever `server.public_reads` says.
OPEN_PATHS = frozenset({"/health", "/static/plotly.min.js"})


def document_security(schema: dict[str, Any], auth: TokenAuth) -> None:
    """Operations behind the token say so (`security`), so clients and schema tools know which need it.

    The rule the routers follow: every method that changes something (POST, DELETE) needs the token; reads
    need it only with `public_reads: false`. tests/test_api_schema.py holds the server to it.
    """
    schema["components"]["securitySchemes"] = {
        "bearerToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "the value of the environment variable named by `server.token_env`",
        }
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "get" or (not auth.public_reads and path not in OPEN_PATHS):
                operation["security"] = [{"bearerToken": []}]


def link_silences(schema: dict[str, Any]) -> None:
    """OpenAPI links from a created silence to reading and expiring it (by its `id`), for clients and for
    schemathesis's stateful phase, which otherwise only ever asks for ids that do not exist."""
    created = schema["paths"].get("/api/silences", {}).get("post", {}).get("responses", {}).get("201")
    by_id = schema["paths"].get("/api/silences/{silence_id}", {})
    if created is None:
        return
    created["links"] = {
        name: {
            "operationId": by_id[method]["operationId"],
            "parameters": {"silence_id": "$response.body#/id"},
        }
        for name, method in (("GetSilence", "get"), ("ExpireSilence", "delete"))
        if method in by_id
    }
