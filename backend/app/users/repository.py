"""Database access for users. Routes never import this module (import-linter contract);
they call :mod:`app.users.service`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, and_, bindparam, func, inspect, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from app.db.base import Base
from app.db.engine import is_read_only
from app.db.repository import MAX_PAGE_SIZE, Repository
from app.sessions.models import LoginSession
from app.users.models import User, normalize_email

#: ``sort`` value -> ORDER BY of the admin list; the id breaks ties.
ORDERS: dict[str, tuple[Any, ...]] = {
    "created_at": (User.created_at.asc(), User.id.asc()),
    "-created_at": (User.created_at.desc(), User.id.desc()),
    "email": (User.email.asc(), User.id.asc()),
    "-email": (User.email.desc(), User.id.desc()),
}


def _keys(model: type[Base]) -> tuple[str, ...]:
    """The attribute names of ``model``'s table columns, in column order."""
    mapper = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in model.__table__.c)


_USERS, _SESSIONS = User.__table__, LoginSession.__table__
_USER_KEYS, _SESSION_KEYS = _keys(User), _keys(LoginSession)
#: The principal's lookup as a Core query (ADR-0042): both rows by primary key, joined.
#: Built once, with bound parameters: no expression building or cache key per request.
_PRINCIPAL = (
    select(_USERS, _SESSIONS)
    .join_from(_USERS, _SESSIONS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(_USERS.c.id == bindparam("user_id"), _SESSIONS.c.id == bindparam("session_id"))
)


M = TypeVar("M", bound=Base)


def _persistent(model: type[M], keys: tuple[str, ...], values: Any) -> M:
    """An instance of ``model`` holding the loaded ``values`` as if the ORM had loaded it
    (no constructor, no attribute events: the values are the row's, already valid)."""
    instance: M = manager_of_class(model).new_instance()
    instance.__dict__.update(zip(keys, values, strict=True))
    make_transient_to_detached(instance)
    return instance


class UserRepository(Repository[User]):
    """Queries on the ``users`` table."""

    model = User

    async def get_by_email(self, email: str) -> User | None:
        """The user whose address equals ``email`` case-insensitively, or ``None``."""
        result = await self.session.scalars(
            select(User).where(User.email == normalize_email(email)).limit(1)
        )
        return result.first()

    async def get_with_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> tuple[User, LoginSession] | None:
        """The user and one of their sessions in **one** query (the principal's lookup,
        one round trip per request), or ``None`` when either is missing. A Core query
        and no ORM loading (ADR-0042). In a session that can write, both objects join it
        as if loaded. A read-only request's session cannot write: the query runs on a
        pooled connection of its own, handed back as soon as the row is read (the
        session checks one out only if the handler queries too), and the objects stay
        detached (every column is loaded: nothing to lazy-load)."""
        params = {"user_id": user_id, "session_id": session_id}
        bind, read_only = self.session.bind, is_read_only(self.session)
        if read_only and isinstance(bind, AsyncEngine):
            async with bind.connect() as connection:
                row = (await connection.execute(_PRINCIPAL, params)).first()
        else:
            row = (await self.session.execute(_PRINCIPAL, params)).first()
        if row is None:
            return None
        split = len(_USER_KEYS)
        user = _persistent(User, _USER_KEYS, row[:split])
        login = _persistent(LoginSession, _SESSION_KEYS, row[split:])
        if not read_only:
            self.session.add_all((user, login))
        return user, login

    async def page(
        self,
        *,
        offset: int,
        limit: int,
        email_contains: str | None = None,
        is_active: bool | None = None,
        is_superuser: bool | None = None,
        sort: str = "created_at",
    ) -> tuple[Sequence[User], int]:
        """One filtered page (allow-listed order, ``limit`` capped, R2) and its total."""
        conditions: list[Any] = []
        if email_contains:
            needle = email_contains.lower()
            conditions.append(User.email.contains(needle, autoescape=True))
        if is_active is not None:
            conditions.append(User.is_active == is_active)
        if is_superuser is not None:
            conditions.append(User.is_superuser == is_superuser)
        limit = max(0, min(limit, MAX_PAGE_SIZE))
        rows = await self.session.scalars(
            select(User)
            .where(*conditions)
            .order_by(*ORDERS[sort])
            .offset(max(0, offset))
            .limit(limit)
        )
        total = await self.session.scalar(select(func.count()).select_from(User).where(*conditions))
        return rows.all(), int(total or 0)

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

    async def change_roles(
        self, user: User, *, is_active: bool | None, is_superuser: bool | None
    ) -> bool:
        """Set ``is_active``/``is_superuser`` in one ``UPDATE`` that refuses to leave no
        active superuser: ``False`` (nothing written) when ``user`` is the last one and
        the change would demote or deactivate them.

        Race-free: the active superusers are locked first (``FOR UPDATE``, in id order;
        SQLite serialises writers instead), so of two admins demoting each other at once
        the second sees the first's change and is refused. Deactivating also revokes the
        user's tokens (the version is incremented in SQL, T9)."""
        values: dict[str, Any] = {}
        if is_superuser is not None:
            values["is_superuser"] = is_superuser
        if is_active is not None:
            values["is_active"] = is_active
            if not is_active:
                values["token_version"] = User.token_version + 1
        if not values:
            return True
        removes_an_admin = is_superuser is False or is_active is False
        condition: Any = true()
        if removes_an_admin:
            await self.session.execute(
                select(User.id)
                .where(User.is_superuser.is_(True), User.is_active.is_(True))
                .order_by(User.id)
                .with_for_update()
            )
            others = (
                select(func.count())
                .select_from(User)
                .where(User.is_superuser.is_(True), User.is_active.is_(True), User.id != user.id)
                .scalar_subquery()
            )
            was_admin = and_(User.is_superuser.is_(True), User.is_active.is_(True))
            condition = (~was_admin) | (others > 0)
        return await self._update(user, condition, **values)

    async def change_email(self, user: User, *, expected_hash: str, email: str) -> bool:
        """Store a new address, compare-and-set against the password hash just verified
        (a concurrent password change wins). Raises ``IntegrityError`` if it is taken."""
        return await self._update(
            user,
            User.hashed_password == expected_hash,
            email=normalize_email(email),
            is_verified=False,
        )

    async def reset_password(self, user: User, *, version: int, new: str) -> bool:
        """Store a new hash and revoke every token, compare-and-set on the token version a
        reset token was bound to: ``False`` if any credential change happened since."""
        return await self._update(
            user,
            User.token_version == version,
            hashed_password=new,
            token_version=User.token_version + 1,
        )

    async def mark_verified(self, user: User, *, email: str) -> bool:
        """Mark ``user`` verified if its address is still ``email`` (the one the link
        was sent to); ``False`` otherwise."""
        return await self._update(user, User.email == normalize_email(email), is_verified=True)
