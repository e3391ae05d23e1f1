"""Refresh tokens over HTTP: rotation, reuse detection, secrecy (SECURITY T13, T14, E3;
ADR-0034).

A refresh answers a new pair and spends the token presented; presenting a spent token
ends the whole session and logs a security event; of ten concurrent refreshes with one
token exactly one wins; no log line or other answer carries a refresh token. How
sessions end otherwise is test_sessions.py.

Runs on SQLite by default and on PostgreSQL with ``DATABASE_URL`` (ADR-0013).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import sqlalchemy as sa

from app.sessions.models import LoginSession, RefreshToken
from tests.fixtures.auth import (
    add_user,
    bearer,
    login_pair,
    me_status,
    post_refresh,
    session_id,
)

LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"
SESSIONS = "/api/v1/users/me/sessions"


async def test_t13_refresh_rotates_the_pair(client, app) -> None:
    """SECURITY T13: a refresh answers a new access and refresh token in the login shape;
    the new pair works and the refresh token presented is spent. Tokens are opaque,
    256-bit, and stored only as a digest."""
    await add_user(app, "alice@example.com")
    first = await login_pair(client, "alice@example.com")
    assert len(first["refresh_token"]) >= 43  # 32 random bytes, base64url
    response = await post_refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert session_id(second) == session_id(first)
    assert await me_status(client, second["access_token"]) == 200
    async with app.state.container.database.sessionmaker() as session:
        stored = set(await session.scalars(sa.select(RefreshToken.token_digest)))
    assert len(stored) == 2
    assert not {first["refresh_token"], second["refresh_token"]} & stored
    for bad in ("x", "A" * 43, "A" * 129):
        refused = await post_refresh(client, bad)
        assert refused.status_code in (401, 422), bad


async def test_t14_reuse_of_a_rotated_token_revokes_the_session(client, app, caplog) -> None:
    """SECURITY T14: presenting a refresh token that was already exchanged is a 401, ends
    the whole session (its newest refresh and access tokens fail too) and logs a
    security event; another session of the same user is untouched."""
    await add_user(app, "alice@example.com")
    other = await login_pair(client, "alice@example.com", agent="laptop")
    first = await login_pair(client, "alice@example.com")
    second = (await post_refresh(client, first["refresh_token"])).json()
    with caplog.at_level(logging.INFO):
        reuse = await post_refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "unauthorized"
    assert (await post_refresh(client, second["refresh_token"])).status_code == 401
    assert await me_status(client, second["access_token"]) == 401
    assert await me_status(client, other["access_token"]) == 200
    events = [r for r in caplog.records if getattr(r, "outcome", None) == "reuse_detected"]
    assert len(events) == 1
    assert events[0].session_id == session_id(first)
    assert events[0].levelno == logging.ERROR


async def test_t14_ten_concurrent_refreshes_exactly_one_succeeds(client, app) -> None:
    """SECURITY T14: ten refreshes with one token at once: exactly one 200, decided by a
    compare-and-set in SQL. The other nine present a token that is already spent, which
    is reuse: the session ends, so the winner's pair is revoked too (ADR-0034)."""
    await add_user(app, "alice@example.com")
    pair = await login_pair(client, "alice@example.com")
    answers = await asyncio.gather(
        *(post_refresh(client, pair["refresh_token"]) for _ in range(10))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [401] * 9, codes
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert (await post_refresh(client, winner["refresh_token"])).status_code == 401
    async with app.state.container.database.sessionmaker() as session:
        row = await session.get(LoginSession, uuid.UUID(session_id(pair)))
        assert row is not None
        assert row.revoked_at is not None


async def test_e3_refresh_tokens_appear_only_in_login_and_refresh_answers(
    client, app, caplog
) -> None:
    """SECURITY E3: no log line holds a refresh token (or its digest), and no answer but
    the login's and the refresh's carries one."""
    await add_user(app, "alice@example.com")
    with caplog.at_level(logging.INFO):  # DEBUG adds the database drivers' own tracing
        first = await login_pair(client, "alice@example.com")
        second = (await post_refresh(client, first["refresh_token"])).json()
        await post_refresh(client, first["refresh_token"])  # reuse: logged as an event
        third = await login_pair(client, "alice@example.com")
        me = bearer(third["access_token"])
        others = [
            await client.get(ME, headers=me),
            await client.get(SESSIONS, headers=me),
            await client.post(LOGOUT, headers=me),
        ]
    secrets = [p["refresh_token"] for p in (first, second, third)]
    async with app.state.container.database.sessionmaker() as session:
        secrets += list(await session.scalars(sa.select(RefreshToken.token_digest)))
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert not [s for s in secrets if s in logged]
    assert not [s for s in secrets for r in others if s in r.text]
