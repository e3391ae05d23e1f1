"""HTTP security defaults on the wire: headers, CORS, trusted hosts, relative redirects
(ADR-0027; SECURITY H1, H2).

Every response carries the security headers once; only allowlisted origins get a CORS
grant; other hosts are refused with an envelope and no response reflects an untrusted
``Host``. Settings refused at startup are test_http_security_settings.py; the docs switch
and offline docs pages (H3) are test_http_security_docs.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.core.openapi import api_routes
from tests.fixtures.app import assert_security_headers, serve


async def test_h1_security_headers_on_every_response(make_app: Callable[..., FastAPI]) -> None:
    """SECURITY H1: 2xx, 4xx (401/404/405/413/422) and the guard's own 500 all carry the
    headers, exactly once."""
    app = make_app(max_request_body_bytes=1024)

    async def boom(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("escaped every handler")

    app.router.add_route("/boom", boom)  # a raw ASGI endpoint whose error reaches the guard
    async with serve(app) as client:
        answers = [
            await client.get("/health"),
            await client.get("/api/v1/users/me"),
            await client.get("/nope"),
            await client.delete("/health"),
            await client.post("/api/v1/users", json={"email": "x"}),
            await client.post("/api/v1/users", content=b"x" * 2048),
            await client.post("/api/v1/auth/login", data={"username": "a@b.co", "password": "x"}),
            await client.get("/boom"),
        ]
    assert [r.status_code for r in answers] == [200, 401, 404, 405, 422, 413, 401, 500]
    for response in answers:
        assert_security_headers(response)
    assert "strict-transport-security" not in answers[0].headers


async def test_h1_hsts_when_configured(make_app: Callable[..., FastAPI]) -> None:
    async with serve(make_app(hsts_max_age_seconds=31536000)) as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_h2_allowed_origin_gets_a_grant_and_others_do_not(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY H2: only listed origins are granted; a refused preflight is an envelope."""
    app = make_app(cors_origins=["https://app.example.com"], cors_allow_credentials=True)
    async with serve(app) as client:
        good = await client.get("/health", headers={"Origin": "https://app.example.com"})
        evil = await client.get("/health", headers={"Origin": "https://evil.example.com"})
        null = await client.get("/health", headers={"Origin": "null"})
        preflight_ok = await client.options(
            "/api/v1/users/me",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        preflight_bad = await client.options(
            "/api/v1/users/me",
            headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
        )
    assert good.headers["access-control-allow-origin"] == "https://app.example.com"
    assert good.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in good.headers["access-control-expose-headers"].lower()
    for refused in (evil, null):
        assert "access-control-allow-origin" not in refused.headers
    assert preflight_ok.status_code == 200
    assert preflight_ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert preflight_bad.status_code == 400
    assert "access-control-allow-origin" not in preflight_bad.headers
    assert preflight_bad.json()["error"]["code"] == "bad_request"
    assert_security_headers(preflight_bad)


async def test_h2_no_cors_headers_without_an_allowlist(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_trusted_hosts_refuse_other_hosts_with_an_envelope(
    make_app: Callable[..., FastAPI],
) -> None:
    app = make_app(trusted_hosts=["api.example.com", "*.internal.example.com"])
    async with serve(app) as client:
        ok = await client.get("/health", headers={"Host": "api.example.com:8443"})
        sub = await client.get("/health", headers={"Host": "a.internal.example.com"})
        bad = await client.get("/health", headers={"Host": "evil.example.com"})
    assert ok.status_code == sub.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["error"]["request_id"] == bad.headers["x-request-id"]
    assert_security_headers(bad)


EVIL_HOST = "evil.example.net"


def _redirecting_requests(app: FastAPI) -> list[tuple[str, str]]:
    """Every path of the app with its trailing slash flipped (Starlette redirects those to
    the other form), under each method the path has, plus GET."""
    from starlette.routing import Mount

    requests: set[tuple[str, str]] = set()
    for route in api_routes(app):
        # Every path parameter filled with a valid id: the request must reach the redirect.
        path = re.sub(r"\{[^}]+\}", "7f0c2c2e-6a43-4c59-9d65-3c1a1a6f2b11", route.path_format)
        for method in {*(route.methods or ()), "GET"}:
            requests.add((method, path + "/"))
    for route in app.routes:
        if isinstance(route, Mount):  # /docs/assets -> /docs/assets/
            requests.add(("GET", route.path))
        elif hasattr(route, "methods") and route.path != "/" and "{" not in route.path:
            requests.add(("GET", route.path + "/"))
    return sorted(requests)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"trusted_hosts": ["*"]}, {"rate_limit_enabled": True}],
    ids=["default", "trusted-hosts-star", "rate-limited"],
)
async def test_no_response_reflects_an_untrusted_host(
    make_app: Callable[..., FastAPI], overrides: dict[str, Any]
) -> None:
    """ADR-0027: with ``TRUSTED_HOSTS`` empty (any host served) no response carries the
    request's ``Host``. The trailing-slash redirects answer a relative ``Location`` (path
    and query only; never ``//...``), on every redirecting path of the route table."""
    app = make_app(**overrides)
    requests = _redirecting_requests(app)
    assert ("GET", "/api/v1/users/me/") in requests
    redirects = 0
    async with serve(app) as client:
        for method, path in requests:
            response = await client.request(
                method, path + "?page=2", headers={"Host": EVIL_HOST, "X-Forwarded-Host": EVIL_HOST}
            )
            assert EVIL_HOST not in response.text, (method, path)
            for name, value in response.headers.multi_items():
                assert EVIL_HOST not in value, (method, path, name, value)
            if response.is_redirect:
                redirects += 1
                location = response.headers["location"]
                assert location.startswith("/"), location
                assert not location.startswith(("//", "/\\")), location
                assert location in (path.rstrip("/") + "?page=2", path + "/?page=2")
                assert response.status_code == 307
    assert redirects >= 10


