"""The ``sessions`` and ``refresh_tokens`` tables (ADR-0035).

A login creates one :class:`LoginSession`; its access tokens name it (``sid``) and its
refresh tokens belong to it. Every refresh token ever issued keeps a row (only its
SHA-256 digest), marked ``used_at`` once rotated: presenting a used one is the reuse
that revokes the whole session (ADR-0034). Both tables cascade from ``users``: deleting
a user deletes their sessions and tokens in the same statement.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, UTCDateTime, UUIDPrimaryKeyMixin, utcnow

USER_AGENT_MAX_LENGTH = 255
#: An IPv6 address in text form, with an IPv4 tail, is at most 45 characters.
CLIENT_IP_MAX_LENGTH = 45
#: Hex SHA-256.
DIGEST_LENGTH = 64


class LoginSession(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """One login of one user on one client. Live while ``revoked_at`` is empty and both
    ``expires_at`` (sliding) and ``absolute_expires_at`` (the cap) are in the future."""

    __tablename__ = "sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: Moved forward by each refresh (``SESSION_IDLE_DAYS``), never past the cap.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    #: Login + ``SESSION_MAX_LIFETIME_DAYS``; never moves.
    absolute_expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH))
    client_ip: Mapped[str | None] = mapped_column(String(CLIENT_IP_MAX_LENGTH))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    def is_live(self, now: datetime) -> bool:
        """Not revoked and not expired at ``now``."""
        return self.revoked_at is None and now < self.expires_at and now < self.absolute_expires_at

    def __repr__(self) -> str:
        return f"LoginSession(id={self.id!s}, user_id={self.user_id!s})"


class RefreshToken(Base):
    """One issued refresh token, by digest. ``used_at`` is set when it was exchanged."""

    __tablename__ = "refresh_tokens"

    token_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the digest
        return f"RefreshToken(session_id={self.session_id!s}, used={self.used_at is not None})"
