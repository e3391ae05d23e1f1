"""The ``users`` table (ADR-0031).

Emails are stored in one canonical form: :func:`normalize_email` (Unicode NFKC, then
lower-cased) is the one place that decides it, the model applies it on every
assignment, and a unique index on the stored value makes "one account per address,
whatever its case or its compatibility spelling (a fullwidth ``kate``)" a database
guarantee (race-free, on SQLite and PostgreSQL alike). :func:`mixes_scripts` is the
rule sign-up uses to refuse look-alike local parts (Latin with a Cyrillic ``a``, U+0430).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import Boolean, Integer, String, false, text, true
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db.base import Base, TimestampMixin, UUIDPrimaryKeyMixin

#: RFC 5321 limits a forward path to 256 octets including the angle brackets.
EMAIL_MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    """The canonical stored form of an address: Unicode NFKC (fullwidth and other
    compatibility characters become their plain forms), surrounding blanks removed,
    lower-cased, and NFKC again (lower-casing can undo it). Idempotent."""
    lowered = unicodedata.normalize("NFKC", email).strip().lower()
    return unicodedata.normalize("NFKC", lowered)


#: Script combinations one identifier may use (Unicode TS #39, "highly restrictive"):
#: Japanese, Chinese and Korean writing mixes these with Latin; anything else is one script.
ALLOWED_SCRIPT_MIXES: tuple[frozenset[str], ...] = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _script(char: str) -> str | None:
    """The script of a letter, from its Unicode name (``CYRILLIC SMALL LETTER A`` ->
    ``CYRILLIC``); ``None`` for digits, punctuation, marks and modifier letters."""
    if unicodedata.category(char) not in ("Lu", "Ll", "Lt", "Lo"):
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return "HAN" if word in ("CJK", "IDEOGRAPHIC") else word or None


def mixes_scripts(text: str) -> bool:
    """True if ``text``'s letters come from scripts no single identifier combines
    (``k\u0430te``: Latin and Cyrillic), i.e. it could pass for another address."""
    scripts = {script for char in text if (script := _script(char))}
    if len(scripts) <= 1:
        return False
    return not any(scripts <= allowed for allowed in ALLOWED_SCRIPT_MIXES)


class User(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An account. ``hashed_password`` never leaves the service layer (ADR-0014)."""

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

    #: Set once the owner opened a verification link sent to the current address;
    #: cleared by an email change (ADR-0038).
    is_verified: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    @validates("email")
    def _normalise_email(self, _: str, value: str) -> str:
        return normalize_email(value)

    def __repr__(self) -> str:  # never the hash
        return f"User(id={self.id!s}, is_active={self.is_active}, is_superuser={self.is_superuser})"
