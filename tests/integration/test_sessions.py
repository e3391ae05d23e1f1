"""Login sessions over HTTP: how they end (SECURITY T12, T15, T16, A1; ADR-0034, ADR-0035).

A logout, an expiry, ending a session from the list (yours only) and a password change
end sessions with their access and refresh tokens on the very next request; other
sessions stay; ``prune-sessions`` deletes ended ones. Refresh rotation and reuse are
test_refresh_rotation.py; the principal's database cost is test_principal_hot_path.py.

Runs on SQLite by default and on PostgreSQL with ``DATABASE_URL`` (ADR-0013).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.cli import prune_sessions
from app.sessions.models import LoginSession, RefreshToken
from tests.fixtures.auth import (
    DEFAULT_PASSWORD,
    add_user,
    bearer,
    json_keys,
    login_pair,
    me_status,
    post_refresh,
    session_id,
)

LOGOUT = "/api/v1/auth/logout"
SESSIONS = "/api/v1/users/me/sessions"
PASSWORD = "/api/v1/auth/password"
NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret


async def test_t12_logout_is_refused_on_the_next_request(client, app) -> None:
    """SECURITY T12: after a logout the session's access token is 401 on its very next
    request and its refresh token is spent; the user's other sessions stay."""
    await add_user(app, "alice@example.com")
    phone = await login_pair(client, "alice@example.com", agent="phone")
    laptop = await login_pair(client, "alice@example.com", agent="laptop")
    assert (await client.post(LOGOUT, headers=bearer(laptop["access_token"]))).status_code == 204
    assert await me_status(client, laptop["access_token"]) == 401
    assert (await post_refresh(client, laptop["refresh_token"])).status_code == 401
    assert (await client.post(LOGOUT, headers=bearer(laptop["access_token"]))).status_code == 401
    assert await me_status(client, phone["access_token"]) == 200
    assert (await post_refresh(client, phone["refresh_token"])).status_code == 200


async def test_t15_list_and_end_your_sessions(client, app) -> None:
    """SECURITY T15: the list shows your live sessions, marks the current one and holds no
    token material; ending one kills its tokens; one call ends all but the current."""
    await add_user(app, "alice@example.com")
    pairs = [await login_pair(client, "alice@example.com", agent=f"device {n}") for n in range(3)]
    me = bearer(pairs[0]["access_token"])
    listed = await client.get(SESSIONS, headers=me)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 3
    assert {s["id"] for s in body["items"]} == {session_id(p) for p in pairs}
    assert [s["id"] for s in body["items"] if s["current"]] == [session_id(pairs[0])]
    assert {s["user_agent"] for s in body["items"]} == {"device 0", "device 1", "device 2"}
    assert all(s["client_ip"] for s in body["items"])
    assert not {k for k in json_keys(body) if "token" in k or "digest" in k}
    for pair in pairs:
        assert pair["refresh_token"] not in listed.text

    ended = await client.delete(f"{SESSIONS}/{session_id(pairs[1])}", headers=me)
    assert ended.status_code == 204
    assert await me_status(client, pairs[1]["access_token"]) == 401
    assert (await post_refresh(client, pairs[1]["refresh_token"])).status_code == 401
    again = await client.delete(f"{SESSIONS}/{session_id(pairs[1])}", headers=me)
    assert again.status_code == 404

    assert (await client.delete(SESSIONS, headers=me)).status_code == 204
    assert await me_status(client, pairs[2]["access_token"]) == 401
    assert await me_status(client, pairs[0]["access_token"]) == 200
    assert (await client.get(SESSIONS, headers=me)).json()["total"] == 1


async def test_a1_another_users_session_id_is_a_404(client, app) -> None:
    """SECURITY A1: another user's session id answers exactly like an unknown one (404,
    same body but the request id) and ends nothing (ADR-0033)."""
    await add_user(app, "alice@example.com")
    await add_user(app, "bob@example.com")
    alice = await login_pair(client, "alice@example.com")
    bob = await login_pair(client, "bob@example.com")
    foreign = await client.delete(
        f"{SESSIONS}/{session_id(bob)}", headers=bearer(alice["access_token"])
    )
    unknown = await client.delete(
        f"{SESSIONS}/{uuid.uuid4()}", headers=bearer(alice["access_token"])
    )
    assert foreign.status_code == unknown.status_code == 404
    strip = lambda r: {**r.json()["error"], "request_id": None}  # noqa: E731
    assert strip(foreign) == strip(unknown)
    assert await me_status(client, bob["access_token"]) == 200


async def test_t16_a_password_change_ends_every_other_session(client, app) -> None:
    """SECURITY T16, T9: a password change ends every other session (access and refresh
    tokens); the caller's session survives: its access token is revoked by the version
    bump (T9) and its refresh token renews it."""
    await add_user(app, "alice@example.com")
    other = await login_pair(client, "alice@example.com", agent="stolen laptop")
    mine = await login_pair(client, "alice@example.com")
    change = await client.post(
        PASSWORD,
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(mine["access_token"]),
    )
    assert change.status_code == 204, change.text
    assert await me_status(client, other["access_token"]) == 401
    assert (await post_refresh(client, other["refresh_token"])).status_code == 401
    assert await me_status(client, mine["access_token"]) == 401
    renewed = await post_refresh(client, mine["refresh_token"])
    assert renewed.status_code == 200
    assert await me_status(client, renewed.json()["access_token"]) == 200


async def test_t12_an_expired_session_refuses_its_tokens(client, app) -> None:
    """SECURITY T12: past its sliding expiry (or the absolute cap) a session's access and
    refresh tokens are 401, though the access token itself has not expired."""
    await add_user(app, "alice@example.com")
    pair = await login_pair(client, "alice@example.com")
    async with app.state.container.database.sessionmaker() as session:
        await session.execute(
            sa.update(LoginSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert await me_status(client, pair["access_token"]) == 401
    assert (await post_refresh(client, pair["refresh_token"])).status_code == 401


async def test_prune_sessions_deletes_ended_sessions_in_batches(client, app) -> None:
    """``python -m app prune-sessions`` deletes revoked and expired sessions with their
    refresh tokens, in bounded batches, and is idempotent; live sessions stay."""
    await add_user(app, "alice@example.com")
    live = await login_pair(client, "alice@example.com")
    for _ in range(3):
        ended = await login_pair(client, "alice@example.com")
        await client.post(LOGOUT, headers=bearer(ended["access_token"]))
    expired = await login_pair(client, "alice@example.com")
    async with app.state.container.database.sessionmaker() as session:
        await session.execute(
            sa.update(LoginSession)
            .where(LoginSession.id == uuid.UUID(session_id(expired)))
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
        await session.commit()
    settings = app.state.container.settings
    assert await prune_sessions(settings, batch_size=2) == 4
    assert await prune_sessions(settings, batch_size=2) == 0
    async with app.state.container.database.sessionmaker() as session:
        left = list(await session.scalars(sa.select(LoginSession.id)))
        tokens = list(await session.scalars(sa.select(RefreshToken.session_id)))
    assert [str(i) for i in left] == [session_id(live)]
    assert {str(i) for i in tokens} == {session_id(live)}
    assert await me_status(client, live["access_token"]) == 200
