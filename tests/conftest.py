"""Test harness: hermetic environment, app, client, database and Redis fixtures (ADR-0013).

Tests use a real PostgreSQL / Redis only when ``DATABASE_URL`` / ``REDIS_URL``
point at them; otherwise a temporary SQLite file and an in-process fakeredis.
Nothing else is read from the environment, and ``.env`` is never read.

The suite runs on parallel pytest-xdist workers (``-n auto`` in ``pyproject.toml``).
Each worker has its own database and Redis db: its own temporary SQLite file, or on a
real server the database ``<name>_gwN`` (created and dropped by the suite) and the
Redis db ``<db> - N`` (worker ``gw0`` uses the db in ``REDIS_URL``, ``gw1`` the one
below it, ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Must run before `app` is imported: app.main builds an app at import time. The two
# server URLs are read first: they are the only way in for the environment (ADR-0013).
# pytest-xdist starts its workers after the controller imported this module and scrubbed
# the environment, so the two opt-ins are handed on under names no setting reads.
_HANDOFF = "TESTS_SERVER_"
_DATABASE_URL = os.environ.get("DATABASE_URL") or os.environ.get(f"{_HANDOFF}DATABASE_URL")
_REDIS_URL = os.environ.get("REDIS_URL") or os.environ.get(f"{_HANDOFF}REDIS_URL")
# Before Settings is imported: the class reads APP_ENV_FILE when it is defined.
os.environ["APP_ENV_FILE"] = os.devnull

from app.core.settings import Settings  # noqa: E402 - after APP_ENV_FILE, on purpose

#: Every environment variable a ``Settings`` field reads, derived from the class itself, so
#: a new setting is scrubbed without anyone remembering to. Settings are case-insensitive
#: (``log_level`` sets ``LOG_LEVEL``), so names are compared upper-cased.
SETTING_VARIABLES = frozenset(name.upper() for name in Settings.model_fields)
#: Read by the app outside ``Settings``: the OpenTelemetry SDK configures exporters,
#: sampling and resources from ``OTEL_*`` when ``OPENTELEMETRY_ENABLED`` (ADR-0026).
FOREIGN_PREFIXES = ("OTEL_",)


def reaches_the_app(name: str) -> bool:
    """Whether the environment variable ``name`` would change the app under test."""
    upper = name.upper()
    return upper in SETTING_VARIABLES or upper.startswith(FOREIGN_PREFIXES)


for _name in list(os.environ):
    if reaches_the_app(_name):
        del os.environ[_name]
os.environ["APP_ENV"] = "test"
for _name, _value in (("DATABASE_URL", _DATABASE_URL), ("REDIS_URL", _REDIS_URL)):
    if _value:
        os.environ[_HANDOFF + _name] = _value

pytest_plugins = [
    "tests.fixtures.env",
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.auth",
    "tests.support.schedule",  # longest test files first on the xdist workers (ADR-0043)
]


#: Redis servers have databases 0-15 unless configured otherwise.
REDIS_DATABASES = 16


def worker_number() -> int | None:
    """This pytest-xdist worker's number (``gw1`` -> 1), or ``None`` without workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return int(worker.removeprefix("gw")) if worker else None


def server_database_url() -> str | None:
    """``DATABASE_URL`` as given: the server (and the database to connect to) for the suite."""
    return _DATABASE_URL


def real_database_url() -> str | None:
    """This worker's database on the server in ``DATABASE_URL`` (``<name>_gwN``), if any.

    Without workers it is the database in ``DATABASE_URL`` itself. The per-worker
    database is created and dropped by the ``database_url`` fixture.
    """
    number = worker_number()
    if _DATABASE_URL is None or number is None:
        return _DATABASE_URL
    from sqlalchemy.engine import make_url

    url = make_url(_DATABASE_URL)
    if not url.database:
        raise pytest.UsageError(f"DATABASE_URL names no database: {url!r}")
    return url.set(database=f"{url.database}_gw{number}").render_as_string(hide_password=False)


#: Redis timeouts for tests about something other than Redis latency: under a loaded
#: machine the shipped 50 ms (ADR-0024) turned one slow reply into a fallback the test
#: did not ask for (an arq round trip whose job ran in process instead; seen once).
PATIENT_REDIS = {"redis_socket_timeout_seconds": 5.0, "redis_connect_timeout_seconds": 5.0}


def real_redis_url() -> str | None:
    """This worker's Redis db on the server in ``REDIS_URL`` (``<db> - N``), if any."""
    number = worker_number()
    if _REDIS_URL is None or number is None:
        return _REDIS_URL
    parts = urlsplit(_REDIS_URL)
    db = int(parts.path.strip("/") or 0) - number
    if not 0 <= db < REDIS_DATABASES:
        raise pytest.UsageError(
            f"xdist worker gw{number} would use Redis db {db}: worker gwN uses db "
            f"<REDIS_URL db> - N, so point REDIS_URL at a db >= {number} "
            "(e.g. redis://127.0.0.1:6379/15) or run without workers (-n 0)"
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per CPU (at most 4); none when the run names only files.

    ``pytest tests/unit/test_x.py`` (or ``...::test_y``) then runs in-process, as
    quick to start as without xdist, and ``-s``/``--pdb`` work as usual.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still overrides.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    args = [arg.split("::")[0] for arg in config.args]
    if args and all(Path(config.invocation_params.dir, arg).is_file() for arg in args):
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cpus or 1))
