"""The ``account_tokens`` table: password-reset and email-verification links (ADR-0038).

Only the SHA-256 digest of a token is stored (the raw value exists in the mail alone).
A row is spent by setting ``used_at`` in one compare-and-set ``UPDATE``; issuing a new
token of a purpose spends the user's older ones. ``bound_to`` ties the token to the
state it was issued for: the user's token version (reset: any credential change
kills it) or the address (verification: an email change kills it).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, UUIDPrimaryKeyMixin, utcnow
from app.users.models import EMAIL_MAX_LENGTH

#: Hex SHA-256.
DIGEST_LENGTH = 64
PURPOSE_MAX_LENGTH = 32


class AccountToken(UUIDPrimaryKeyMixin, Base):
    """One issued reset or verification token, by digest."""

    __tablename__ = "account_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    purpose: Mapped[str] = mapped_column(String(PURPOSE_MAX_LENGTH), nullable=False)
    token_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), nullable=False, unique=True)
    bound_to: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the digest
        return f"AccountToken(id={self.id!s}, purpose={self.purpose!r})"
