"""Database access for users. Routes never import this module (import-linter contract);
they call :mod:`app.users.service`."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from app.db.repository import Repository
from app.users.models import User, normalize_email


class UserRepository(Repository[User]):
    """Queries on the ``users`` table."""

    model = User

    async def get_by_email(self, email: str) -> User | None:
        """The user whose address equals ``email`` case-insensitively, or ``None``."""
        result = await self.session.scalars(
            select(User).where(User.email == normalize_email(email)).limit(1)
        )
        return result.first()

    async def create(
        self,
        *,
        email: str,
        hashed_password: str,
        is_superuser: bool = False,
        is_active: bool = True,
    ) -> User:
        """Insert a user. Raises ``sqlalchemy.exc.IntegrityError`` if the email is taken."""
        user = User(
            email=email,
            hashed_password=hashed_password,
            is_superuser=is_superuser,
            is_active=is_active,
        )
        return await self.add(user)

    async def _update(self, user: User, *conditions: Any, **values: Any) -> bool:
        """One ``UPDATE users SET ... WHERE id = :id [AND conditions]``, computed by the
        database (no read-modify-write in Python); ``user`` is reloaded when it matched.
        Returns whether the row matched: ``False`` means a condition no longer held."""
        statement = (
            update(User)
            .where(User.id == user.id, *conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        matched = cast("CursorResult[Any]", result).rowcount == 1
        if matched:
            await self.session.refresh(user)
        return matched

    async def set_active(self, user: User, active: bool) -> bool:
        """Activate or deactivate ``user``; takes effect on its very next request (A7).

        Deactivating also revokes every token issued so far (T9): the version is
        incremented by the database, so a concurrent change is never undone, and a later
        reactivation does not bring the tokens back.
        """
        if active:
            return await self._update(user, is_active=True)
        return await self._update(user, is_active=False, token_version=User.token_version + 1)

    async def replace_password_hash(
        self, user: User, *, expected: str, new: str, revoke_tokens: bool
    ) -> bool:
        """Compare-and-set the stored hash: write ``new`` only if the row still holds
        ``expected`` (the hash the caller verified against). ``revoke_tokens`` (a password
        change, T9) also increments the token version in the same statement; without it
        (a rehash of the same password at login) issued tokens stay valid. ``False``: the
        hash changed since it was read (a concurrent change or rehash); nothing written.
        """
        values: dict[str, Any] = {"hashed_password": new}
        if revoke_tokens:
            values["token_version"] = User.token_version + 1
        return await self._update(user, User.hashed_password == expected, **values)
