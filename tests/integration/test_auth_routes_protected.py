"""Deny by default and the identity surface in OpenAPI (SECURITY A2, A5; ADR-0019, ADR-0021).

Every API route must be either on :data:`PUBLIC_ROUTES` (reviewed, explicit) or depend on
``get_current_user``. Adding a route that is neither fails this test: protect it with
``CurrentUser`` / ``require_roles(...)`` or, if it really is public, add it here.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI

from app.core.openapi import api_routes, route_calls
from app.users.dependencies import get_any_user, get_current_user, require_roles
from tests.fixtures.app import serve

#: (method, path) pairs that need no authentication, on purpose.
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/api/v1/health/live"),
    ("GET", "/api/v1/health/ready"),
    # HEAD on the probes (ADR-0001): monitors and load balancers send it.
    ("HEAD", "/health"),
    ("HEAD", "/api/v1/health/live"),
    ("HEAD", "/api/v1/health/ready"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/auth/login"),
    # Authenticated by the refresh token in its body, not a bearer token (ADR-0034).
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/users"),
    # Mail-token flows (ADR-0038): anyone may ask for a reset; the token is the proof.
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/auth/verify-email"),
}


def _routes(app: FastAPI) -> list[tuple[str, str, bool]]:
    return [
        (
            method,
            route.path_format,
            # get_any_user: the principal without the verified-address gate (ADR-0038).
            route_calls(route, get_current_user) or route_calls(route, get_any_user),
        )
        for route in api_routes(app)
        for method in sorted(route.methods or ())
    ]


def test_a2_every_route_is_public_by_allowlist_or_protected(app: FastAPI) -> None:
    """SECURITY A2: deny by default, proven by walking the route table."""
    routes = _routes(app)
    assert routes
    unguarded = [
        (method, path)
        for method, path, protected in routes
        if not protected and (method, path) not in PUBLIC_ROUTES
    ]
    assert unguarded == [], f"routes neither public-by-allowlist nor protected: {unguarded}"
    # The allow-list holds only routes that exist and are really unprotected.
    present = {(m, p) for m, p, protected in routes if not protected}
    assert present >= PUBLIC_ROUTES - {("GET", "/metrics")}


async def test_a2_a5_every_protected_route_rejects_anonymous_calls_with_401(app) -> None:
    """SECURITY A2, A5: each protected route, called without a token, is a 401 envelope."""
    protected = [(m, p) for m, p, is_protected in _routes(app) if is_protected]
    assert ("GET", "/api/v1/users/me") in protected
    async with serve(app) as client:
        for method, path in protected:
            # Every path parameter filled with a valid value (ids are UUIDs), so the request
            # reaches the route and its guard, not a 422 or the 404 of an unmatched path.
            url = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)
            assert "{" not in url, path
            response = await client.request(method, url)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"


def test_require_roles_rejects_unknown_roles_at_declaration() -> None:
    """A typo in a role name fails at import time, not as a silent allow or deny."""
    with pytest.raises(ValueError, match="unknown roles"):
        require_roles("admni")
    with pytest.raises(ValueError, match="unknown roles"):
        require_roles()


def test_openapi_declares_identity_operations(app: FastAPI) -> None:
    """Stable operation ids, declared error statuses with the envelope, security scheme,
    deprecated legacy aliases and the create -> get link (ADR-0021)."""
    schema = app.openapi()
    paths = schema["paths"]
    expected = {
        ("post", "/api/v1/users"): ("users_create", {"201", "400", "409", "422", "503"}),
        ("get", "/api/v1/users"): ("users_list", {"200", "401", "403", "422", "503"}),
        ("get", "/api/v1/users/me"): ("users_me", {"200", "401", "503"}),
        ("get", "/api/v1/users/{user_id}"): (
            "users_get",
            {"200", "401", "403", "404", "422", "503"},
        ),
        ("post", "/api/v1/auth/login"): ("auth_login", {"200", "400", "401", "422", "503"}),
        ("post", "/auth/login"): ("auth_login_legacy", {"200", "400", "401", "422", "503"}),
        ("get", "/auth/me"): ("auth_me_legacy", {"200", "401", "503"}),
    }
    for (method, path), (operation_id, statuses) in expected.items():
        operation = paths[path][method]
        assert operation["operationId"] == operation_id
        assert statuses <= set(operation["responses"]), (path, operation["responses"].keys())
        for status in statuses - {"200", "201"}:
            ref = operation["responses"][status]["content"]["application/json"]["schema"]
            assert ref == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, status)
    for path in ("/auth/login", "/auth/me"):
        for operation in paths[path].values():
            assert operation["deprecated"] is True
    assert "deprecated" not in paths["/api/v1/auth/login"]["post"]

    link = paths["/api/v1/users"]["post"]["responses"]["201"]["links"]["GetUserById"]
    assert link["operationId"] == "users_get"
    assert link["parameters"] == {"user_id": "$response.body#/id"}

    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/login"
    assert paths["/api/v1/users/me"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    login_body = paths["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in login_body
