"""Fixtures shared by integration test modules (the app, client and users come from
``tests/fixtures/``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.fixtures.logs import collected

#: The loggers whose lines ``test_log_events*.py`` assert.
EVENT_LOGGERS = ("app.users", "app.auth", "app.ratelimit.login", "app.ratelimit.signup")


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the users, auth and throttle loggers, whatever the root logger's
    configuration."""
    with collected(*EVENT_LOGGERS) as lines:
        yield lines
