"""Throttles under concurrency: attempts are counted before the password check, in Redis
(fakeredis, or the real server in ``REDIS_URL``), in process memory and across processes;
a success gives its attempt back; a stolen token cannot lock its owner out
(ADR-0028; SECURITY P10, P12, RL3).

The bursts reproduce defects found by probing the running service with many identical
requests at once (marker ``timing``: make flaky repeats them under load); the budget
accounting tests after them are sequential.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from app.core.redis import create_redis
from app.core.settings import Settings
from app.credentials.passwords import PasswordHasher, VerifyResult
from app.main import create_app
from tests.conftest import real_redis_url
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login

LOGIN = "/api/v1/auth/login"
PASSWORD = "/api/v1/auth/password"
ME = "/api/v1/users/me"
WRONG = "not the password at all"  # pragma: allowlist secret
NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret
#: Lets tests choose the client IP with X-Forwarded-For (R6).
TRUST_LOCAL_PROXY = {"trusted_proxies": ["127.0.0.1/32"]}

VerifySync = Callable[[PasswordHasher, str, str], VerifyResult]


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hash the password verifier was asked to check, in order (dummy verifies too)."""
    seen: list[str] = []
    original: VerifySync = PasswordHasher._verify_sync

    def counting(self: PasswordHasher, password: str, hashed: str) -> VerifyResult:
        seen.append(hashed)
        return original(self, password, hashed)

    monkeypatch.setattr(PasswordHasher, "_verify_sync", counting)
    return seen


@pytest.fixture(params=["redis", "memory"])
def throttled_app(
    request: pytest.FixtureRequest, make_app: Callable[..., FastAPI]
) -> Callable[..., FastAPI]:
    """An app whose throttle counts in Redis, or in process memory (no Redis).

    The hashing backlog is generous: these tests are about the throttle. With the default
    bound (8) the attempts the throttle lets through can find the backlog full and get
    503 at once (not counted, by design; test_password_hashing_backlog.py), which on
    PostgreSQL, where the lookups run concurrently, happens in most runs."""

    def _make(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {"password_hash_max_queue": 1_000, **overrides}
        return make_app(with_redis=request.param == "redis", **values)

    return _make


async def _burst(n: int, send: Callable[[int], Any]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(send(i) for i in range(n))))


# --- Concurrent guesses never outrun the throttle ---------------------------------------


@pytest.mark.slow
@pytest.mark.timing
async def test_p10_concurrent_guesses_reach_the_verifier_at_most_limit_times(
    throttled_app: Callable[..., FastAPI], verified: list[str]
) -> None:
    """SECURITY P10: 150 concurrent wrong passwords for one account, each from its own IP:
    at most LOGIN_MAX_FAILURES_PER_ACCOUNT (5) reach the password check; the rest are 429."""
    app = throttled_app(**TRUST_LOCAL_PROXY)
    async with serve(app) as client:
        await add_user(app, "alice@example.com")

        def guess(i: int) -> Any:
            return client.post(
                LOGIN,
                data={"username": "alice@example.com", "password": f"{WRONG} {i}"},
                headers={"X-Forwarded-For": f"10.0.{i // 250}.{i % 250 + 1}"},
            )

        answers = await _burst(150, guess)
    codes = [r.status_code for r in answers]
    assert len(verified) <= 5, len(verified)
    assert codes.count(401) == len(verified)
    assert codes.count(429) == 150 - len(verified)


@pytest.fixture
async def roomy_redis(redis: Redis, make_settings: Callable[..., Settings]) -> AsyncIterator[Redis]:
    """The test Redis behind a pool big enough for a burst and generous timeouts, so the
    burst is counted in Redis only (no pool exhaustion, no breaker on a loaded machine)."""
    url = real_redis_url()
    if url is None:
        from fakeredis import FakeAsyncRedis

        fake = FakeAsyncRedis(decode_responses=True, max_connections=500)
        yield fake
        await fake.aclose()
        return
    client = create_redis(
        make_settings(
            redis_url=url,
            redis_max_connections=500,
            redis_socket_timeout_seconds=5,
            redis_connect_timeout_seconds=5,
        )
    )
    assert client is not None
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.slow
@pytest.mark.timing
async def test_p10_two_processes_share_one_budget_in_redis(
    roomy_redis: Redis, make_settings: Callable[..., Settings], verified: list[str]
) -> None:
    """SECURITY P10, RL3: two app instances (two processes' worth of counters) on one
    Redis, 120 concurrent guesses for one account alternating between them: at most 5
    reach the password check in total (per-process memory alone would allow 10)."""
    settings = make_settings(
        redis_socket_timeout_seconds=5, redis_connect_timeout_seconds=5, **TRUST_LOCAL_PROXY
    )
    apps = [create_app(settings, redis=roomy_redis) for _ in range(2)]
    async with serve(apps[0]) as first, serve(apps[1]) as second:
        await add_user(apps[0], "alice@example.com")
        clients = (first, second)
        answers = await _burst(
            120,
            lambda i: clients[i % 2].post(
                LOGIN,
                data={"username": "alice@example.com", "password": f"{WRONG} {i}"},
                headers={"X-Forwarded-For": f"10.1.{i // 250}.{i % 250 + 1}"},
            ),
        )
    assert all(app.state.container.redis.breaker.state == "closed" for app in apps)
    codes = [r.status_code for r in answers]
    assert len(verified) <= 5, len(verified)
    assert codes.count(429) == 120 - len(verified)