async def test_relative_redirect_is_followed_to_the_resource(client: httpx.AsyncClient) -> None:
    """The relative ``Location`` resolves against the URL the client asked for."""
    response = await client.get("/api/v1/health/live/", follow_redirects=True)
    assert response.status_code == 200
    assert response.url.path == "/api/v1/health/live"
    assert (await client.get("//evil.example.net/")).status_code == 404


async def test_relative_redirect_keeps_the_mount_point(app: FastAPI) -> None:
    """Behind a proxy that mounts the app under a prefix (ASGI ``root_path``), the
    ``Location`` keeps the prefix: it is the path the client asked for, slash flipped."""
    transport = httpx.ASGITransport(app=app, root_path="/svc")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        response = await client.get("/svc/api/v1/health/live/", headers={"Host": EVIL_HOST})
    assert response.status_code == 307
    assert response.headers["location"] == "/svc/api/v1/health/live"


async def test_trusted_hosts_star_means_any_host(make_app: Callable[..., FastAPI]) -> None:
    """``TRUSTED_HOSTS=*`` accepts every host, as in Starlette (it refused every request)."""
    async with serve(make_app(trusted_hosts=["*"])) as client:
        for host in ("api.example.com", EVIL_HOST, "127.0.0.1:8000", "[::1]:8000"):
            response = await client.get("/health", headers={"Host": host})
            assert response.status_code == 200, host


async def test_api_responses_use_the_strict_csp(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_429_is_declared_for_limited_operations(app: FastAPI) -> None:
    """Login (always throttled) and rate-limit-scoped operations declare 429 + Retry-After."""
    paths = app.openapi()["paths"]
    login = paths["/api/v1/auth/login"]["post"]["responses"]
    assert "Retry-After" in login["429"]["headers"]
    assert "429" in paths["/api/v1/users/me"]["get"]["responses"]
    assert "429" not in paths["/api/v1/health/live"]["get"]["responses"]
