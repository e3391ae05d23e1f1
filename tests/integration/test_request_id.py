"""X-Request-ID on every response, echoed only when sane (ADR-0003; SECURITY E5)."""

from __future__ import annotations

import re

import httpx
import pytest

from app.core.middleware import RequestGuardMiddleware
from app.core.request_context import sanitize_request_id

FRESH_ID = re.compile(r"[0-9a-f]{32}")


async def test_generated_when_absent(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert FRESH_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "value", ["abc", "A.b-C_9", "x" * 128, "550e8400-e29b-41d4-a716-446655440000"]
)
async def test_sane_value_is_echoed(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": value})
    assert response.headers["x-request-id"] == value


@pytest.mark.parametrize("value", ["x" * 129, "x" * 10_240, "a b", "a;b", "<script>", "ü"])
async def test_insane_value_is_replaced(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": value.encode()})
    assert FRESH_ID.fullmatch(response.headers["x-request-id"])


async def test_error_body_request_id_matches_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/missing", headers={"X-Request-ID": "trace-me.1"})
    assert response.headers["x-request-id"] == "trace-me.1"
    assert response.json()["error"]["request_id"] == "trace-me.1"


@pytest.mark.parametrize(
    "raw", [b"abc\r\nSet-Cookie: evil=1", b"abc\nX-Injected: 1", b"\x00\x01", b"\xff\xfe", b""]
)
def test_crlf_and_binary_values_are_never_reflected(raw: bytes) -> None:
    result = sanitize_request_id(raw)
    assert FRESH_ID.fullmatch(result)


async def test_guard_replaces_crlf_header_at_the_asgi_level() -> None:
    """httpx refuses to send CR/LF, so drive the guard with a raw ASGI scope."""
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-request-id", b"id\r\nX-Evil: 1")],
    }
    await RequestGuardMiddleware(app)(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert FRESH_ID.fullmatch(headers[b"x-request-id"].decode())
    assert all(b"\r" not in v and b"\n" not in v for v in headers.values())


async def test_exactly_one_request_id_header_even_if_app_sets_one() -> None:
    async def app(scope, receive, send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"spoof")]}
        )
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", b"real")]}
    await RequestGuardMiddleware(app)(scope, None, send)  # type: ignore[arg-type]
    values = [v for k, v in sent[0]["headers"] if k == b"x-request-id"]
    assert values == [b"real"]


async def test_the_lifespan_passes_through_every_middleware(make_app) -> None:
    """A server starts and stops the app through its whole middleware stack (ADR-0006):
    the guard and the body-size limit hand a non-HTTP scope on untouched (no request id,
    no size check), so startup and shutdown complete. The other tests run the lifespan
    beside the stack (``app.router.lifespan_context``), never through it."""
    app = make_app(rate_limit_enabled=True)
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
