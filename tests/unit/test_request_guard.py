"""The request guard at the ASGI level (ADR-0004, ADR-0005; SECURITY E6).

:class:`~app.core.middleware.RequestGuardMiddleware` around a tiny inner app, its
messages recorded as the server would receive them: what an in-process HTTP client (and
uvicorn, which repairs some of it) would hide. A ``HEAD`` answer carries no body; an error
after the response began never starts a second one; an unexpected error is one
``unhandled error`` line naming its type, an expected one (``AppError``) none; the access
line measures the request; a failing telemetry observer is logged and costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.core.errors import NotFound
from app.core.logging import ACCESS_LOGGER
from app.core.middleware import RequestGuardMiddleware

Inner = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _call(inner: Inner, method: str = "GET", **options: Any) -> list[Message]:
    """Run one request through the guard; the messages it sent to the server."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/x", "headers": []}
    await RequestGuardMiddleware(inner, **options)(scope, receive, send)
    return sent


def _answer(body: bytes = b"hello", status: int = 200) -> Inner:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return inner


def _raising(error: Exception, *, after_start: bool = False) -> Inner:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise error

    return inner


def _bodies(sent: list[Message]) -> list[bytes]:
    return [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]


def _starts(sent: list[Message]) -> list[int]:
    return [m["status"] for m in sent if m["type"] == "http.response.start"]


async def test_a_head_answer_has_no_body_and_a_get_keeps_it() -> None:
    assert _bodies(await _call(_answer(), "HEAD")) == [b""]
    assert _bodies(await _call(_answer(), "GET")) == [b"hello"]


async def test_an_error_after_the_response_began_starts_no_second_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The status line is gone already: the guard logs the error and sends nothing more
    (a second ``http.response.start`` would be a protocol error at the server)."""
    caplog.set_level(logging.INFO)
    sent = await _call(_raising(RuntimeError("mid-body"), after_start=True))
    assert _starts(sent) == [200]
    [error] = [r for r in caplog.records if r.name == "app.errors"]
    assert (error.getMessage(), error.error_type) == ("unhandled error", "RuntimeError")  # type: ignore[attr-defined]
    assert error.exc_info is not None
    assert error.levelno == logging.ERROR
    [access] = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert access.status == 200  # type: ignore[attr-defined]


async def test_an_unexpected_error_is_a_500_envelope_and_one_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    sent = await _call(_raising(KeyError("boom")))
    assert _starts(sent) == [500]
    assert b'"code":"internal_error"' in b"".join(_bodies(sent))
    errors = [r for r in caplog.records if r.name == "app.errors"]
    assert [(r.getMessage(), r.error_type) for r in errors] == [("unhandled error", "KeyError")]  # type: ignore[attr-defined]
    [access] = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert access.status == 500  # type: ignore[attr-defined]


async def test_an_expected_error_is_its_envelope_without_an_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    sent = await _call(_raising(NotFound("No such thing.")))
    assert _starts(sent) == [404]
    assert b"No such thing." in b"".join(_bodies(sent))
    assert [r for r in caplog.records if r.name == "app.errors"] == []


async def test_the_access_line_measures_the_request_in_milliseconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.05)
        await _answer()(scope, receive, send)

    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    await _call(slow)
    [access] = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert 45 <= access.duration_ms < 10_000  # type: ignore[attr-defined]


async def test_a_failing_observer_is_logged_and_the_answer_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def observer(method: str, route: str, status: int, seconds: float) -> None:
        raise RuntimeError("exporter down")

    sent = await _call(_answer(), observer=observer)
    assert _starts(sent) == [200]
    assert _bodies(sent) == [b"hello"]
    [line] = [r for r in caplog.records if r.name == "app.errors"]
    assert line.getMessage() == "telemetry observer failed"
    assert line.exc_info is not None
