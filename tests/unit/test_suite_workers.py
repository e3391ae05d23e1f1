"""Parallel test workers never share a database or a Redis db (ADR-0013).

``tests/conftest.py`` maps each pytest-xdist worker to its own PostgreSQL database and
Redis db on the servers that ``DATABASE_URL`` / ``REDIS_URL`` name, and runs in-process
when only files are named.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import conftest

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(conftest, "_DATABASE_URL", PG)
    monkeypatch.setattr(conftest, "_REDIS_URL", REDIS)
    return monkeypatch


def test_each_worker_gets_its_own_database_and_redis_db(servers: pytest.MonkeyPatch) -> None:
    seen = set()
    for number in range(4):
        servers.setenv("PYTEST_XDIST_WORKER", f"gw{number}")
        seen.add((conftest.real_database_url(), conftest.real_redis_url()))
    assert seen == {
        (f"postgresql://postgres@127.0.0.1:5432/test_gw{n}", f"redis://127.0.0.1:6379/{15 - n}")
        for n in range(4)
    }
    assert conftest.server_database_url() == PG


def test_without_workers_the_given_urls_are_used(servers: pytest.MonkeyPatch) -> None:
    servers.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert conftest.real_database_url() == PG
    assert conftest.real_redis_url() == REDIS


def test_a_redis_db_too_low_for_the_workers_is_refused(servers: pytest.MonkeyPatch) -> None:
    servers.setattr(conftest, "_REDIS_URL", "redis://127.0.0.1:6379/1")
    servers.setenv("PYTEST_XDIST_WORKER", "gw2")
    with pytest.raises(pytest.UsageError, match=r"db >= 2 .*-n 0"):
        conftest.real_redis_url()


def _config(args: list[str]) -> SimpleNamespace:
    return SimpleNamespace(args=args, invocation_params=SimpleNamespace(dir=Path.cwd()))


def test_naming_only_files_runs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.chdir(Path(__file__).parents[2])
    here = "tests/unit/test_suite_workers.py"
    assert conftest.pytest_xdist_auto_num_workers(_config([here])) == 0
    assert conftest.pytest_xdist_auto_num_workers(_config([f"{here}::x"])) == 0
    whole = conftest.pytest_xdist_auto_num_workers(_config(["tests"]))
    assert 1 <= whole <= 4
