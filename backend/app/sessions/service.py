"""Session use cases: start at login, rotate refresh tokens with reuse detection, end,
list and prune (ADR-0034, ADR-0035).

Rotation is a compare-and-set on the presented token's row (``used_at IS NULL``): of
concurrent refreshes with one token exactly one wins. Presenting a token that was
already exchanged (an old one, or the loser of such a race) is *reuse*: one of the two
holders is not the client, so the whole session is revoked, the revocation is kept
although the answer is a 401, and a security event is logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import audit
from app.core.errors import Unauthorized
from app.core.settings import Settings
from app.credentials.refresh_tokens import (
    MAX_REFRESH_TOKEN_LENGTH,
    new_refresh_token,
    refresh_token_digest,
)
from app.db.base import utcnow
from app.db.session import keep_writes_on_error
from app.sessions.models import CLIENT_IP_MAX_LENGTH, USER_AGENT_MAX_LENGTH, LoginSession
from app.sessions.repository import SessionRepository

logger = logging.getLogger("app.auth")

#: One message for every refused refresh token (no oracle between unknown, used, ended).
INVALID_REFRESH = "Invalid refresh token."


@dataclass(frozen=True)
class Issued:
    """A session and the refresh token just issued for it (hand it out once)."""

    session: LoginSession
    refresh_token: str


class SessionService:
    """Login sessions on one database session."""

    def __init__(self, db: AsyncSession, settings: Settings | None = None) -> None:
        """``settings`` (the lifetimes) are needed to start and rotate; ending, listing
        and pruning work without (the users service, the CLI)."""
        self.db = db
        self.repo = SessionRepository(db)
        self.settings = settings

    def _lifetimes(self) -> tuple[timedelta, timedelta]:
        if self.settings is None:
            raise RuntimeError("SessionService needs settings to start or rotate sessions")
        return (
            timedelta(days=self.settings.session_idle_days),
            timedelta(days=self.settings.session_max_lifetime_days),
        )

    async def start(
        self, user_id: uuid.UUID, *, user_agent: str | None, client_ip: str | None
    ) -> Issued:
        """Create a session for ``user_id`` (at login) with its first refresh token."""
        idle, cap = self._lifetimes()
        now = utcnow()
        absolute = now + cap
        session = LoginSession(
            user_id=user_id,
            last_used_at=now,
            expires_at=min(now + idle, absolute),
            absolute_expires_at=absolute,
            user_agent=(user_agent or None) and user_agent[:USER_AGENT_MAX_LENGTH],
            client_ip=(client_ip or None) and client_ip[:CLIENT_IP_MAX_LENGTH],
        )
        token = new_refresh_token()
        await self.repo.create(session, refresh_token_digest(token))
        return Issued(session=session, refresh_token=token)

    def _refuse(self, outcome: str, session: LoginSession | None = None) -> Unauthorized:
        audit(
            logger,
            "refresh refused",
            event="auth.refresh",
            outcome=outcome,
            subject=session.user_id if session else None,
            session=session.id if session else None,
            level=logging.WARNING,
        )
        return Unauthorized(INVALID_REFRESH)

    async def _reuse(self, session: LoginSession, now: datetime) -> Unauthorized:
        """A used token came back: revoke the session for good (kept despite the 401)."""
        await self.repo.revoke(now, user_id=session.user_id, session_id=session.id)
        keep_writes_on_error(self.db)
        audit(
            logger,
            "refresh token reuse detected; session revoked",
            event="auth.refresh",
            outcome="reuse_detected",
            subject=session.user_id,
            session=session.id,
            level=logging.ERROR,
        )
        return Unauthorized(INVALID_REFRESH)

    async def rotate(self, token: str) -> Issued:
        """Exchange ``token`` for the session's next refresh token, sliding the session.
        Unknown, used (reuse: the session is revoked) or ended: :class:`Unauthorized`."""
        idle, _ = self._lifetimes()
        if not token or len(token) > MAX_REFRESH_TOKEN_LENGTH:
            raise self._refuse("invalid_token")
        digest, now = refresh_token_digest(token), utcnow()
        found = await self.repo.get_by_token(digest)
        if found is None:
            raise self._refuse("unknown_token")
        presented, session = found
        if presented.used_at is not None:
            raise await self._reuse(session, now)
        if not session.is_live(now):
            raise self._refuse("session_ended", session)
        if not await self.repo.use_token(digest, now):  # a concurrent refresh won
            raise await self._reuse(session, now)
        following = new_refresh_token()
        expires_at = min(now + idle, session.absolute_expires_at)
        renewed = await self.repo.renew(
            session, refresh_token_digest(following), now=now, expires_at=expires_at
        )
        if not renewed:  # ended between our read and our write
            raise self._refuse("session_ended", session)
        return Issued(session=session, refresh_token=following)

    async def end(
        self, user_id: uuid.UUID, session_id: uuid.UUID, *, actor: uuid.UUID | None = None
    ) -> bool:
        """End one of ``user_id``'s sessions; ``False`` if it is not theirs or not live."""
        ended = await self.repo.revoke(utcnow(), user_id=user_id, session_id=session_id)
        self._log_ended(ended, user_id, actor or user_id)
        return bool(ended)

    async def end_all(
        self, user_id: uuid.UUID, *, keep: uuid.UUID | None = None, actor: uuid.UUID | None = None
    ) -> int:
        """End every live session of ``user_id`` but ``keep``; how many ended."""
        ended = await self.repo.revoke(utcnow(), user_id=user_id, keep=keep)
        self._log_ended(ended, user_id, actor or user_id)
        return len(ended)

    def _log_ended(self, ended: Sequence[uuid.UUID], user_id: uuid.UUID, actor: uuid.UUID) -> None:
        for session_id in ended:
            audit(
                logger,
                "session ended",
                event="auth.session_end",
                outcome="ended",
                actor=actor,
                subject=user_id,
                session=session_id,
            )

    async def live(self, user_id: uuid.UUID) -> Sequence[LoginSession]:
        """``user_id``'s live sessions, most recently used first."""
        return await self.repo.list_live(user_id, utcnow())

    async def prune(self, batch: int) -> int:
        """Delete up to ``batch`` revoked or expired sessions; how many."""
        return await self.repo.prune(utcnow(), batch)
