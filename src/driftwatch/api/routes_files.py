"""Report pages under /reports/… (files from `reports_dir`, resolved inside it only) and the plotly script.

A path is resolved (symlinks included) and served only when the result is a file inside the reports folder;
anything else (`../`, an absolute path, a symlink pointing out, a missing file) is a 404 that does not say
which. Directories serve their `index.html` when they have one.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from driftwatch.api.errors import NotFound
from driftwatch.api.models import ReportsPage, error_responses
from driftwatch.api.state import AppState, app_state
from driftwatch.paths import inside

State = Annotated[AppState, Depends(app_state)]
PLOTLY_PATH = "/static/plotly.min.js"
_MAX_LISTED = 5000


class PlotlyScript:
    """plotly.js from the installed plotly package, built once, served from memory with an ETag."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._body: bytes | None = None
        self._etag = ""

    def get(self) -> tuple[bytes, str]:
        with self._lock:
            if self._body is None:
                from plotly.offline import get_plotlyjs

                self._body = get_plotlyjs().encode("utf-8")
                self._etag = '"' + hashlib.sha256(self._body).hexdigest()[:32] + '"'
            return self._body, self._etag


def resolve_report(root: Path, relative: str) -> Path | None:
    """The file `relative` names inside `root`, or None when it is outside, missing or not a file."""
    target = inside(root, relative or ".")
    if target is None:
        return None
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def files_router(read: Any) -> APIRouter:
    router = APIRouter(tags=["reports"])
    script = PlotlyScript()

    @router.get(
        "/api/reports",
        response_model=ReportsPage,
        responses=error_responses(401),
        dependencies=[Depends(read)],
        summary="Report pages (.html) written so far, newest first, with their URLs",
    )
    def list_reports(state: State) -> dict[str, Any]:
        root = state.settings.reports_dir
        if not root.is_dir():
            return {"items": []}
        base = root.resolve()
        items: list[dict[str, Any]] = []
        for path in base.rglob("*.html"):
            if len(items) >= _MAX_LISTED:
                break
            if not path.is_file() or inside(base, path) is None:
                continue
            rel = path.relative_to(base).as_posix()
            stat = path.stat()
            items.append(
                {
                    "path": rel,
                    "url": f"/reports/{rel}",
                    "bytes": stat.st_size,
                    "modified": datetime.fromtimestamp(stat.st_mtime, UTC),
                }
            )
        items.sort(key=lambda i: (i["modified"], i["path"]), reverse=True)
        return {"items": items}

    @router.get(
        "/reports/{path:path}",
        dependencies=[Depends(read)],
        responses=error_responses(401, 404),
        response_class=FileResponse,
        summary="A report file (HTML, images) from reports_dir",
    )
    def get_report(path: str, state: State) -> FileResponse:
        target = resolve_report(state.settings.reports_dir, path)
        if target is None:
            raise NotFound(f"no report at /reports/{path}")
        return FileResponse(
            target, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        )

    @router.get(
        PLOTLY_PATH,
        response_class=Response,
        responses={304: {"description": "not modified: the ETag in If-None-Match is current"}},
        summary="plotly.js for the report pages",
    )
    def plotly_js(request: Request) -> Response:
        body, etag = script.get()
        headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/javascript", headers=headers)

    return router
