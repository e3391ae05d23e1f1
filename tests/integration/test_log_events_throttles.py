"""The log lines and 429 bodies of the throttles the ``app.ratelimit`` CONTRACT documents
(ADR-0004, ADR-0028; SECURITY P10): who the login throttle refused (``by`` subject, then
``by`` ip), the sign-up throttle's line, and the ``details`` and ``Retry-After`` of each
429 envelope, the API rate limit's included. The users and auth events are in
tests/integration/test_log_events.py. Written to kill the surviving mutants
``make mutation`` listed (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI

from app.ratelimit.login_throttle import TOO_MANY_ATTEMPTS
from app.ratelimit.signup_throttle import TOO_MANY_SIGNUPS
from tests.fixtures.app import serve
from tests.fixtures.auth import add_user

LOGIN = "/api/v1/auth/login"
SIGNUP = "/api/v1/users"
WRONG = "wrong password entirely"  # pragma: allowlist secret


def _details(response) -> dict:
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) == error["details"]["retry_after"] > 0
    return {"message": error["message"], **error["details"]}


async def test_login_throttle_logs_who_was_throttled_and_answers_the_429_details(
    make_app: Callable[..., FastAPI], records: list[logging.LogRecord]
) -> None:
    """``auth.login`` throttled ``by`` subject (one account from many IPs), then ``by`` ip
    (one IP across accounts), on the login throttle's logger; each 429 says the budget's
    ``retry_after`` in ``details`` and ``Retry-After``."""
    app = make_app(
        login_max_failures_per_account=2,
        login_max_failures_per_ip=3,
        login_window_seconds=600,
        trusted_proxies=["127.0.0.1/32"],
    )

    async def attempt(email: str, ip: str):
        form = {"username": email, "password": WRONG}
        return await client.post(LOGIN, data=form, headers={"X-Forwarded-For": ip})

    async with serve(app) as client:
        await add_user(app, "victim@example.com")
        by_subject = [await attempt("victim@example.com", f"198.51.100.{i}") for i in range(3)]
        by_ip = [await attempt(f"x{i}@example.com", "203.0.113.7") for i in range(4)]
    assert [r.status_code for r in by_subject] == [401, 401, 429]
    assert [r.status_code for r in by_ip] == [401, 401, 401, 429]
    for refused in (by_subject[-1], by_ip[-1]):
        details = _details(refused)
        assert details["message"] == TOO_MANY_ATTEMPTS
        assert 1 <= details.pop("retry_after") <= 600
        assert details == {"message": TOO_MANY_ATTEMPTS}
    throttled = [r for r in records if getattr(r, "outcome", None) == "throttled"]
    assert [(r.name, r.getMessage(), r.event, r.by) for r in throttled] == [
        ("app.ratelimit.login", "attempts throttled", "auth.login", "subject"),
        ("app.ratelimit.login", "attempts throttled", "auth.login", "ip"),
    ]


async def test_signup_throttle_logs_and_answers_the_429_details(
    make_app: Callable[..., FastAPI], records: list[logging.LogRecord]
) -> None:
    """``users.create`` throttled on the sign-up throttle's logger; the 429 names the sign-up
    budget and its ``retry_after``. The budget is per IP: another address still signs up."""
    app = make_app(signup_max_per_ip=1, signup_window_seconds=600)
    async with serve(app) as client:
        first = await client.post(SIGNUP, json={"email": "a@example.com", "password": WRONG})
        second = await client.post(SIGNUP, json={"email": "b@example.com", "password": WRONG})
    assert first.status_code == 201
    details = _details(second)
    assert 1 <= details.pop("retry_after") <= 600
    assert details == {"message": TOO_MANY_SIGNUPS}
    line = [r for r in records if r.name == "app.ratelimit.signup"]
    assert [(r.getMessage(), r.event, r.outcome) for r in line] == [
        ("sign-ups throttled", "users.create", "throttled")
    ]


async def test_rate_limit_429_details_name_the_limit(make_app: Callable[..., FastAPI]) -> None:
    """The API rate limit's 429 envelope: ``details`` = the limit and ``retry_after``."""
    app = make_app(rate_limit_enabled=True, rate_limit_requests=1, rate_limit_window_seconds=60)
    async with serve(app) as client:
        answers = [await client.get("/api/v1/users/me") for _ in range(2)]
    details = _details(answers[-1])
    assert details.pop("limit") == 1
    assert 1 <= details.pop("retry_after") <= 60
    assert set(details) == {"message"}
