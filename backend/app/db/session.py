"""Session-per-request dependency: commit on success, rollback on error (ADR-0007).

A request with a safe method (``GET``, ``HEAD``, ``OPTIONS``) gets a read-only session
in autocommit: no ``BEGIN``/``COMMIT`` round trips, and any write raises (ADR-0042).

A write that must stand although the request is refused (a revoked session after a
refresh-token reuse) is marked with :func:`keep_writes_on_error`.

Code that must act once the request's writes are durable (e.g. drop a cache entry so
no reader re-fills it with the pre-commit row) registers a callback with
:func:`after_commit`; the request's session runs it right after its commit.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database

logger = logging.getLogger("app.db")

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "after_commit"
_KEEP_ON_ERROR = "keep_writes_on_error"


def get_database(request: Request) -> Database:
    """The application's :class:`Database`: the ``database`` field of the application
    container (``app.state.container``, app/container.py), read by name because ``db``
    imports nothing above ``core``."""
    db: Database = request.app.state.container.database
    return db


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` after the request's session commits (never after a rollback).
    Sessions not made by :func:`get_session` (CLI, tests) never run it."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def keep_writes_on_error(session: AsyncSession) -> None:
    """Commit the request's writes even though the request ends in an error: for a write
    that *is* the answer to a refused request (a refresh-token reuse revokes its session,
    then answers 401, ADR-0034). Call it only when every write made so far must stand."""
    session.info[_KEEP_ON_ERROR] = True


async def _run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # the commit stands; a follow-up must not turn it into an error
            logger.exception("after-commit callback failed")


async def _commit_or_roll_back(session: AsyncSession) -> None:
    try:
        await session.commit()
    except Exception:  # the original error is the answer; this one only goes to the log
        logger.exception("commit of writes kept on error failed")
        await session.rollback()


#: HTTP methods that never write (RFC 9110 safe methods): their sessions are read-only.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield one session for the request; commit if the handler succeeded, else roll back.
    A safe method's session is read-only (autocommit; it refuses writes, so there is
    nothing to commit)."""
    database = get_database(request)
    read_only = request.method in SAFE_METHODS
    async with (database.read_sessionmaker if read_only else database.sessionmaker)() as session:
        try:
            yield session
            if not read_only:
                await session.commit()
        except BaseException as exc:
            session.info.pop(_AFTER_COMMIT, None)
            if session.info.pop(_KEEP_ON_ERROR, False) and isinstance(exc, Exception):
                await _commit_or_roll_back(session)
            else:
                await session.rollback()
            raise
        await _run_after_commit(session)


#: Inject with ``session: SessionDep``. ``scope="function"`` commits *before* the
#: response is sent, so a failed commit becomes an error response, not a lie.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