@pytest.mark.slow
@pytest.mark.timing
async def test_p10_concurrent_guesses_from_one_ip_are_bounded_by_the_ip_budget(
    throttled_app: Callable[..., FastAPI], verified: list[str]
) -> None:
    """SECURITY P10: 120 concurrent logins for 120 unknown accounts from one IP: at most
    LOGIN_MAX_FAILURES_PER_IP (20) reach the (dummy) password check."""
    app = throttled_app()
    async with serve(app) as client:
        answers = await _burst(
            120,
            lambda i: client.post(LOGIN, data={"username": f"u{i}@example.com", "password": WRONG}),
        )
    codes = [r.status_code for r in answers]
    assert len(verified) <= 20, len(verified)
    assert codes.count(401) == len(verified)
    assert codes.count(429) == 120 - len(verified)


@pytest.mark.slow
@pytest.mark.timing
async def test_p10_concurrent_wrong_current_passwords_reach_the_verifier_at_most_limit_times(
    throttled_app: Callable[..., FastAPI], verified: list[str]
) -> None:
    """SECURITY P10/P12: 100 concurrent password changes with wrong current passwords on one
    token: at most 5 are checked, the rest are 429, and the password is unchanged."""
    app = throttled_app()
    async with serve(app) as client:
        await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        verified.clear()
        answers = await _burst(
            100,
            lambda i: client.post(
                PASSWORD,
                json={"current_password": f"{WRONG} {i}", "new_password": NEW_PASSWORD},
                headers=bearer(token),
            ),
        )
        assert (await client.get(ME, headers=bearer(token))).status_code == 200
    codes = [r.status_code for r in answers]
    assert len(verified) <= 5, len(verified)
    assert codes.count(403) == len(verified)
    assert codes.count(429) == 100 - len(verified)


# --- The budgets' accounting ------------------------------------------------------------


async def test_p10_a_stolen_token_cannot_block_the_owners_password_change(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY P10/T9: a thief spends the wrong-current-password budget of the token they
    hold (429 after 5); the owner, logging in afresh, can still change the password, which
    is what revokes the stolen token."""
    app = make_app()
    async with serve(app) as client:
        await add_user(app, "alice@example.com")
        stolen = await login(client, "alice@example.com")
        guesses = [
            await client.post(
                PASSWORD,
                json={"current_password": f"{WRONG} {i}", "new_password": NEW_PASSWORD},
                headers=bearer(stolen),
            )
            for i in range(6)
        ]
        assert [g.status_code for g in guesses] == [403] * 5 + [429]
        owner = await login(client, "alice@example.com")
        change = await client.post(
            PASSWORD,
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(owner),
        )
        assert change.status_code == 204, change.text
        assert (await client.get(ME, headers=bearer(stolen))).status_code == 401


async def test_p10_a_success_forgets_the_account_and_costs_the_ip_nothing(
    throttled_app: Callable[..., FastAPI],
) -> None:
    """SECURITY P10: a correct password forgets the account's failures, and the attempt it
    made is given back to the IP: (4 failures + 1 success) x 2 locks nothing (account
    budget 5), and leaves the IP exactly 2 of its 10."""
    app = throttled_app(login_max_failures_per_ip=10)
    async with serve(app) as client:
        await add_user(app, "alice@example.com")
        wrong = {"username": "alice@example.com", "password": WRONG}
        for _ in range(2):
            assert [(await client.post(LOGIN, data=wrong)).status_code for _ in range(4)] == [
                401
            ] * 4
            await login(client, "alice@example.com")
        unknown = {"username": "x@example.com", "password": WRONG}
        codes = [(await client.post(LOGIN, data=unknown)).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
