"""Async engine and session factories built from settings (ADR-0007, ADR-0042).

One :class:`Database` per application, opened and closed by the app lifespan.
PostgreSQL gets a checkout liveness test without a round trip (:func:`socket_is_idle`),
a bounded pool wait, a connect timeout and a server-side ``statement_timeout``;
SQLite (the default) gets a file under ``var/`` and a busy timeout.
"""

from __future__ import annotations

import select
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.pool import ConnectionPoolEntry

from app.core.settings import Settings


def _sqlite_pragmas(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def socket_is_idle(driver_connection: Any) -> bool | None:
    """Whether a pooled asyncpg connection is open with nothing to read, asked of the
    kernel (one ``poll()``, no round trip). An idle connection never has data waiting:
    a readable socket is a server that closed it (restart, shutdown,
    ``pg_terminate_backend``: its FATAL message and FIN are in the socket before the
    event loop has seen them). ``None`` when the socket cannot be reached."""
    if driver_connection.is_closed():
        return False
    transport = getattr(driver_connection, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or not hasattr(select, "poll"):
        return None
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


def _checkout_liveness(dbapi_connection: Any, _: Any, proxy: Any) -> None:
    """Pool ``checkout`` hook: a connection the server has closed is replaced before the
    request sees it (the pool discards it and checks out another)."""
    idle = socket_is_idle(proxy.driver_connection)
    if idle is None:  # cannot look at the socket: pay the round trip instead
        dbapi_connection.ping()
    elif not idle:
        raise exc.DisconnectionError("connection closed by the server while pooled")


#: The level of every transaction on PostgreSQL (its default, named: the pool's
#: connections are in autocommit between transactions, ADR-0042).
TRANSACTION_ISOLATION = "READ COMMITTED"


def create_engine(settings: Settings, *, autocommit: bool = False) -> AsyncEngine:
    """Build the async engine for ``settings.database_url``. ``autocommit`` (PostgreSQL)
    puts each new connection in autocommit: no ``BEGIN`` until a connection is asked
    for a transaction level (:class:`Database` does that for its writing sessions)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # A file has no server to restart: nothing to test at checkout.
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {"timeout": settings.db_connect_timeout_seconds}
    if url.get_backend_name() == "postgresql":
        connect_args["server_settings"] = {
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "application_name": settings.service_name,
        }
        connect_args["command_timeout"] = max(settings.db_statement_timeout_ms / 1000 * 2, 1.0)
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=connect_args,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    event.listen(engine.sync_engine, "checkout", _checkout_liveness)
    return engine


class ReadOnlyWrite(RuntimeError):
    """A read-only session was asked to write (a bug: safe methods never write)."""


class ReadSession(Session):
    """The session of a read-only request: refuses every write (ADR-0042)."""


def is_read_only(session: AsyncSession) -> bool:
    """Whether ``session`` is a read-only request's (:class:`ReadSession`)."""
    return isinstance(session.sync_session, ReadSession)


@event.listens_for(ReadSession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyWrite("a read-only request issued a write statement")


@event.listens_for(ReadSession, "before_flush")
def _refuse_flush(session: Session, *_: Any) -> None:
    raise ReadOnlyWrite("a read-only request tried to flush changes")


class Database:
    """The engine plus its session factories; lives on ``app.state.container.database``.

    ``engine`` and ``sessionmaker`` run transactions (``BEGIN`` on the first statement,
    ``COMMIT`` at the end). ``read_engine`` is the same pool without them: on PostgreSQL
    its connections are in autocommit (each ``SELECT`` is its own statement: no
    ``BEGIN`` or ``COMMIT`` round trips), and ``engine`` switches a connection to
    :data:`TRANSACTION_ISOLATION` for as long as it holds it (an attribute of the
    driver's connection, no round trip). Reads, the common case, pay no switch.
    ``read_sessionmaker`` makes :class:`ReadSession` s on ``read_engine``; they refuse
    writes (ADR-0042). SQLite never sends ``BEGIN`` before a read: one engine serves
    both."""

    def __init__(self, settings: Settings) -> None:
        if make_url(settings.database_url).get_backend_name() == "postgresql":
            self.read_engine = create_engine(settings, autocommit=True)
            self.engine = self.read_engine.execution_options(isolation_level=TRANSACTION_ISOLATION)
        else:
            self.engine = self.read_engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine, expire_on_commit=False, sync_session_class=ReadSession
        )

    async def ping(self) -> None:
        """Run ``SELECT 1`` (one round trip); raises on any failure."""
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.read_engine.dispose()


__all__ = [
    "AsyncSession",
    "Database",
    "ReadOnlyWrite",
    "ReadSession",
    "create_engine",
    "is_read_only",
]
