"""Swagger UI and ReDoc from self-hosted assets, and the docs switch (ADR-0027, SECURITY H3).

The asset files (``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js``,
``favicon.png``) ship inside the ``fastapi-offline`` wheel; we only serve them from its
package folder at ``/docs/assets``, so ``/docs`` works with no internet and no CDN.
With ``DOCS_ENABLED=false`` (the default when ``APP_ENV=prod``) none of ``/docs``,
``/redoc``, ``/openapi.json`` exists: they answer the 404 envelope like any unknown path.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.core.http_security import DOCS_CSP

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
_DOCS_HEADERS = {"Content-Security-Policy": DOCS_CSP}


def install_docs(app: FastAPI) -> None:
    """Add the docs pages and their assets to ``app`` (call only when docs are enabled)."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )
        page.headers.update(_DOCS_HEADERS)
        return page

    async def swagger_ui_redirect(_: Request) -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers.update(_DOCS_HEADERS)
        return page

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(_DOCS_HEADERS)
        return page

    # Plain Starlette routes (not API operations): outside the schema and the API surface.
    for path, endpoint in (
        (DOCS_URL, swagger_ui),
        (OAUTH2_REDIRECT_URL, swagger_ui_redirect),
        (REDOC_URL, redoc),
    ):
        app.add_route(path, endpoint, methods=["GET"], include_in_schema=False)
