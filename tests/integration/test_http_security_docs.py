"""The API docs switch and the offline docs pages (ADR-0027; SECURITY H3).

``DOCS_ENABLED=false`` removes ``/docs``, ``/redoc`` and the schema (404 envelopes with
the security headers); unset, the docs are off in production and on elsewhere; served,
the pages load only self-hosted assets (no CDN) under their own CSP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import assert_security_headers, serve


async def test_h3_docs_disabled_answer_404_envelopes(make_app: Callable[..., FastAPI]) -> None:
    """SECURITY H3: with DOCS_ENABLED=false the docs pages and the schema do not exist."""
    async with serve(make_app(docs_enabled=False)) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found"
            assert_security_headers(response)


STRONG_SECRET = "h3-Pz8kQv2Lx9WmR4tYc7NbJ6dFs1GaE5uHo"  # pragma: allowlist secret


@pytest.mark.parametrize(
    ("values", "served"),
    [
        ({"app_env": "prod"}, False),
        ({"app_env": "prod", "docs_enabled": ""}, False),
        ({"app_env": "prod", "docs_enabled": True}, True),
        ({"app_env": "local"}, True),
        ({"app_env": "test"}, True),
        ({"app_env": "local", "docs_enabled": False}, False),
    ],
)
async def test_h3_docs_are_off_by_default_in_production(
    make_app: Callable[..., FastAPI], values: dict[str, Any], served: bool
) -> None:
    """SECURITY H3: unset, ``DOCS_ENABLED`` is off when ``APP_ENV=prod`` (production
    served ``/docs``, ``/redoc`` and ``/openapi.json`` unless someone remembered to switch
    them off) and on elsewhere; an explicit value always wins."""
    # smtp: production refuses the console mail backend (ADR-0037).
    app = make_app(jwt_secret_key=STRONG_SECRET, mail_backend="smtp", **values)
    assert app.state.container.settings.docs_enabled is served
    async with serve(app) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            response = await client.get(path)
            assert response.status_code == (200 if served else 404), (values, path)


async def test_docs_are_served_from_self_hosted_assets(client: httpx.AsyncClient) -> None:
    """/docs and /redoc reference only same-origin assets, which are served (no CDN)."""
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        assert response.status_code == 200
        html = response.text
        assert "cdn.jsdelivr.net" not in html
        assert "fonts.googleapis.com" not in html
        assert "/docs/assets/" in html
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = await client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200, asset
        assert len(response.content) > 10_000
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200
