"""Login over HTTP (SECURITY P2, P3, P4, P7, P8, P11, P13, E3, E4; ADR-0017)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import bcrypt
import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from app.auth.service import INVALID_CREDENTIALS
from app.core.logging import ContextFilter
from app.users.models import User
from tests.fixtures.auth import CHEAP_PARAMS, DEFAULT_PASSWORD, add_user, bearer, login
from tests.support.processes import free_port

LOGIN = "/api/v1/auth/login"


async def _stored_hash(app: FastAPI, email: str) -> str:
    async with app.state.container.database.sessionmaker() as session:
        return str(await session.scalar(sa.select(User.hashed_password).where(User.email == email)))


def _form(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


@pytest.mark.parametrize("path", [LOGIN, "/auth/login"])
async def test_login_returns_bearer_token_on_v1_and_legacy(client, app, path: str) -> None:
    """OAuth2 password flow (form-encoded, username = email, any case) -> token response."""
    await add_user(app, "alice@example.com")
    response = await client.post(path, data=_form("Alice@Example.com", DEFAULT_PASSWORD))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60  # JWT_ACCESS_TOKEN_EXPIRES_MINUTES (ADR-0034)
    assert response.headers["cache-control"] == "no-store"
    me = await client.get("/api/v1/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200


async def test_p7_same_401_for_unknown_email_wrong_password_inactive_user(client, app) -> None:
    """SECURITY P7: identical status, body (bar request id) and headers for all three."""
    await add_user(app, "alice@example.com")
    await add_user(app, "off@example.com", is_active=False)
    attempts = [
        _form("nobody@example.com", DEFAULT_PASSWORD),
        _form("alice@example.com", "wrong password!"),
        _form("off@example.com", DEFAULT_PASSWORD),
    ]
    bodies = []
    for data in attempts:
        response = await client.post(LOGIN, data=data)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["request_id"] == response.headers["x-request-id"]
        bodies.append({**error, "request_id": None})
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["message"] == INVALID_CREDENTIALS


async def test_p8_unknown_email_still_runs_a_verify(client, app, monkeypatch) -> None:
    """SECURITY P8: an unknown email costs one (dummy) verify, like a wrong password."""
    from app.credentials.passwords import PasswordHasher

    calls: list[str] = []
    original = PasswordHasher._verify_sync

    def spy(self, password, hashed):
        calls.append(hashed)
        return original(self, password, hashed)

    monkeypatch.setattr(PasswordHasher, "_verify_sync", spy)
    await add_user(app, "alice@example.com")
    await client.post(LOGIN, data=_form("nobody@example.com", "whatever pw"))
    await client.post(LOGIN, data=_form("alice@example.com", "whatever pw"))
    assert len(calls) == 2
    assert all(h.startswith("$argon2id$") for h in calls)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "", "password": "x"},
        {"username": "alice@example.com", "password": ""},
        {"username": "alice@example.com"},
        {"username": "a" * 300, "password": "x"},
        {"username": "alice@example.com", "password": "p" * 129},
        {"username": "alice@example.com", "password": "x", "grant_type": "client_credentials"},
    ],
    ids=["empty", "empty-user", "empty-pass", "no-pass", "long-user", "long-pass", "grant"],
)
async def test_malformed_login_is_422_never_500(client, app, data) -> None:
    """SECURITY P2, R2: empty, missing or over-long fields -> 422 envelope, never 500."""
    await add_user(app, "alice@example.com")
    response = await client.post(LOGIN, data=data)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert "p" * 129 not in response.text


async def test_json_login_body_is_422_not_500(client) -> None:
    """Login is form-encoded; a JSON body is a 422 envelope."""
    response = await client.post(LOGIN, json=_form("a@example.com", "x"))
    assert response.status_code == 422


@pytest.mark.parametrize("password", ["x" * 73, "é" * 40, "long passphrase " * 5])
async def test_p3_legacy_bcrypt_user_with_over_72_byte_password_gets_401(
    client, app, password: str
) -> None:
    """SECURITY P3: bcrypt 5 raises for > 72 bytes; that is a plain 401, never a 500,
    and no truncated prefix is accepted."""
    legacy = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    await add_user(app, "old@example.com", hashed_password=legacy)
    response = await client.post(LOGIN, data=_form("old@example.com", password))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == INVALID_CREDENTIALS


async def test_p4_bcrypt_hash_upgraded_to_argon2id_after_login(client, app) -> None:
    """SECURITY P4: a successful login with a bcrypt hash stores an argon2id hash."""
    legacy = bcrypt.hashpw(DEFAULT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await add_user(app, "old@example.com", hashed_password=legacy)
    failed = await client.post(LOGIN, data=_form("old@example.com", "wrong password!"))
    assert failed.status_code == 401
    assert await _stored_hash(app, "old@example.com") == legacy
    await login(client, "old@example.com")
    upgraded = await _stored_hash(app, "old@example.com")
    assert upgraded.startswith("$argon2id$")
    await login(client, "old@example.com")  # still works with the new hash
    assert await _stored_hash(app, "old@example.com") == upgraded


async def test_p4_bcrypt_upgrade_uses_the_adr_parameters(
    client, app, real_password_hashing
) -> None:
    """SECURITY P4: with the real context the upgraded hash has the ADR-0017 parameters."""
    legacy = bcrypt.hashpw(DEFAULT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await add_user(app, "old@example.com", hashed_password=legacy)
    await login(client, "old@example.com")
    p = real_password_hashing
    assert (await _stored_hash(app, "old@example.com")).startswith(
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
    assert (await _stored_hash(app, "cheap@example.com")).startswith(
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
                    LOGIN, data=_form("alice@example.com", DEFAULT_PASSWORD)
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


async def test_p13_no_default_admin_after_migrations(client, app) -> None:
    """SECURITY P13: a freshly migrated database has no users, hence no default admin;
    no setting carries admin credentials."""
    async with app.state.container.database.sessionmaker() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    names = set(app.state.container.settings.model_dump())
    assert not {n for n in names if "admin" in n or "superuser" in n}
    for guess in ("admin", "admin@example.com", "root@example.com"):
        for password in ("admin", "password", "changeme", "admin123"):
            response = await client.post(LOGIN, data=_form(guess, password))
            assert response.status_code == 401


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter("test", "test"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def auth_logs():
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("app.auth", "app.users")]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler.records
    for lg in loggers:
        lg.removeHandler(handler)


async def test_e4_login_and_authorization_events_are_logged(client, app, auth_logs) -> None:
    """SECURITY E4: login success/failure and authorization failures are logged with user
    (id or email digest), outcome and the request id."""
    alice = await add_user(app, "alice@example.com")
    bob = await add_user(app, "bob@example.com")
    ok = await client.post(LOGIN, data=_form("alice@example.com", DEFAULT_PASSWORD))
    bad = await client.post(LOGIN, data=_form("alice@example.com", "wrong password!"))
    unknown = await client.post(LOGIN, data=_form("ghost@example.com", "wrong password!"))
    token = ok.json()["access_token"]
    denied = await client.get(f"/api/v1/users/{bob}", headers=bearer(token))
    no_token = await client.get("/api/v1/users/me")

    def find(event: str, outcome: str) -> logging.LogRecord:
        matches = [
            r
            for r in auth_logs
            if getattr(r, "event", None) == event and getattr(r, "outcome", None) == outcome
        ]
        assert matches, (event, outcome, [vars(r) for r in auth_logs])
        return matches[-1]

    success = find("auth.login", "success")
    assert success.user_id == str(alice)
    assert success.request_id == ok.headers["x-request-id"]
    wrong = find("auth.login", "wrong_password")
    assert wrong.user_id == str(alice)
    assert wrong.request_id == bad.headers["x-request-id"]
    ghost = find("auth.login", "unknown_email")
    assert ghost.email_fp
    assert "ghost" not in ghost.email_fp
    assert ghost.request_id == unknown.headers["x-request-id"]
    authz = find("authz.user_read", "denied")
    assert (authz.user_id, authz.target_id) == (str(alice), str(bob))
    assert authz.request_id == denied.headers["x-request-id"]
    assert find("auth.token", "missing_token").request_id == no_token.headers["x-request-id"]


async def test_e3_no_credential_token_or_hash_in_logs(client, app, auth_logs, caplog) -> None:
    """SECURITY E3: passwords, tokens and hashes never appear in any log record."""
    caplog.set_level(logging.DEBUG)
    await add_user(app, "alice@example.com")
    stored = await _stored_hash(app, "alice@example.com")
    wrong = "Wrong-Password-Value-42"  # pragma: allowlist secret
    token = await login(client, "alice@example.com")
    await client.post(LOGIN, data=_form("alice@example.com", wrong))
    await client.post(LOGIN, data=_form("alice@example.com", "p" * 200))
    await client.post("/api/v1/users", json={"email": "b@example.com", "password": wrong})
    await client.get("/api/v1/users/me", headers=bearer(token))
    await client.get("/api/v1/users/me", headers=bearer(token + "x"))
    records = caplog.records + auth_logs
    assert records
    for record in records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for secret in (DEFAULT_PASSWORD, wrong, "p" * 200, token, stored, "$argon2"):
            assert secret not in text, (secret, record.name, record.getMessage())
