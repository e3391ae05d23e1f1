"""The authenticated read's database cost (ADR-0042).

``GET /users/me`` loads principal, user and session in one query and, on PostgreSQL,
makes no other round trip; a read-only request holds a pooled connection only for the
principal's query, a writing one keeps it for its transaction.

Runs on SQLite by default and on PostgreSQL with ``DATABASE_URL`` (ADR-0013).
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Request

from app.users.dependencies import CurrentUser
from tests.fixtures.auth import add_user, bearer, login_pair, me_status


async def test_users_me_is_one_database_round_trip(client, app, monkeypatch) -> None:
    """``GET /users/me`` loads the principal, user and session, in one query; on
    PostgreSQL that query is the only round trip: no ping, no ``BEGIN``/``COMMIT``
    (asyncpg sends those through ``Connection.execute``, ADR-0042)."""
    await add_user(app, "alice@example.com")
    pair = await login_pair(client, "alice@example.com")
    assert await me_status(client, pair["access_token"]) == 200  # warm: statement cached
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = app.state.container.database.read_engine.sync_engine
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
        assert await me_status(client, pair["access_token"]) == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert simple == []
    queries = [s for s in statements if not s.lstrip().upper().startswith(("PRAGMA", "SELECT 1"))]
    assert len(queries) == 1, queries
    assert "sessions" in queries[0]
    assert "users" in queries[0]


async def test_a_read_request_holds_no_connection_after_the_principal(client, app) -> None:
    """ADR-0042: a read-only request's principal is read on a pooled connection held for
    that one query (nothing to commit), so none is held while the rest of the request
    waits for the event loop; a writing request keeps its connection for its
    transaction."""
    await add_user(app, "alice@example.com")
    pair = await login_pair(client, "alice@example.com")
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
