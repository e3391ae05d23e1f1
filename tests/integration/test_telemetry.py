"""Telemetry: noop by default, ``log`` counters per route template, optional Prometheus
``/metrics`` (ADR-0026)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from app.core.middleware import RequestGuardMiddleware
from app.telemetry.metrics import LogTelemetry, NoopTelemetry
from tests.fixtures.app import serve


def _guard(app: FastAPI) -> RequestGuardMiddleware:
    stack = app.build_middleware_stack()
    while not isinstance(stack, RequestGuardMiddleware):
        stack = stack.app  # type: ignore[attr-defined]
    return stack


async def test_noop_by_default_installs_no_observer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Off by default and free: the guard has no observer to call; /metrics does not exist."""
    assert isinstance(app.state.container.telemetry, NoopTelemetry)
    assert _guard(app).observer is None
    assert (await client.get("/metrics")).status_code == 404


async def test_log_mode_counts_per_route_template(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(telemetry_mode="log")
    telemetry = app.state.container.telemetry
    assert isinstance(telemetry, LogTelemetry)
    caplog.set_level(logging.INFO, logger="app.telemetry")
    async with serve(app) as client:
        for user_id in (
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000002",
        ):
            await client.get(f"/api/v1/users/{user_id}")
        await client.get("/health")
        await client.get("/does-not-exist")
    assert telemetry.requests[("GET", "/api/v1/users/{user_id}", 401)] == 2
    assert telemetry.requests[("GET", "/health", 200)] == 1
    assert telemetry.requests[("GET", "<unmatched>", 404)] == 1
    assert telemetry.seconds[("GET", "/health", 200)] > 0
    lines = [r for r in caplog.records if r.name == "app.telemetry"]
    assert len(lines) == 4
    assert {getattr(r, "route", None) for r in lines} >= {"/api/v1/users/{user_id}", "/health"}


async def test_sample_rate_limits_log_lines_not_counts(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(telemetry_mode="log", telemetry_sample_rate=0.0)
    caplog.set_level(logging.INFO, logger="app.telemetry")
    async with serve(app) as client:
        for _ in range(3):
            await client.get("/health")
    assert app.state.container.telemetry.requests[("GET", "/health", 200)] == 3
    assert not [r for r in caplog.records if r.name == "app.telemetry"]


async def test_prometheus_metrics_endpoint(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(metrics_enabled=True, cache_enabled=True)
    async with serve(app) as client:
        await client.get("/health")
        await client.get("/health")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="GET",route="/health",status="200"} 2.0' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "/metrics" not in app.openapi()["paths"]


async def test_a_failing_observer_never_breaks_a_request(app: FastAPI) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("telemetry backend down")

    guard = _guard(app)
    guard.observer = broken
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def ok_app(scope: object, rcv: object, snd: Callable[..., object]) -> None:
        await snd({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[misc]
        await snd({"type": "http.response.body", "body": b""})  # type: ignore[misc]

    guard.app = ok_app  # type: ignore[assignment]
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    await guard(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 204
