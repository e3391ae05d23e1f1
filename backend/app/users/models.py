"""The ``users`` table (ADR-0031).

Emails are stored lower-cased: :func:`normalize_email` is the one place that
decides the canonical form, the model applies it on every assignment, and a
unique index on the stored value makes "one account per address, whatever its
case" a database guarantee (race-free, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, false, text, true
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db.base import Base, TimestampMixin, UUIDPrimaryKeyMixin

#: RFC 5321 limits a forward path to 256 octets including the angle brackets.
EMAIL_MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    """The canonical stored form of an address: surrounding blanks removed, lower-cased."""
    return email.strip().lower()


class User(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An account. ``hashed_password`` never leaves the service layer (SPEC §3.1 #8)."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(
        String(EMAIL_MAX_LENGTH), nullable=False, unique=True, index=True
    )
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    is_superuser: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    #: Bumped by a password change or a deactivation: every access token carries the
    #: version it was issued at, and an older one is refused (SECURITY T9, ADR-0018).
    token_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )

    @validates("email")
    def _normalise_email(self, _: str, value: str) -> str:
        return normalize_email(value)

    def __repr__(self) -> str:  # never the hash
        return f"User(id={self.id!s}, is_active={self.is_active}, is_superuser={self.is_superuser})"
