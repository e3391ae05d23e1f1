"""Issue and spend single-use account tokens (ADR-0038; SECURITY T6, M1-M3).

A token is 32 random bytes (``secrets.token_urlsafe``), handed out once; the table keeps
its SHA-256 digest. :meth:`AccountTokens.spend` is one ``UPDATE ... WHERE digest = :d
AND purpose = :p AND used_at IS NULL AND expires_at > now RETURNING``: of concurrent
uses exactly one gets the row, an expired, used, forged or other-purpose token gets
nothing. Token kinds cannot be swapped: the purpose is part of the match.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AccountToken
from app.db.base import utcnow

Purpose = Literal["password_reset", "verify_email"]
#: ``token_urlsafe(32)`` is 43 characters; anything much longer is not ours.
MAX_TOKEN_LENGTH = 128


def digest(token: str) -> str:
    """The stored form of a token (hex SHA-256: the token is random, no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SpentToken:
    """Whose token was spent, and what it was bound to."""

    user_id: uuid.UUID
    bound_to: str


class AccountTokens:
    """The ``account_tokens`` table on one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def issue(
        self, user_id: uuid.UUID, purpose: Purpose, bound_to: str, lifetime: timedelta
    ) -> str:
        """A new token for ``user_id``; the user's unused tokens of ``purpose`` die."""
        now = utcnow()
        await self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == user_id,
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        token = secrets.token_urlsafe(32)
        await self.session.execute(
            insert(AccountToken).values(
                id=uuid.uuid4(),
                user_id=user_id,
                purpose=purpose,
                token_digest=digest(token),
                bound_to=bound_to,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return token

    async def spend(self, token: str, purpose: Purpose) -> SpentToken | None:
        """Mark the token used if it is live and of ``purpose``; ``None`` otherwise."""
        now = utcnow()
        result = await self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.token_digest == digest(token),
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
                AccountToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(AccountToken.user_id, AccountToken.bound_to)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return None if row is None else SpentToken(row[0], row[1])
