"""Fault-suite fixtures: one throwaway PostgreSQL per session, apps wired to it (ADR-0030).

Tests that need the cluster are skipped with the reason from
:func:`tests.fault.pg.unavailable_reason` (no server binaries, not root), so
``make test`` on a laptop skips them and CI (root, binaries present) runs them.
``FAULT_SUITE_REQUIRED=1`` turns that skip into a failure (for CI, where a skip
would silently hide the suite). A test may stop or restart the cluster; the ``pg``
fixture hands the next test a running one again.

The Redis fault tests share ``needs_redis_server`` (skip without ``redis-server``), the
``redis_server`` and ``hardened`` fixtures, ``mixed_traffic`` and ``no_5xx``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.db import migrations
from app.main import create_app
from tests.fault.pg import ThrowawayPostgres, unavailable_reason
from tests.fault.redis_proc import ThrowawayRedis, redis_server_binary
from tests.fixtures.auth import add_user, bearer, login


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayPostgres]:
    """A started, migrated throwaway cluster shared by the whole fault suite."""
    reason = unavailable_reason()
    if reason is not None:
        message = f"fault suite needs a throwaway PostgreSQL: {reason}"
        if os.environ.get("FAULT_SUITE_REQUIRED") == "1":  # CI: a skip would hide the suite
            pytest.fail(message)
        pytest.skip(message)
    cluster = ThrowawayPostgres()
    try:
        cluster.start()
        migrations.upgrade(cluster.url)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg(pg_cluster: ThrowawayPostgres) -> Iterator[ThrowawayPostgres]:
    """The shared cluster, running; restarted afterwards if the test left it stopped."""
    if not pg_cluster.is_running():
        pg_cluster.start()
    yield pg_cluster
    if not pg_cluster.is_running():
        pg_cluster.start()


@pytest.fixture
def make_fault_app(pg: ThrowawayPostgres) -> Callable[..., FastAPI]:
    """Build the real app on the throwaway cluster; keyword overrides are settings fields."""

    def _make(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {
            "app_env": "test",
            "database_url": pg.url,
            "redis_url": None,
            "health_check_timeout_seconds": 1.0,
        }
        values.update(overrides)
        return create_app(Settings(_env_file=None, **values))

    return _make


# --- Redis faults (test_redis_*.py) ----------------------------------------------------

needs_redis_server = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="Redis fault tests need `redis-server` on PATH (apt-get install redis-server)",
)
WRONG_PASSWORD = "wrong-password"  # pragma: allowlist secret
_HARDENED: dict[str, Any] = {
    "rate_limit_enabled": True,
    "rate_limit_requests": 10_000,
    "rate_limit_window_seconds": 60,
    "cache_enabled": True,
    "redis_socket_timeout_seconds": 0.05,
    "redis_connect_timeout_seconds": 0.05,
    "redis_breaker_threshold": 3,
}


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    """A throwaway ``redis-server`` on a free port, killed after the test."""
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def hardened(make_settings: Callable[..., Settings]) -> Callable[..., FastAPI]:
    """The real app (its own Redis client from ``redis_url``) with every feature on."""

    def _make(redis_url: str | None, **overrides: Any) -> FastAPI:
        return create_app(make_settings(redis_url=redis_url, **{**_HARDENED, **overrides}))

    return _make


async def mixed_traffic(
    app: FastAPI, client: httpx.AsyncClient, rounds: int
) -> list[httpx.Response]:
    """Cached reads, rate-limited 401s and throttled failed logins."""
    await add_user(app, f"admin{id(client)}@example.com", is_superuser=True)
    target = await add_user(app, f"target{id(client)}@example.com")
    token = await login(client, f"admin{id(client)}@example.com")
    answers = []
    for i in range(rounds):
        answers.append(await client.get(f"/api/v1/users/{target}", headers=bearer(token)))
        answers.append(await client.get("/api/v1/users/me"))
        answers.append(
            await client.post(
                "/api/v1/auth/login",
                data={"username": f"nobody{i}@example.com", "password": WRONG_PASSWORD},
            )
        )
    return answers


def no_5xx(answers: list[httpx.Response]) -> None:
    """No answer is a server error: Redis trouble never becomes a 5xx (RL1)."""
    assert [r.status_code for r in answers if r.status_code >= 500] == []
