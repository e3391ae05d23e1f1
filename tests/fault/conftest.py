"""Fault-suite fixtures: one throwaway PostgreSQL per session, apps wired to it (ADR-0030).

Tests that need the cluster are skipped with the reason from
:func:`tests.fault.pg.unavailable_reason` (no server binaries, not root), so
``make test`` on a laptop skips them and CI (root, binaries present) runs them.
``FAULT_SUITE_REQUIRED=1`` turns that skip into a failure (for CI, where a skip
would silently hide the suite). A test may stop or restart the cluster; the ``pg``
fixture hands the next test a running one again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.db import migrations
from app.main import create_app
from tests.fault.pg import ThrowawayPostgres, unavailable_reason


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
