"""Fixtures shared by integration test modules (the app, client and users come from
``tests/fixtures/``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from tests.fixtures.logs import collected

#: The loggers whose lines ``test_log_events*.py`` assert.
EVENT_LOGGERS = ("app.users", "app.auth", "app.ratelimit.login", "app.ratelimit.signup")


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the users, auth and throttle loggers, whatever the root logger's
    configuration."""
    with collected(*EVENT_LOGGERS) as lines:
        yield lines


@pytest.fixture
def mail_app(make_app: Callable[..., FastAPI]) -> FastAPI:
    """An app whose mail stays in memory (read with ``tests.support.mail.outbox``) and
    whose links point at the front end of ``FRONTEND_URL`` set here: the password-reset
    and verification tests."""
    return make_app(mail_backend="memory", frontend_url="https://app.example.com")
