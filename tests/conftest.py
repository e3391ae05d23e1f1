"""Test harness: hermetic environment, app, client, database and Redis fixtures (ADR-0013).

Tests use a real PostgreSQL / Redis only when ``DATABASE_URL`` / ``REDIS_URL``
point at them; otherwise a temporary SQLite file and an in-process fakeredis.
Nothing else is read from the environment, and ``.env`` is never read.
"""

from __future__ import annotations

import os

# Must run before `app` is imported: app.main builds an app at import time.
_DATABASE_URL = os.environ.get("DATABASE_URL")
_REDIS_URL = os.environ.get("REDIS_URL")
for _name in list(os.environ):
    if _name.isupper() and _name.split("_")[0] in {
        "APP",
        "SERVICE",
        "LOG",
        "MAX",
        "DATABASE",
        "DB",
        "REDIS",
        "HEALTH",
        "JWT",
        "CORS",
        "RATE",
        "CACHE",
        "TELEMETRY",
        "DOCS",
        "TRUSTED",
        "PASSWORD",
        "LOGIN",
        "SECURITY",
        "METRICS",
        "PROXY",
        "FORWARDED",
        "HSTS",
    }:
        del os.environ[_name]
os.environ["APP_ENV_FILE"] = os.devnull
os.environ["APP_ENV"] = "test"

pytest_plugins = [
    "tests.fixtures.env",
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.auth",
]


def real_database_url() -> str | None:
    """The PostgreSQL (or other) URL the suite was pointed at, if any."""
    return _DATABASE_URL


def real_redis_url() -> str | None:
    """The Redis URL the suite was pointed at, if any."""
    return _REDIS_URL
