"""Login brute-force protection (ADR-0028; SECURITY P10, RL1).

Failed logins are limited per account (across IPs) and per IP (across accounts), more
strictly than the general limit, with Redis up (fakeredis or ``REDIS_URL``) and with
Redis down (it degrades to an in-process limiter, never to no limit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from app.core.redis import create_redis
from app.core.settings import Settings
from app.credentials.passwords import HashingBusy, PasswordHasher
from app.main import create_app
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user
from tests.support.processes import closed_port

LOGIN = "/api/v1/auth/login"
WRONG = "wrong password entirely"  # pragma: allowlist secret
LIMITS = {
    "login_max_failures_per_account": 3,
    "login_max_failures_per_ip": 5,
    "login_window_seconds": 600,
    "trusted_proxies": ["127.0.0.1/32"],  # lets the tests vary the client IP (R6)
}


@pytest.fixture(params=["redis_up", "redis_down"])
async def app_and_client(
    request: pytest.FixtureRequest,
    make_app: Callable[..., FastAPI],
    make_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    if request.param == "redis_up":
        app = make_app(**LIMITS)
        async with serve(app) as client:
            yield app, client
        return
    settings = make_settings(redis_url=f"redis://127.0.0.1:{closed_port()}/0", **LIMITS)
    broken = create_redis(settings)
    assert broken is not None
    app = create_app(settings, redis=broken)
    try:
        async with serve(app) as client:
            yield app, client
    finally:
        await broken.aclose()


async def _login(client: httpx.AsyncClient, email: str, password: str, ip: str) -> httpx.Response:
    return await client.post(
        LOGIN,
        data={"username": email, "password": password},
        headers={"X-Forwarded-For": ip},
    )


async def test_p10_account_is_locked_after_n_failures_from_any_ips(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """SECURITY P10: the 4th failure for one account, each from a new IP, is a 429 with
    Retry-After, and then even the right password waits."""
    app, client = app_and_client
    await add_user(app, "victim@example.com")
    codes = [
        (await _login(client, "victim@example.com", WRONG, f"198.51.100.{i}")).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 401]
    refused = await _login(client, "VICTIM@example.com", WRONG, "198.51.100.99")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 600
    right = await _login(client, "victim@example.com", DEFAULT_PASSWORD, "198.51.100.100")
    assert right.status_code == 429
    # Another account is not affected.
    await add_user(app, "other@example.com")
    ok = await _login(client, "other@example.com", DEFAULT_PASSWORD, "198.51.100.101")
    assert ok.status_code == 200


async def test_p10_ip_is_blocked_after_n_failures_across_accounts(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """SECURITY P10: the 6th failure from one IP, each for another account (existing or
    not), is a 429 with Retry-After; other IPs are unaffected."""
    app, client = app_and_client
    await add_user(app, "real@example.com")
    ip = "203.0.113.5"
    codes = [
        (await _login(client, f"user{i}@example.com", WRONG, ip)).status_code for i in range(5)
    ]
    assert codes == [401] * 5
    refused = await _login(client, "real@example.com", DEFAULT_PASSWORD, ip)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    elsewhere = await _login(client, "real@example.com", DEFAULT_PASSWORD, "203.0.113.6")
    assert elsewhere.status_code == 200


async def test_success_forgets_the_account_failures(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """A correct login resets the account's counter (not the IP's)."""
    app, client = app_and_client
    await add_user(app, "me@example.com")
    for _ in range(2):
        assert (await _login(client, "me@example.com", WRONG, "192.0.2.1")).status_code == 401
    assert (
        await _login(client, "me@example.com", DEFAULT_PASSWORD, "192.0.2.1")
    ).status_code == 200
    for _ in range(2):
        assert (await _login(client, "me@example.com", WRONG, "192.0.2.2")).status_code == 401
    assert (
        await _login(client, "me@example.com", DEFAULT_PASSWORD, "192.0.2.2")
    ).status_code == 200


async def test_login_throttle_is_stricter_than_the_general_limit() -> None:
    """SECURITY P10: the defaults allow fewer failed logins than general requests."""
    settings = Settings(_env_file=None)
    assert settings.login_throttle_enabled
    assert settings.login_max_failures_per_account < settings.login_max_failures_per_ip
    assert settings.login_max_failures_per_ip < settings.rate_limit_requests
    assert settings.login_window_seconds >= settings.rate_limit_window_seconds


async def test_legacy_login_alias_shares_the_counters(
    make_app: Callable[..., FastAPI],
) -> None:
    """The unversioned /auth/login counts against the same budget."""
    app = make_app(**LIMITS)
    async with serve(app) as client:
        for path in ("/auth/login", LOGIN, "/auth/login"):
            response = await client.post(
                path, data={"username": "x@example.com", "password": WRONG}
            )
            assert response.status_code == 401
        response = await client.post(LOGIN, data={"username": "x@example.com", "password": WRONG})
        assert response.status_code == 429


async def test_p10_an_attempt_that_reached_no_verdict_costs_nothing(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SECURITY P10, P11: a login the server could not check (the hashing backlog full:
    503) proves nothing about the password, so it is given back to the account *and* the
    IP budget: after six of them, more than either budget, the account still has its
    three failures and the IP its five."""
    app, client = app_and_client
    await add_user(app, "busy@example.com")
    ip = "192.0.2.7"

    async def busy(*_: object) -> None:
        raise HashingBusy

    with monkeypatch.context() as patched:
        patched.setattr(PasswordHasher, "verify", busy)
        unchecked = [await _login(client, "busy@example.com", WRONG, ip) for _ in range(6)]
    assert {r.status_code for r in unchecked} == {503}
    account = [(await _login(client, "busy@example.com", WRONG, ip)).status_code for _ in range(4)]
    assert account == [401, 401, 401, 429]
    others = [(await _login(client, f"o{i}@example.com", WRONG, ip)).status_code for i in range(3)]
    assert others == [401, 401, 429]
