"""Credentials under concurrency: throttles count before they verify, password writes are
compare-and-set, token versions only go up, and every user write empties the cache
(ADR-0018, ADR-0025, ADR-0028; SECURITY P10, T9, A7).

Each test reproduces a defect found by probing the running service: many identical
requests at once, or two flows racing on one row. The throttle tests run on Redis
(fakeredis, or the real server in ``REDIS_URL``) and on the in-process fallback.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import bcrypt
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from app.auth.service import CHANGED_CONCURRENTLY
from app.core.redis import create_redis
from app.core.settings import Settings
from app.credentials.passwords import PasswordHasher, VerifyResult
from app.main import create_app
from app.users.models import User
from app.users.repository import UserRepository
from app.users.service import UserService
from tests.conftest import real_redis_url
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login, session_token

LOGIN = "/api/v1/auth/login"
PASSWORD = "/api/v1/auth/password"
ME = "/api/v1/users/me"
WRONG = "not the password at all"  # pragma: allowlist secret
NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret
#: Lets tests choose the client IP with X-Forwarded-For (R6).
TRUST_LOCAL_PROXY = {"trusted_proxies": ["127.0.0.1/32"]}

#: Bursts of concurrent requests and races between flows: make flaky repeats them under load.
pytestmark = [pytest.mark.slow, pytest.mark.timing]

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


# --- 1. Concurrent guesses never outrun the throttle ------------------------------------


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


# --- 2 and 3. Password writes are compare-and-set; token versions only go up ------------


def _legacy_hash(password: str = DEFAULT_PASSWORD) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture
def hold_first_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first password check, once done, blocks in its worker thread until ``release``
    is set; ``holding`` is set when it has got there."""
    holding, release = threading.Event(), threading.Event()
    calls: list[str] = []
    original: VerifySync = PasswordHasher._verify_sync

    def held(self: PasswordHasher, password: str, hashed: str) -> VerifyResult:
        calls.append(hashed)
        first = len(calls) == 1  # decided on entry: later calls may append meanwhile
        result = original(self, password, hashed)
        if first:
            holding.set()
            release.wait(timeout=30)
        return result

    monkeypatch.setattr(PasswordHasher, "_verify_sync", held)
    yield holding, release
    release.set()


async def _user(app: FastAPI, user_id: uuid.UUID) -> User:
    async with app.state.container.database.sessionmaker() as session:
        user = await UserRepository(session).get(user_id)
        assert user is not None
        return user


async def test_t9_a_login_rehash_never_undoes_a_password_change(
    make_app: Callable[..., FastAPI], hold_first_verify: tuple[threading.Event, threading.Event]
) -> None:
    """SECURITY T9: a login that verified the old (legacy bcrypt) password just before a
    change must not write its upgraded hash of the old password over the new one, and the
    token it was issued does not survive the change."""
    holding, release = hold_first_verify
    app = make_app(password_hash_max_concurrency=2)
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com", hashed_password=_legacy_hash())
        token = await session_token(app, alice)
        racing_login = asyncio.create_task(
            client.post(LOGIN, data={"username": "alice@example.com", "password": DEFAULT_PASSWORD})
        )
        # The login has verified the old password and holds it (bounded wait).
        assert await asyncio.to_thread(holding.wait, 30)
        change = await client.post(
            PASSWORD,
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(token),
        )
        assert change.status_code == 204, change.text
        release.set()
        raced = await racing_login
        if raced.status_code == 200:  # issued, but at the version before the change
            stale = raced.json()["access_token"]
            assert (await client.get(ME, headers=bearer(stale))).status_code == 401
        old = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
        assert (await client.post(LOGIN, data=old)).status_code == 401
        await login(client, "alice@example.com", NEW_PASSWORD)


