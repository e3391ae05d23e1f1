"""The references: the least code that does the app's work, for ``make bench`` (ADR-0030).

Bare FastAPI, the app's own PyJWT claim checks (:func:`decode_access_claims`), one raw
driver query for the principal (user and session by primary key, joined: the same row
the app reads), the active/version/session checks, then JSON. ``/api/v1/items`` adds
the page and its count as two raw queries. PostgreSQL through an asyncpg pool the size
of the app's (``DB_POOL_SIZE`` + ``DB_MAX_OVERFLOW``); SQLite through one aiosqlite
connection. Served by ``tests/bench/run.py`` as ``uvicorn tests.bench.reference_app:app``
with the full app's environment (the same database and ``JWT_SECRET_KEY``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, Response

from app.core.settings import Settings
from app.credentials.tokens import InvalidToken, decode_access_claims

settings = Settings()
POSTGRES = settings.database_url.startswith("postgresql")
PRINCIPAL = (
    "SELECT u.id, u.email, u.is_active, u.is_superuser, u.created_at, u.updated_at, "
    "u.token_version, s.revoked_at, s.expires_at, s.absolute_expires_at "
    "FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = {0} AND s.id = {1}"
)
ITEMS = (
    "SELECT id, owner_id, name, description, version, created_at, updated_at FROM items "
    "WHERE owner_id = {0} ORDER BY created_at, id LIMIT {1} OFFSET {2}"
)
COUNT = "SELECT count(*) FROM items WHERE owner_id = {0}"
UNAUTHORIZED = Response(b'{"error":"unauthorized"}', 401, media_type="application/json")


class Postgres:
    """An asyncpg pool; ``$n`` placeholders, native UUIDs and datetimes."""

    marks = ("$1", "$2", "$3")

    async def open(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        size = settings.db_pool_size + settings.db_max_overflow
        self.pool = await asyncpg.create_pool(url, min_size=size, max_size=size)

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        return await self.pool.fetch(sql, *args)  # type: ignore[no-any-return]

    def key(self, value: uuid.UUID) -> Any:
        return value

    def moment(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.pool.close()


class Sqlite(Postgres):
    """One aiosqlite connection; ``?`` placeholders, hex UUIDs, naive UTC text times."""

    marks = ("?", "?", "?")

    async def open(self) -> None:
        import aiosqlite

        self.conn = await aiosqlite.connect(settings.database_url.split("///", 1)[1])

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        return list(await self.conn.execute_fetchall(sql, args))

    def key(self, value: uuid.UUID) -> Any:
        return value.hex

    def moment(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    async def close(self) -> None:
        await self.conn.close()


db = Postgres() if POSTGRES else Sqlite()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await db.open()
    yield
    await db.close()


app = FastAPI(lifespan=lifespan)


def _iso(value: Any) -> str:
    return db.moment(value).isoformat()


def _id(value: Any) -> str:
    return str(value if POSTGRES else uuid.UUID(value))


async def principal(authorization: str) -> Sequence[Any] | None:
    """The caller's row if the token and the row pass the app's checks, else ``None``."""
    scheme, _, token = authorization.partition(" ")
    try:
        claims = decode_access_claims(token, settings) if scheme.lower() == "bearer" else None
    except InvalidToken:
        return None
    if claims is None:
        return None
    rows = await db.fetch(
        PRINCIPAL.format(*db.marks), db.key(claims.user_id), db.key(claims.session_id)
    )
    if not rows:
        return None
    row = rows[0]
    now = datetime.now(UTC)
    live = row[7] is None and now < db.moment(row[8]) and now < db.moment(row[9])
    return row if row[2] and row[6] == claims.version and live else None


def _json(body: Any) -> Response:
    return Response(json.dumps(body), media_type="application/json")


@app.get("/api/v1/users/me")
async def me(authorization: str = Header("")) -> Response:
    row = await principal(authorization)
    if row is None:
        return UNAUTHORIZED
    keys = ("id", "email", "is_active", "is_superuser")
    user = dict(zip(keys, row, strict=False))
    return _json(
        {**user, "id": _id(row[0]), "created_at": _iso(row[4]), "updated_at": _iso(row[5])}
    )


@app.get("/api/v1/items")
async def items(authorization: str = Header(""), limit: int = 20, offset: int = 0) -> Response:
    row = await principal(authorization)
    if row is None:
        return UNAUTHORIZED
    owner = db.key(row[0] if POSTGRES else uuid.UUID(row[0]))
    rows = await db.fetch(ITEMS.format(*db.marks), owner, limit, offset)
    total = (await db.fetch(COUNT.format(db.marks[0]), owner))[0][0]
    page = [
        {
            "id": _id(r[0]),
            "owner_id": _id(r[1]),
            "name": r[2],
            "description": r[3],
            "version": r[4],
            "created_at": _iso(r[5]),
            "updated_at": _iso(r[6]),
        }
        for r in rows
    ]
    return _json({"items": page, "total": total, "offset": offset, "limit": limit})
