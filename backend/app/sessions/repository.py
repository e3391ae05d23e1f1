"""Database access for sessions and refresh tokens (ADR-0035). Every write is one
statement computed by the database; the rotation is a compare-and-set."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update

from app.db.repository import MAX_PAGE_SIZE, Repository
from app.sessions.models import LoginSession, RefreshToken


def _live(now: datetime) -> list[Any]:
    """The WHERE conditions of a live session at ``now``."""
    return [
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > now,
        LoginSession.absolute_expires_at > now,
    ]


def _rowcount(result: Any) -> int:
    return int(cast("CursorResult[Any]", result).rowcount)


class SessionRepository(Repository[LoginSession]):
    """Queries on ``sessions`` and ``refresh_tokens``."""

    model = LoginSession

    async def create(self, session: LoginSession, token_digest: str) -> LoginSession:
        """Insert ``session`` and its first refresh token."""
        await self.add(session)
        self.session.add(RefreshToken(token_digest=token_digest, session_id=session.id))
        await self.session.flush()
        return session

    async def get_by_token(self, token_digest: str) -> tuple[RefreshToken, LoginSession] | None:
        """The refresh token with this digest and its session, used or not (one query)."""
        statement = (
            select(RefreshToken, LoginSession)
            .join(LoginSession, LoginSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_digest == token_digest)
        )
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])

    async def use_token(self, token_digest: str, now: datetime) -> bool:
        """Compare-and-set: mark the token used only if it is still unused. Of concurrent
        callers with one token exactly one gets ``True`` (the database decides)."""
        statement = (
            update(RefreshToken)
            .where(RefreshToken.token_digest == token_digest, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self.session.execute(statement)) == 1

    async def renew(
        self, session: LoginSession, token_digest: str, *, now: datetime, expires_at: datetime
    ) -> bool:
        """Slide a live session forward and add its next refresh token. ``False`` (nothing
        written) when the session stopped being live meanwhile."""
        statement = (
            update(LoginSession)
            .where(LoginSession.id == session.id, *_live(now))
            .values(last_used_at=now, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(await self.session.execute(statement)) != 1:
            return False
        self.session.add(RefreshToken(token_digest=token_digest, session_id=session.id))
        await self.session.flush()
        await self.session.refresh(session)
        return True

    async def revoke(
        self,
        now: datetime,
        *,
        user_id: uuid.UUID,
        session_id: uuid.UUID | None = None,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """End ``user_id``'s live sessions (only ``session_id`` when given; all but
        ``keep`` when given) and return the ids ended. Scoped to the user in SQL, so
        another user's session id ends nothing (ADR-0033)."""
        conditions: list[Any] = [LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)]
        if session_id is not None:
            conditions.append(LoginSession.id == session_id)
        if keep is not None:
            conditions.append(LoginSession.id != keep)
        ids = list(await self.session.scalars(select(LoginSession.id).where(*conditions)))
        if not ids:
            return []
        statement = (
            update(LoginSession)
            .where(LoginSession.id.in_(ids), LoginSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(statement)
        return ids

    async def list_live(self, user_id: uuid.UUID, now: datetime) -> Sequence[LoginSession]:
        """``user_id``'s live sessions, most recently used first (at most a page)."""
        statement = (
            select(LoginSession)
            .where(LoginSession.user_id == user_id, *_live(now))
            .order_by(LoginSession.last_used_at.desc(), LoginSession.id.desc())
            .limit(MAX_PAGE_SIZE)
        )
        return (await self.session.scalars(statement)).all()

    async def count_live(self, user_id: uuid.UUID, now: datetime) -> int:
        """How many live sessions ``user_id`` has."""
        statement = select(func.count()).where(LoginSession.user_id == user_id, *_live(now))
        return int(await self.session.scalar(statement) or 0)

    async def prune(self, now: datetime, batch: int) -> int:
        """Delete up to ``batch`` sessions that are revoked or expired (their refresh
        tokens cascade) and return how many were deleted."""
        dead = or_(
            LoginSession.revoked_at.is_not(None),
            LoginSession.expires_at <= now,
            LoginSession.absolute_expires_at <= now,
        )
        ids = list(await self.session.scalars(select(LoginSession.id).where(dead).limit(batch)))
        if not ids:
            return 0
        await self.session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(ids)))
        result = await self.session.execute(delete(LoginSession).where(LoginSession.id.in_(ids)))
        return _rowcount(result)
