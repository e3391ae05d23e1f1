"""Password reset and email verification: spend a mailed token (ADR-0038).

Every refusal is the same :class:`InvalidAccountToken` (400, code ``invalid_token``):
a used, expired, forged or other-purpose token, a reset token whose account changed
its credentials since it was issued (password change, another reset, deactivation:
the token version moved), a verification token for an address the account no longer
has. Confirming a reset revokes every access token and ends every session.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.account_tokens import AccountTokens
from app.core.audit import audit
from app.core.errors import BadRequest
from app.users.service import UserService

logger = logging.getLogger("app.auth")

INVALID_LINK = "This link is invalid, has expired or was already used. Ask for a new one."


class InvalidAccountToken(BadRequest):
    """The one answer to a reset or verification token that does not work."""

    @property
    def code(self) -> str:
        return "invalid_token"


class RecoveryService:
    """Spend reset and verification tokens; users are written through :class:`UserService`."""

    def __init__(self, accounts: UserService, session: AsyncSession) -> None:
        self.accounts = accounts
        self.tokens = AccountTokens(session)

    def _refuse(self, event: str, reason: str, subject: object = None) -> InvalidAccountToken:
        audit(logger, "token refused", event=event, outcome=reason, subject=subject,  # type: ignore[arg-type]
              level=logging.WARNING)  # fmt: skip
        return InvalidAccountToken(INVALID_LINK)

    async def reset_password(self, token: str, new_password: str) -> None:
        """Set a new password with a reset token (single use, 204 in the route)."""
        spent = await self.tokens.spend(token, "password_reset")
        if spent is None:
            raise self._refuse("auth.password_reset", "invalid_token")
        user = await self.accounts.find_by_id(spent.user_id)
        if user is None or not user.is_active or str(user.token_version) != spent.bound_to:
            raise self._refuse("auth.password_reset", "stale_token", spent.user_id)
        new_hash = await self.accounts.hasher.hash(new_password)
        if not await self.accounts.reset_password(user, version=int(spent.bound_to), new=new_hash):
            raise self._refuse("auth.password_reset", "stale_token", spent.user_id)
        audit(logger, "password reset", event="auth.password_reset", outcome="reset",
              actor=user.id, subject=user.id)  # fmt: skip

    async def verify_email(self, token: str) -> None:
        """Mark the account verified with a verification token (single use)."""
        spent = await self.tokens.spend(token, "verify_email")
        if spent is None:
            raise self._refuse("auth.verify_email", "invalid_token")
        user = await self.accounts.find_by_id(spent.user_id)
        if user is None or not await self.accounts.mark_verified(user, email=spent.bound_to):
            raise self._refuse("auth.verify_email", "stale_token", spent.user_id)
        audit(logger, "email verified", event="auth.verify_email", outcome="verified",
              actor=user.id, subject=user.id)  # fmt: skip
