"""Bearer tokens over HTTP (SECURITY T1, T2, T4, T5, T6, T10, T11, A5, A7, E7; ADR-0018,
ADR-0019). Claim-level rules are unit-tested in tests/unit/test_tokens.py, the parser's
robustness in tests/unit/test_tokens_parsing.py."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.users.models import User
from app.users.repository import UserRepository
from tests.fixtures.auth import add_user, bearer, login
from tests.fixtures.tokens import GARBAGE

ME = "/api/v1/users/me"
PROTECTED = [ME, "/auth/me"]


def _signed(
    settings, subject: Any, *, key: str | None = None, alg: str = "HS256", **overrides: Any
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(subject),
        "type": "access",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "sid": str(uuid.uuid4()),
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key or settings.jwt_secret_key.get_secret_value(), algorithm=alg)


def _assert_401(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("path", PROTECTED)
async def test_a5_missing_or_malformed_authorization_is_401_not_403(client, path: str) -> None:
    """SECURITY A5: no token, wrong scheme, empty bearer -> 401 envelope + WWW-Authenticate."""
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        _assert_401(await client.get(path, headers=headers))


async def test_bad_tokens_for_an_existing_user_are_401(client, app, settings) -> None:
    """T1 other key, T2 alg none/HS512, T4 expired/no exp/future nbf, T5 no sub, T6 type."""
    alice = await add_user(app, "alice@example.com")
    # A live session of alice's: every token below differs from a good one in one way only.
    sid = jwt.decode(await login(client, "alice@example.com"), options={"verify_signature": False})[
        "sid"
    ]
    _token = functools.partial(_signed, sid=sid)
    other_key = "x" * 64
    tokens = {
        "other-key": _token(settings, alice, key=other_key),
        "hs512": _token(settings, alice, alg="HS512", key="k" * 64),
        "alg-none": jwt.encode(
            {"sub": str(alice), "type": "access", "exp": 2**31, "iat": 1},
            None,
            algorithm="none",
        ),
        "expired": _token(settings, alice, exp=datetime.now(UTC) - timedelta(minutes=2)),
        "no-exp": _token(settings, alice, exp=None),
        "future-nbf": _token(settings, alice, nbf=datetime.now(UTC) + timedelta(minutes=5)),
        "no-sub": _token(settings, alice, sub=None),
        "refresh-type": _token(settings, alice, type="refresh"),
        "no-sid": _token(settings, alice, sid=None),  # T12: every token names its session
        "unknown-sid": _token(settings, alice, sid=str(uuid.uuid4())),
        "malformed-sid": _token(settings, alice, sid="not-a-session"),
    }
    valid = _token(settings, alice)
    assert (await client.get(ME, headers=bearer(valid))).status_code == 200
    for name, token in tokens.items():
        response = await client.get(ME, headers=bearer(token))
        assert response.status_code == 401, name
        _assert_401(response)


async def test_t5_deleted_and_unknown_users_are_401(client, app, settings) -> None:
    """SECURITY T5: a valid signature naming a deleted or never-existing user -> 401."""
    alice = await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")
    async with app.state.container.database.sessionmaker() as session:
        await session.execute(sa.delete(User).where(User.id == alice))
        await session.commit()
    _assert_401(await client.get(ME, headers=bearer(token)))
    _assert_401(await client.get(ME, headers=bearer(_signed(settings, uuid.uuid4()))))


async def test_a7_deactivation_takes_effect_immediately(client, app) -> None:
    """SECURITY A7 / T5: an inactive user's existing token stops working at once."""
    alice = await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")
    assert (await client.get(ME, headers=bearer(token))).status_code == 200
    async with app.state.container.database.sessionmaker() as session:
        repo = UserRepository(session)
        user = await repo.get(alice)
        assert user is not None
        await repo.change_roles(user, is_active=False, is_superuser=None)
        await session.commit()
    for path in PROTECTED:
        _assert_401(await client.get(path, headers=bearer(token)))


async def test_t10_token_in_query_string_or_cookie_is_ignored(client, app) -> None:
    """SECURITY T10: tokens are accepted only from the Authorization header."""
    await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")
    for params in ({"access_token": token}, {"token": token}, {"Authorization": f"Bearer {token}"}):
        _assert_401(await client.get(ME, params=params))
    client.cookies.set("access_token", token)
    client.cookies.set("Authorization", f"Bearer {token}")
    _assert_401(await client.get(ME))
    client.cookies.clear()


@pytest.mark.parametrize("token", GARBAGE)
async def test_t11_garbage_bearer_values_are_401_never_5xx(client, token: str) -> None:
    """SECURITY T11: any bearer value gives 401, never a 5xx."""
    value = "".join(ch for ch in token if 0x20 < ord(ch) < 0x7F) or "x"
    _assert_401(await client.get(ME, headers={"Authorization": f"Bearer {value}"}))


@pytest.mark.parametrize(
    "error", [OperationalError("SELECT", {}, Exception("down")), SQLAlchemyError("boom"), OSError()]
)
async def test_e7_authorization_fails_closed_when_the_lookup_fails(
    client, app, monkeypatch, error: Exception
) -> None:
    """SECURITY E7: if the user lookup fails, the request is refused with a 503 envelope
    (never let through, never a 500 leaking internals)."""
    await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")

    async def broken(self, user_id, session_id):
        raise error

    monkeypatch.setattr(UserRepository, "get_with_session", broken)
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == "service_unavailable"
    assert body["message"] == "Authorization is temporarily unavailable."
    assert "alice" not in response.text
    assert "SELECT" not in response.text
