"""The error envelope on every failure path (ADR-0005).

SECURITY R1, R3, R4, R5, E1, E2, E6, H4.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from app.core.errors import Conflict, NotFound
from tests.fixtures.app import serve

SECRET_TEXT = "db-password=hunter2 at /srv/app/secret.py line 42"  # pragma: allowlist secret


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    count: int = 0
    password: str | None = None
    tags: list[int] = []


probe = APIRouter(prefix="/probe")


@probe.post("/items")
async def create_item(item: Item) -> Item:
    return item


@probe.get("/boom")
async def boom() -> None:
    raise RuntimeError(SECRET_TEXT)


@probe.get("/conflict")
async def conflict() -> None:
    raise Conflict("Email already registered.", details={"field": "email"})


MISSING_ID = uuid.UUID("00000000-0000-4000-8000-000000000042")


@probe.get("/missing")
async def missing() -> None:
    raise NotFound(details={"id": MISSING_ID})


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    return body["error"]


@pytest.fixture
def app(make_app) -> FastAPI:
    app = make_app(max_request_body_bytes=4096)
    app.include_router(probe)
    return app


async def test_unknown_path_is_404_envelope(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/no/such/path"), 404, "not_found")


async def test_wrong_method_is_405_with_allow_header(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert_envelope(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, HEAD"  # probes answer HEAD (ADR-0001)


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/probe/items", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, 400, "bad_request")
    assert error["message"] == "The request body is not valid JSON."


async def test_validation_error_is_422_and_never_echoes_input(client: httpx.AsyncClient) -> None:
    payload = {"name": "", "count": "not-a-number", "password": 12345678, "extra": "sneaky-value"}
    response = await client.post("/probe/items", json=payload)
    error = assert_envelope(response, 422, "validation_error")
    assert {tuple(d["loc"]) for d in error["details"]} >= {("body", "name"), ("body", "count")}
    for detail in error["details"]:
        assert set(detail) == {"loc", "msg", "type"}
    for echoed in ("not-a-number", "12345678", "sneaky-value"):
        assert echoed not in response.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": NaN}',
        b'{"name": "x", "count": NaN}',
        b'{"name": "x", "count": 1e999}',
        b'{"name": "x", "count": -Infinity}',
        b'{"name": "x", "count": ' + b"9" * 5000 + b"}",
        b'{"name": "x", "count": 1.5}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"name": "x", "count": 1, "nested": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
        b'"just a string"',
        b"null",
        b"\xff\xfe\x00garbage",
    ],
)
async def test_pathological_json_never_yields_5xx(make_app, raw: bytes) -> None:
    app = make_app()  # default 1 MiB limit so the deep-nesting bodies are parsed
    app.include_router(probe)
    async with serve(app) as client:
        response = await client.post(
            "/probe/items", content=raw, headers={"content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["error"]["code"] in {"bad_request", "validation_error"}
    assert body["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
async def test_wrong_content_type_is_4xx_envelope(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(
        "/probe/items", content=b'{"name": "x"}', headers={"content-type": content_type}
    )
    assert response.status_code in {400, 415, 422}
    assert_envelope(response, response.status_code, response.json()["error"]["code"])


async def test_oversized_body_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/probe/items", content=b"x" * 10_000, headers={"content-type": "application/json"}
    )
    assert_envelope(response, 413, "payload_too_large")


async def test_oversized_streamed_body_without_content_length_is_413(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    response = await client.post(
        "/probe/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "payload_too_large")


async def test_oversized_body_on_unknown_route_is_413_not_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/nowhere", content=b"x" * 10_000)
    assert_envelope(response, 413, "payload_too_large")


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = json.dumps({"name": "x", "password": "p" * 10}).encode()
    body += b" " * (4096 - len(body))
    response = await client.post(
        "/probe/items", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_unexpected_exception_is_500_that_leaks_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/probe/boom")
    error = assert_envelope(response, 500, "internal_error")
    assert error["details"] is None
    for leak in ("hunter2", "secret.py", "RuntimeError", "Traceback", "line 42"):
        assert leak not in response.text
    # E6: the process keeps serving.
    assert (await client.get("/health")).status_code == 200


async def test_app_error_keeps_message_and_details(client: httpx.AsyncClient) -> None:
    error = assert_envelope(await client.get("/probe/conflict"), 409, "conflict")
    assert error["message"] == "Email already registered."
    assert error["details"] == {"field": "email"}


class ExplodingMiddleware:
    """A middleware that fails before the app runs."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/health":
            raise ValueError(SECRET_TEXT)
        await self.app(scope, receive, send)


async def test_failure_inside_middleware_still_yields_envelope(make_app) -> None:
    app = make_app()
    # index 0 is the outermost (the guard); index 1 sits just inside it.
    app.user_middleware.insert(1, Middleware(ExplodingMiddleware))
    async with serve(app) as client:
        response = await client.get("/health", headers={"X-Request-ID": "mw-fail-1"})
        assert_envelope(response, 500, "internal_error")
        assert response.headers["x-request-id"] == "mw-fail-1"
        assert "hunter2" not in response.text
        assert (await client.get("/api/v1/health/live")).status_code == 200


async def test_debug_is_off_in_every_environment(make_app) -> None:
    for env in ("local", "test"):
        assert make_app(app_env=env).debug is False
    prod = make_app(
        app_env="prod", jwt_secret_key="k" * 16 + "Q9vT2xLm8RpW4zYs", mail_backend="smtp"
    )
    assert prod.debug is False


async def test_422_details_name_each_field_with_its_message_and_type(
    client: httpx.AsyncClient,
) -> None:
    """SECURITY E2: each detail is pydantic's own ``loc`` (prefixed with where the value
    came from, list positions as integers), ``msg`` and ``type``: what a client needs to
    point at the field, and nothing of the input."""
    payload = {"name": "", "count": "x", "tags": [1, "two"]}
    response = await client.post("/probe/items", json=payload)
    error = assert_envelope(response, 422, "validation_error")
    with pytest.raises(ValidationError) as expected:
        Item.model_validate(payload)
    assert sorted(error["details"], key=str) == sorted(
        (
            {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in expected.value.errors()
        ),
        key=str,
    )
    assert ["body", "tags", 1] in [d["loc"] for d in error["details"]]


async def test_details_that_are_not_json_types_are_rendered_as_text(
    client: httpx.AsyncClient,
) -> None:
    """An error's ``details`` may hold ids and dates: they reach the client as strings,
    never as a 500."""
    error = assert_envelope(await client.get("/probe/missing"), 404, "not_found")
    assert error["details"] == {"id": str(MISSING_ID)}
    assert error["message"] == "The requested resource was not found."
