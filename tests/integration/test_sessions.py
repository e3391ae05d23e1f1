"""Sessions and refresh tokens over HTTP (SECURITY T12-T16, E3; ADR-0034, ADR-0035).

Runs on SQLite by default and on PostgreSQL with ``DATABASE_URL`` (ADR-0013).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import sqlalchemy as sa
from fastapi import Request

from app.cli import prune_sessions
from app.sessions.models import LoginSession, RefreshToken
from app.users.dependencies import CurrentUser
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, json_keys

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"
SESSIONS = "/api/v1/users/me/sessions"
PASSWORD = "/api/v1/auth/password"
NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret


async def _login(client: httpx.AsyncClient, email: str, agent: str = "tests") -> dict[str, str]:
    form = {"username": email, "password": DEFAULT_PASSWORD}
    response = await client.post(LOGIN, data=form, headers={"User-Agent": agent})
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


def _sid(pair: dict[str, str]) -> str:
    sid: str = jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]
    return sid


async def _status(client: httpx.AsyncClient, access_token: str) -> int:
    return (await client.get(ME, headers=bearer(access_token))).status_code


async def test_t13_refresh_rotates_the_pair(client, app) -> None:
    """SECURITY T13: a refresh answers a new access and refresh token in the login shape;
    the new pair works and the refresh token presented is spent. Tokens are opaque,
    256-bit, and stored only as a digest."""
    await add_user(app, "alice@example.com")
    first = await _login(client, "alice@example.com")
    assert len(first["refresh_token"]) >= 43  # 32 random bytes, base64url
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert _sid(second) == _sid(first)
    assert await _status(client, second["access_token"]) == 200
    async with app.state.container.database.sessionmaker() as session:
        stored = set(await session.scalars(sa.select(RefreshToken.token_digest)))
    assert len(stored) == 2
    assert not {first["refresh_token"], second["refresh_token"]} & stored
    for bad in ("x", "A" * 43, "A" * 129):
        refused = await _refresh(client, bad)
        assert refused.status_code in (401, 422), bad


async def test_t14_reuse_of_a_rotated_token_revokes_the_session(client, app, caplog) -> None:
    """SECURITY T14: presenting a refresh token that was already exchanged is a 401, ends
    the whole session (its newest refresh and access tokens fail too) and logs a
    security event; another session of the same user is untouched."""
    await add_user(app, "alice@example.com")
    other = await _login(client, "alice@example.com", agent="laptop")
    first = await _login(client, "alice@example.com")
    second = (await _refresh(client, first["refresh_token"])).json()
    with caplog.at_level(logging.INFO):
        reuse = await _refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "unauthorized"
    assert (await _refresh(client, second["refresh_token"])).status_code == 401
    assert await _status(client, second["access_token"]) == 401
    assert await _status(client, other["access_token"]) == 200
    events = [r for r in caplog.records if getattr(r, "outcome", None) == "reuse_detected"]
    assert len(events) == 1
    assert events[0].session_id == _sid(first)
    assert events[0].levelno == logging.ERROR


async def test_t14_ten_concurrent_refreshes_exactly_one_succeeds(client, app) -> None:
    """SECURITY T14: ten refreshes with one token at once: exactly one 200, decided by a
    compare-and-set in SQL. The other nine present a token that is already spent, which
    is reuse: the session ends, so the winner's pair is revoked too (ADR-0034)."""
    await add_user(app, "alice@example.com")
    pair = await _login(client, "alice@example.com")
    answers = await asyncio.gather(*(_refresh(client, pair["refresh_token"]) for _ in range(10)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [401] * 9, codes
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert (await _refresh(client, winner["refresh_token"])).status_code == 401
    async with app.state.container.database.sessionmaker() as session:
        row = await session.get(LoginSession, uuid.UUID(_sid(pair)))
        assert row is not None
        assert row.revoked_at is not None


async def test_t12_logout_is_refused_on_the_next_request(client, app) -> None:
    """SECURITY T12: after a logout the session's access token is 401 on its very next
    request and its refresh token is spent; the user's other sessions stay."""
    await add_user(app, "alice@example.com")
    phone = await _login(client, "alice@example.com", agent="phone")
    laptop = await _login(client, "alice@example.com", agent="laptop")
    assert (await client.post(LOGOUT, headers=bearer(laptop["access_token"]))).status_code == 204
    assert await _status(client, laptop["access_token"]) == 401
    assert (await _refresh(client, laptop["refresh_token"])).status_code == 401
    assert (await client.post(LOGOUT, headers=bearer(laptop["access_token"]))).status_code == 401
    assert await _status(client, phone["access_token"]) == 200
    assert (await _refresh(client, phone["refresh_token"])).status_code == 200


async def test_t15_list_and_end_your_sessions(client, app) -> None:
    """SECURITY T15: the list shows your live sessions, marks the current one and holds no
    token material; ending one kills its tokens; one call ends all but the current."""
    await add_user(app, "alice@example.com")
    pairs = [await _login(client, "alice@example.com", agent=f"device {n}") for n in range(3)]
    me = bearer(pairs[0]["access_token"])
    listed = await client.get(SESSIONS, headers=me)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 3
    assert {s["id"] for s in body["items"]} == {_sid(p) for p in pairs}
    assert [s["id"] for s in body["items"] if s["current"]] == [_sid(pairs[0])]
    assert {s["user_agent"] for s in body["items"]} == {"device 0", "device 1", "device 2"}
    assert all(s["client_ip"] for s in body["items"])
    assert not {k for k in json_keys(body) if "token" in k or "digest" in k}
    for pair in pairs:
        assert pair["refresh_token"] not in listed.text

    ended = await client.delete(f"{SESSIONS}/{_sid(pairs[1])}", headers=me)
    assert ended.status_code == 204
    assert await _status(client, pairs[1]["access_token"]) == 401
    assert (await _refresh(client, pairs[1]["refresh_token"])).status_code == 401
    again = await client.delete(f"{SESSIONS}/{_sid(pairs[1])}", headers=me)
    assert again.status_code == 404

    assert (await client.delete(SESSIONS, headers=me)).status_code == 204
    assert await _status(client, pairs[2]["access_token"]) == 401
    assert await _status(client, pairs[0]["access_token"]) == 200
    assert (await client.get(SESSIONS, headers=me)).json()["total"] == 1


async def test_a1_another_users_session_id_is_a_404(client, app) -> None:
    """SECURITY A1: another user's session id answers exactly like an unknown one (404,
    same body but the request id) and ends nothing (ADR-0033)."""
    await add_user(app, "alice@example.com")
    await add_user(app, "bob@example.com")
    alice = await _login(client, "alice@example.com")
    bob = await _login(client, "bob@example.com")
    foreign = await client.delete(f"{SESSIONS}/{_sid(bob)}", headers=bearer(alice["access_token"]))
    unknown = await client.delete(
        f"{SESSIONS}/{uuid.uuid4()}", headers=bearer(alice["access_token"])
    )
    assert foreign.status_code == unknown.status_code == 404
    strip = lambda r: {**r.json()["error"], "request_id": None}  # noqa: E731
    assert strip(foreign) == strip(unknown)
    assert await _status(client, bob["access_token"]) == 200


async def test_t16_a_password_change_ends_every_other_session(client, app) -> None:
    """SECURITY T16, T9: a password change ends every other session (access and refresh
    tokens); the caller's session survives: its access token is revoked by the version
    bump (T9) and its refresh token renews it."""
    await add_user(app, "alice@example.com")
    other = await _login(client, "alice@example.com", agent="stolen laptop")
    mine = await _login(client, "alice@example.com")
    change = await client.post(
        PASSWORD,
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(mine["access_token"]),
    )
    assert change.status_code == 204, change.text
    assert await _status(client, other["access_token"]) == 401
    assert (await _refresh(client, other["refresh_token"])).status_code == 401
    assert await _status(client, mine["access_token"]) == 401
    renewed = await _refresh(client, mine["refresh_token"])
    assert renewed.status_code == 200
    assert await _status(client, renewed.json()["access_token"]) == 200


async def test_t12_an_expired_session_refuses_its_tokens(client, app) -> None:
    """SECURITY T12: past its sliding expiry (or the absolute cap) a session's access and
    refresh tokens are 401, though the access token itself has not expired."""
    await add_user(app, "alice@example.com")
    pair = await _login(client, "alice@example.com")
    async with app.state.container.database.sessionmaker() as session:
        await session.execute(
            sa.update(LoginSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert await _status(client, pair["access_token"]) == 401
    assert (await _refresh(client, pair["refresh_token"])).status_code == 401


async def test_e3_refresh_tokens_appear_only_in_login_and_refresh_answers(
    client, app, caplog
) -> None:
    """SECURITY E3: no log line holds a refresh token (or its digest), and no answer but
    the login's and the refresh's carries one."""
    await add_user(app, "alice@example.com")
    with caplog.at_level(logging.INFO):  # DEBUG adds the database drivers' own tracing
        first = await _login(client, "alice@example.com")
        second = (await _refresh(client, first["refresh_token"])).json()
        await _refresh(client, first["refresh_token"])  # reuse: logged as an event
        third = await _login(client, "alice@example.com")
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


async def test_users_me_is_one_database_round_trip(client, app, monkeypatch) -> None:
    """``GET /users/me`` loads the principal, user and session, in one query; on
    PostgreSQL that query is the only round trip: no ping, no ``BEGIN``/``COMMIT``
    (asyncpg sends those through ``Connection.execute``, ADR-0042)."""
    await add_user(app, "alice@example.com")
    pair = await _login(client, "alice@example.com")
    assert await _status(client, pair["access_token"]) == 200  # warm: statement cached
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = app.state.container.database.engine.sync_engine
    simple: list[str] = []
    if engine.dialect.name == "postgresql":
        import asyncpg

        original = asyncpg.Connection.execute

        async def counted(self, query, *args, **kwargs):
            simple.append(query)
            return await original(self, query, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, "execute", counted)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert await _status(client, pair["access_token"]) == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert simple == []
    queries = [s for s in statements if not s.lstrip().upper().startswith(("PRAGMA", "SELECT 1"))]
    assert len(queries) == 1, queries
    assert "sessions" in queries[0]
    assert "users" in queries[0]


async def test_a_read_request_hands_its_connection_back_after_the_principal(client, app) -> None:
    """ADR-0042: a read-only request returns its pooled connection as soon as the
    principal is loaded (nothing to commit), so it is not held while the rest of the
    request waits for the event loop; a writing request keeps it for its transaction."""
    await add_user(app, "alice@example.com")
    pair = await _login(client, "alice@example.com")
    pool = app.state.container.database.engine.pool
    held: list[tuple[str, int]] = []

    async def probe(user: CurrentUser, request: Request) -> dict[str, str]:
        held.append((request.method, pool.checkedout()))
        return {"email": user.email}

    app.add_api_route("/probe/pool", probe, methods=["GET", "POST"])
    for method in ("GET", "POST"):
        response = await client.request(method, "/probe/pool", headers=bearer(pair["access_token"]))
        assert response.json() == {"email": "alice@example.com"}
    assert held == [("GET", 0), ("POST", 1)]


async def test_prune_sessions_deletes_ended_sessions_in_batches(client, app) -> None:
    """``python -m app prune-sessions`` deletes revoked and expired sessions with their
    refresh tokens, in bounded batches, and is idempotent; live sessions stay."""
    await add_user(app, "alice@example.com")
    live = await _login(client, "alice@example.com")
    for _ in range(3):
        ended = await _login(client, "alice@example.com")
        await client.post(LOGOUT, headers=bearer(ended["access_token"]))
    expired = await _login(client, "alice@example.com")
    async with app.state.container.database.sessionmaker() as session:
        await session.execute(
            sa.update(LoginSession)
            .where(LoginSession.id == uuid.UUID(_sid(expired)))
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
        await session.commit()
    settings = app.state.container.settings
    assert await prune_sessions(settings, batch_size=2) == 4
    assert await prune_sessions(settings, batch_size=2) == 0
    async with app.state.container.database.sessionmaker() as session:
        left = list(await session.scalars(sa.select(LoginSession.id)))
        tokens = list(await session.scalars(sa.select(RefreshToken.session_id)))
    assert [str(i) for i in left] == [_sid(live)]
    assert {str(i) for i in tokens} == {_sid(live)}
    assert await _status(client, live["access_token"]) == 200
