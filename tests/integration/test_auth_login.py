"""Login over HTTP (SECURITY P2, P7, P8, P13, E3, E4; ADR-0017, ADR-0004): the token
response on both paths, one 401 for every failure, malformed forms as 422, no default
admin, and the log lines of each attempt (never a password, token or hash). How
passwords are hashed and upgraded at login is in
tests/integration/test_auth_login_hashing.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.auth.service import INVALID_CREDENTIALS
from app.core.logging import ContextFilter
from app.users.models import User
from tests.fixtures.auth import (
    DEFAULT_PASSWORD,
    add_user,
    bearer,
    login,
    login_form,
    stored_hash,
)
from tests.fixtures.logs import collected

LOGIN = "/api/v1/auth/login"


@pytest.mark.parametrize("path", [LOGIN, "/auth/login"])
async def test_login_returns_bearer_token_on_v1_and_legacy(client, app, path: str) -> None:
    """OAuth2 password flow (form-encoded, username = email, any case) -> token response."""
    await add_user(app, "alice@example.com")
    response = await client.post(path, data=login_form("Alice@Example.com", DEFAULT_PASSWORD))
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
        login_form("nobody@example.com", DEFAULT_PASSWORD),
        login_form("alice@example.com", "wrong password!"),
        login_form("off@example.com", DEFAULT_PASSWORD),
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
    await client.post(LOGIN, data=login_form("nobody@example.com", "whatever pw"))
    await client.post(LOGIN, data=login_form("alice@example.com", "whatever pw"))
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
    response = await client.post(LOGIN, json=login_form("a@example.com", "x"))
    assert response.status_code == 422


async def test_p13_no_default_admin_after_migrations(client, app) -> None:
    """SECURITY P13: a freshly migrated database has no users, hence no default admin;
    no setting carries admin credentials."""
    async with app.state.container.database.sessionmaker() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    names = set(app.state.container.settings.model_dump())
    assert not {n for n in names if "admin" in n or "superuser" in n}
    for guess in ("admin", "admin@example.com", "root@example.com"):
        for password in ("admin", "password", "changeme", "admin123"):
            response = await client.post(LOGIN, data=login_form(guess, password))
            assert response.status_code == 401


@pytest.fixture
def auth_logs() -> Iterator[list[logging.LogRecord]]:
    with collected("app.auth", "app.users", filters=(ContextFilter("test", "test"),)) as records:
        yield records


async def test_e4_login_and_authorization_events_are_logged(client, app, auth_logs) -> None:
    """SECURITY E4: login success/failure and authorization failures are logged with user
    (id or email digest), outcome and the request id."""
    alice = await add_user(app, "alice@example.com")
    bob = await add_user(app, "bob@example.com")
    ok = await client.post(LOGIN, data=login_form("alice@example.com", DEFAULT_PASSWORD))
    bad = await client.post(LOGIN, data=login_form("alice@example.com", "wrong password!"))
    unknown = await client.post(LOGIN, data=login_form("ghost@example.com", "wrong password!"))
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
    stored = await stored_hash(app, "alice@example.com")
    wrong = "Wrong-Password-Value-42"  # pragma: allowlist secret
    token = await login(client, "alice@example.com")
    await client.post(LOGIN, data=login_form("alice@example.com", wrong))
    await client.post(LOGIN, data=login_form("alice@example.com", "p" * 200))
    await client.post("/api/v1/users", json={"email": "b@example.com", "password": wrong})
    await client.get("/api/v1/users/me", headers=bearer(token))
    await client.get("/api/v1/users/me", headers=bearer(token + "x"))
    records = caplog.records + auth_logs
    assert records
    for record in records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for secret in (DEFAULT_PASSWORD, wrong, "p" * 200, token, stored, "$argon2"):
            assert secret not in text, (secret, record.name, record.getMessage())