@pytest.fixture
def barrier_on_verify(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``arm(n)``: the next ``n`` password checks wait for each other before returning, so
    ``n`` requests have all read the same stored hash before any of them writes. Later
    checks run as usual."""

    def arm(n: int) -> None:
        barrier = threading.Barrier(n, timeout=30)
        entered: list[str] = []
        original: VerifySync = PasswordHasher._verify_sync

        def gathered(self: PasswordHasher, password: str, hashed: str) -> VerifyResult:
            entered.append(hashed)
            gate = len(entered) <= n
            result = original(self, password, hashed)
            if gate:
                barrier.wait()
            return result

        monkeypatch.setattr(PasswordHasher, "_verify_sync", gathered)

    return arm


async def test_t9_five_concurrent_changes_one_wins(
    make_app: Callable[..., FastAPI], barrier_on_verify: Callable[[int], None]
) -> None:
    """SECURITY T9: five concurrent changes from the same current password: exactly one
    204, four 409 envelopes; only the winner's new password logs in; the token version went
    up exactly once and the token they used is revoked."""
    app = make_app(password_hash_max_concurrency=5)
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        barrier_on_verify(5)
        answers = await _burst(
            5,
            lambda i: client.post(
                PASSWORD,
                json={"current_password": DEFAULT_PASSWORD, "new_password": f"{NEW_PASSWORD} {i}"},
                headers=bearer(token),
            ),
        )
        codes = [r.status_code for r in answers]
        assert sorted(codes) == [204, 409, 409, 409, 409], codes
        for refused in (r for r in answers if r.status_code == 409):
            error = refused.json()["error"]
            assert error["code"] == "conflict"
            assert error["message"] == CHANGED_CONCURRENTLY
        assert (await _user(app, alice)).token_version == 1
        assert (await client.get(ME, headers=bearer(token))).status_code == 401
        candidates = [f"{NEW_PASSWORD} {i}" for i in range(5)]
        winner = candidates[codes.index(204)]
        for candidate in candidates:
            data = {"username": "alice@example.com", "password": candidate}
            expected = 200 if candidate == winner else 401
            assert (await client.post(LOGIN, data=data)).status_code == expected


async def test_t9_a7_a_deactivation_racing_a_change_revokes_the_newer_token(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY T9/A7: an admin deactivation that read the user *before* a password change
    committed still revokes the token issued *after* it (token versions are incremented in
    SQL, never written back from a stale read), and reactivation does not revive it."""
    app = make_app()
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        async with app.state.container.database.sessionmaker() as admin_session:
            stale = await UserRepository(admin_session).get(alice)  # version 0
            assert stale is not None
            change = await client.post(
                PASSWORD,
                json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
                headers=bearer(token),
            )
            assert change.status_code == 204
            fresh = await login(client, "alice@example.com", NEW_PASSWORD)  # version 1
            await UserService(admin_session, None).set_active(stale, False)  # type: ignore[arg-type]
            await admin_session.commit()
        async with app.state.container.database.sessionmaker() as admin_session:
            service = UserService(admin_session, None)  # type: ignore[arg-type]
            user = await UserRepository(admin_session).get(alice)
            assert user is not None
            await service.set_active(user, True)
            await admin_session.commit()
        assert (await _user(app, alice)).token_version == 2
        assert (await client.get(ME, headers=bearer(fresh))).status_code == 401


# --- 4. A stolen token cannot lock its owner out ----------------------------------------


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


# --- 5. Every write to a user empties its cache entry -----------------------------------


async def test_a_password_change_invalidates_the_cached_user(
    make_app: Callable[..., FastAPI],
) -> None:
    """ADR-0025: after a password change the cached payload is gone: the next read shows
    the new ``updated_at`` (it used to serve the old one until the TTL)."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=300)
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        url = f"/api/v1/users/{alice}"
        before = (await client.get(url, headers=bearer(token))).json()
        assert (await client.get(url, headers=bearer(token))).json() == before  # cached
        change = await client.post(
            PASSWORD,
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(token),
        )
        assert change.status_code == 204
        fresh = await login(client, "alice@example.com", NEW_PASSWORD)
        after = (await client.get(url, headers=bearer(fresh))).json()
    stored = await _user(app, alice)
    assert after["updated_at"] != before["updated_at"]
    assert after["updated_at"] == stored.updated_at.isoformat().replace("+00:00", "Z")


async def test_a_login_rehash_invalidates_the_cached_user(
    make_app: Callable[..., FastAPI],
) -> None:
    """ADR-0025: the hash upgrade at login is a write to the user too: the cached payload
    is dropped and the next read shows the new ``updated_at``."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=300)
    async with serve(app) as client:
        await add_user(app, "admin@example.com", is_superuser=True)
        alice = await add_user(app, "alice@example.com", hashed_password=_legacy_hash())
        admin = await login(client, "admin@example.com")
        url = f"/api/v1/users/{alice}"
        before = (await client.get(url, headers=bearer(admin))).json()
        await login(client, "alice@example.com")  # upgrades bcrypt -> argon2id
        after = (await client.get(url, headers=bearer(admin))).json()
    assert after["updated_at"] != before["updated_at"]
