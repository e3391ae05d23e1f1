"""Health endpoints (ADR-0001)."""

from __future__ import annotations

import time

import httpx
import pytest
from fakeredis import FakeAsyncRedis, FakeServer

from app.main import create_app
from tests.fixtures.app import serve

CLOSED_PORT_PG = "postgresql://postgres@127.0.0.1:9/none"
#: Upper bound on a /ready answer when a check fails or hangs (seconds). Generous on
#: purpose (docs/testing.md): each check is cut at HEALTH_CHECK_TIMEOUT_SECONDS (1 s by
#: default), a refused connection fails in milliseconds, and a busy machine adds its
#: scheduling delays; what the bound catches is an unbounded check (redis-py's default
#: 5 s socket timeout, the 30 s hang below).
READY_BOUND = 4.0


async def test_legacy_health_is_exactly_status_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.content == b'{"status":"ok"}'
    assert response.headers["content-type"] == "application/json"


async def test_live_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_live_checks_no_dependency(make_settings) -> None:
    """ADR-0001: with the database *and* Redis down, liveness still answers 200 (an
    orchestrator must not restart a process for an outage elsewhere), while readiness
    answers 503 naming both."""
    server = FakeServer()
    server.connected = False
    settings = make_settings(database_url=CLOSED_PORT_PG)
    app = create_app(settings, redis=FakeAsyncRedis(server=server))
    async with serve(app) as client:
        ready = await client.get("/api/v1/health/ready")
        live = await client.get("/api/v1/health/live")
        head = await client.head("/api/v1/health/live")
    assert ready.status_code == 503
    assert ready.json() == {"status": "error", "checks": {"db": "error", "redis": "error"}}
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert head.status_code == 200


async def test_ready_reports_db_and_redis_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"db": "ok", "redis": "ok"}}


async def test_ready_without_redis_configured_has_no_redis_key(make_app) -> None:
    async with serve(make_app(with_redis=False)) as client:
        response = await client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"db": "ok"}}


async def test_ready_is_degraded_not_failing_when_only_redis_is_down(make_settings) -> None:
    server = FakeServer()
    server.connected = False
    app = create_app(make_settings(), redis=FakeAsyncRedis(server=server))
    async with serve(app) as client:
        response = await client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "checks": {"db": "ok", "redis": "error"}}


@pytest.mark.timing
async def test_ready_with_unreachable_redis_url_is_degraded_quickly(make_app) -> None:
    app = make_app(with_redis=False, redis_url="redis://127.0.0.1:9/0")
    async with serve(app) as client:
        started = time.perf_counter()
        response = await client.get("/api/v1/health/ready")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json()["checks"] == {"db": "ok", "redis": "error"}
    assert elapsed < READY_BOUND


@pytest.mark.timing
async def test_ready_is_503_naming_db_when_database_is_unreachable(make_app) -> None:
    app = make_app(database_url=CLOSED_PORT_PG)
    async with serve(app) as client:
        started = time.perf_counter()
        response = await client.get("/api/v1/health/ready")
        elapsed = time.perf_counter() - started
        live = await client.get("/api/v1/health/live")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"db": "error", "redis": "ok"}}
    assert elapsed < READY_BOUND
    assert live.status_code == 200


@pytest.mark.timing
async def test_ready_times_out_a_hanging_check(make_app, monkeypatch) -> None:
    import asyncio

    from app.db.engine import Database

    async def hang(self: Database) -> None:
        await asyncio.sleep(30)

    monkeypatch.setattr(Database, "ping", hang)
    app = make_app(health_check_timeout_seconds=0.1)
    async with serve(app) as client:
        started = time.perf_counter()
        response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503  # the 30 s hang was cut: it would have answered 200
    assert time.perf_counter() - started < READY_BOUND


PROBES = ("/health", "/api/v1/health/live", "/api/v1/health/ready")


async def test_head_is_answered_on_every_probe(client: httpx.AsyncClient) -> None:
    """ADR-0001: uptime monitors and load balancers probe with HEAD. Every GET probe
    answers HEAD with the GET's status and headers (``Content-Length`` of the GET body
    included) and no body; 405s on the probes advertise ``Allow: GET, HEAD``."""
    for path in PROBES:
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "cache-control", "x-content-type-options"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)
        assert head.headers["x-request-id"]
        refused = await client.delete(path)
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, HEAD", path


async def test_head_on_ready_reports_the_outage_status_too(make_app) -> None:
    """A load balancer probing readiness with HEAD sees the 503 a GET would get."""
    async with serve(make_app(database_url=CLOSED_PORT_PG)) as client:
        head = await client.head("/api/v1/health/ready")
        live = await client.head("/api/v1/health/live")
    assert head.status_code == 503
    assert head.content == b""
    assert live.status_code == 200


async def test_head_stays_405_on_the_api(client: httpx.AsyncClient) -> None:
    """Only the probes gained HEAD: API routes keep answering exactly their methods."""
    response = await client.head("/api/v1/users/me")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"
