"""Database access for users. Routes never import this module (import-linter contract);
they call :mod:`app.users.service`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from app.db.repository import MAX_PAGE_SIZE, Repository
from app.users.models import User, normalize_email


class UserRepository(Repository[User]):
    """Queries on the ``users`` table."""

    model = User

    async def get_by_id(self, user_id: uuid.UUID) -> User | None:
        """The user with ``user_id``, or ``None``."""
        return await self.get(user_id)

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

    async def list_page(self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE) -> Sequence[User]:
        """One page of users, oldest first; ``limit`` capped at ``MAX_PAGE_SIZE`` (R2)."""
        return await self.list(offset=offset, limit=limit)

    async def set_active(self, user: User, active: bool) -> User:
        """Activate or deactivate ``user``; takes effect on its very next request (A7).

        Deactivating also revokes every token issued so far (T9): a later reactivation
        does not bring them back.
        """
        if user.is_active and not active:
            user.token_version += 1
        user.is_active = active
        await self.session.flush()
        return user

    async def set_superuser(self, user: User, superuser: bool) -> User:
        """Grant or revoke the admin role."""
        user.is_superuser = superuser
        await self.session.flush()
        return user

    async def set_password_hash(self, user: User, hashed_password: str) -> User:
        """Replace the stored hash of the *same* password (a bcrypt hash upgraded to
        argon2id at login): issued tokens stay valid."""
        user.hashed_password = hashed_password
        await self.session.flush()
        return user

    async def change_password(self, user: User, hashed_password: str) -> User:
        """Store the hash of a *new* password and revoke every token issued so far (T9)."""
        user.hashed_password = hashed_password
        user.token_version += 1
        await self.session.flush()
        return user
