"""`GET /docs`: Swagger UI served from the installed `swagger-ui-bundle-v2` package, never from a CDN.

FastAPI's default page loads its JavaScript and CSS from cdn.jsdelivr.net, so on an offline or locked-down
network /docs is blank. Here the same page points at `/static/swagger-ui/…`, files read from the package's
vendored Swagger UI (5.x: it renders OpenAPI 3.1, which FastAPI emits). Only the three files the page needs
are served, by name, so the route can never serve anything else from disk. Like /health, the page and its
assets need no token; the schema it loads (/openapi.json) is FastAPI's own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

ASSETS_PREFIX = "/static/swagger-ui"
# name → media type; a request for any other name is a 404
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def assets_folder() -> Path:
    return Path(swagger_ui_path)


def install_docs(app: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect page and the assets; the app must be built with `docs_url=None`."""
    folder = assets_folder()
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:  # a broken install: say so at start, not as a blank page later
        raise RuntimeError(f"swagger-ui-bundle-v2 at {folder} lacks {', '.join(missing)}")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(ASSETS_PREFIX + "/{name}", include_in_schema=False)
    def swagger_ui_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail=f"no such asset: {name}")
        return FileResponse(folder / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"})
