"""App-wide schema truths, checked directly (ADR-0021, ADR-0005; SECURITY R5, E1).

``declare_implicit_errors``, the one customisation of the schema, gives every operation
the envelope for the statuses no route author controls, derived from the route's shape;
a 405 names every method of the path in ``Allow``. The fuzzing proves the same end to
end; these tests say precisely which rule broke.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def _declares_envelope(op: dict, status: str) -> bool:
    response = op["responses"].get(status, {})
    return response.get("content", {}).get("application/json", {}).get("schema") == ENVELOPE


def test_the_schema_is_customised_in_one_step(app: FastAPI) -> None:
    """One customisation wraps FastAPI's own schema generator, nothing else: every
    declaration the app adds is made (and can be read) in one place."""
    import inspect

    assert app.openapi.__qualname__ == "declare_implicit_errors.<locals>.openapi"
    generate = inspect.getclosurevars(app.openapi).nonlocals["generate"]
    assert generate.__func__ is FastAPI.openapi


def test_every_operation_declares_the_app_wide_errors(app: FastAPI) -> None:
    """413 (body limit) and 500 (outermost guard) can happen on any operation."""
    for method, path, op in _operations(app.openapi()):
        for status in ("413", "500"):
            assert _declares_envelope(op, status), f"{method} {path} lacks {status}"


def test_input_auth_and_database_errors_follow_the_route_shape(app: FastAPI) -> None:
    """Body -> 400 + 422; parameters -> 422; security -> 401; database -> 503."""
    for method, path, op in _operations(app.openapi()):
        label = f"{method} {path}"
        if "requestBody" in op:
            assert _declares_envelope(op, "400"), f"{label}: malformed body -> 400"
            assert _declares_envelope(op, "422"), f"{label}: invalid body -> 422"
        if op.get("parameters"):
            assert _declares_envelope(op, "422"), f"{label}: invalid parameter -> 422"
        if op.get("security"):
            assert _declares_envelope(op, "401"), f"{label}: secured -> 401"
    ops = {f"{m} {p}": op for m, p, op in _operations(app.openapi())}
    assert _declares_envelope(ops["POST /api/v1/users"], "503")  # uses the database
    assert "503" not in ops["GET /api/v1/health/live"]["responses"]  # never touches it
    assert "422" not in ops["GET /health"]["responses"]  # takes no input


def test_the_422_default_schema_is_replaced_by_the_envelope(app: FastAPI) -> None:
    """FastAPI's default 422 (``HTTPValidationError``) would accept any body."""
    schemas = app.openapi()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/api/v1/users", "GET, POST"), ("/health", "GET, HEAD"), ("/api/v1/auth/login", "POST")],
)
async def test_405_allow_lists_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, allowed: str
) -> None:
    """Two routes on one path (``GET``/``POST /api/v1/users``) are both in ``Allow``."""
    response = await client.request("PATCH", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_generation_filters_drop_only_the_documented_non_schema_rules() -> None:
    """Special-use domains are refused by sign-up and the e-mail change (their field
    description says so); the fuzz filters exactly those cases, not other addresses."""
    from types import SimpleNamespace

    from tests.contract.hooks import filter_case

    def case(method: str, path: str, body: dict[str, str]) -> SimpleNamespace:
        return SimpleNamespace(operation=SimpleNamespace(method=method, path=path), body=body)

    me, signup = ("PATCH", "/api/v1/users/me"), ("POST", "/api/v1/users")
    secret = "correct horse battery staple 42"  # pragma: allowlist secret
    reserved = {"email": "rx@895t209.test", "current_password": secret}
    ordinary = {"email": "rx@example.com", "current_password": secret}
    assert filter_case(None, case(*me, reserved)) is False
    assert filter_case(None, case(*me, ordinary)) is True
    assert filter_case(None, case(*signup, {"email": "a@b.local", "password": secret})) is False
    assert filter_case(None, case(*signup, {"email": "a@example.com", "password": secret})) is True
    assert filter_case(None, case("GET", "/api/v1/items", {})) is True
