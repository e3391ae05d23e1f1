"""Password hashing at login (SECURITY P3, P4, P11; ADR-0017): a legacy bcrypt user with
an over-72-byte password gets a plain 401, a bcrypt hash is upgraded to argon2id with the
ADR parameters, the suite itself hashes cheaply, and hashing never stalls the event loop
(a live uvicorn answers /health during a login burst). The login responses are in
tests/integration/test_auth_login.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import bcrypt
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from app.auth.service import INVALID_CREDENTIALS
from tests.fixtures.auth import (
    CHEAP_PARAMS,
    DEFAULT_PASSWORD,
    add_user,
    login,
    login_form,
    stored_hash,
)
from tests.support.processes import free_port

LOGIN = "/api/v1/auth/login"


@pytest.mark.parametrize("password", ["x" * 73, "é" * 40, "long passphrase " * 5])
async def test_p3_legacy_bcrypt_user_with_over_72_byte_password_gets_401(
    client, app, password: str
) -> None:
    """SECURITY P3: bcrypt 5 raises for > 72 bytes; that is a plain 401, never a 500,
    and no truncated prefix is accepted."""
    legacy = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    await add_user(app, "old@example.com", hashed_password=legacy)
    response = await client.post(LOGIN, data=login_form("old@example.com", password))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == INVALID_CREDENTIALS


async def test_p4_bcrypt_hash_upgraded_to_argon2id_after_login(client, app) -> None:
    """SECURITY P4: a successful login with a bcrypt hash stores an argon2id hash."""
    legacy = bcrypt.hashpw(DEFAULT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await add_user(app, "old@example.com", hashed_password=legacy)
    failed = await client.post(LOGIN, data=login_form("old@example.com", "wrong password!"))
    assert failed.status_code == 401
    assert await stored_hash(app, "old@example.com") == legacy
    await login(client, "old@example.com")
    upgraded = await stored_hash(app, "old@example.com")
    assert upgraded.startswith("$argon2id$")
    await login(client, "old@example.com")  # still works with the new hash
    assert await stored_hash(app, "old@example.com") == upgraded


async def test_p4_bcrypt_upgrade_uses_the_adr_parameters(
    client, app, real_password_hashing
) -> None:
    """SECURITY P4: with the real context the upgraded hash has the ADR-0017 parameters."""
    legacy = bcrypt.hashpw(DEFAULT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await add_user(app, "old@example.com", hashed_password=legacy)
    await login(client, "old@example.com")
    p = real_password_hashing
    assert (await stored_hash(app, "old@example.com")).startswith(
        f"$argon2id$v=19$m={p.memory_kib},t={p.time_cost},p={p.parallelism}$"
    )


async def test_the_harness_hashes_cheaply_unless_real_hashing_is_requested(client, app) -> None:
    """The suite's cheap hashing reaches the app itself (tests/fixtures/auth.py): a sign-up
    through the API stores a hash with ``CHEAP_PARAMS``, not the ADR-0017 cost that
    ``test_p4_bcrypt_upgrade_uses_the_adr_parameters`` opts into."""
    response = await client.post(
        "/api/v1/users", json={"email": "cheap@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201
    p = CHEAP_PARAMS
    assert (await stored_hash(app, "cheap@example.com")).startswith(
        f"$argon2id$v=19$m={p.memory_kib},t={p.time_cost},p={p.parallelism}$"
    )


@contextmanager
def _live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):  # bounded wait for startup
            if server.started:
                break
            time.sleep(0.01)
        else:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.timing
async def test_p11_health_completes_during_a_login_burst(
    make_app, real_password_hashing, monkeypatch
) -> None:
    """SECURITY P11: hashing never stalls the event loop. Against a real uvicorn, a burst
    of 8 logins (real ADR-0017 parameters, bounded concurrency) is sent and the first
    verify is held open until /health has answered. An ordering, not a wall-clock bound:
    with hashing on the event loop the held verify would block the loop, /health could not
    answer, and the verify would finish first (after its bounded hold) -- the test fails."""
    from app.credentials.passwords import PasswordHasher

    events: list[str] = []
    hashing = threading.Event()  # a verify is running in its worker thread
    release = threading.Event()  # set once /health has answered
    original = PasswordHasher._verify_sync

    def verify(self, password, hashed):
        hashing.set()
        release.wait(timeout=10)  # bounded: only reached in full when the loop is blocked
        result = original(self, password, hashed)
        events.append("verify")
        return result

    monkeypatch.setattr(PasswordHasher, "_verify_sync", verify)
    # No shared Redis client: the server runs its own event loop in another thread. The
    # 8 concurrent logins are for one account: attempts are counted before the password
    # check, so the account's budget must exceed the burst (ADR-0028).
    app = make_app(with_redis=False, login_max_failures_per_account=10)
    with _live_server(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            signup = await client.post(
                "/api/v1/users", json={"email": "alice@example.com", "password": DEFAULT_PASSWORD}
            )
            assert signup.status_code == 201

            async def one_login() -> None:
                response = await client.post(
                    LOGIN, data=login_form("alice@example.com", DEFAULT_PASSWORD)
                )
                assert response.status_code == 200
                events.append("login")

            tasks = [asyncio.create_task(one_login()) for _ in range(8)]
            try:
                for _ in range(2000):  # wait until a verify is hashing (bounded)
                    if hashing.is_set():
                        break
                    await asyncio.sleep(0.005)
                else:
                    pytest.fail("no login reached the password hasher")
                health = await client.get("/health")
                events.append("health")
            finally:
                release.set()
            await asyncio.gather(*tasks)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert events.index("health") == 0, events
    assert events.count("login") == 8, events
