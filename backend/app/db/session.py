"""Session-per-request dependency: commit on success, rollback on error (ADR-0007)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database


def get_database(request: Request) -> Database:
    """The application's :class:`Database` (opened by the lifespan)."""
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield one session for the request; commit if the handler succeeded, else roll back."""
    async with get_database(request).sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


#: Inject with ``session: SessionDep``. ``scope="function"`` commits *before* the
#: response is sent, so a failed commit becomes an error response, not a lie.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
