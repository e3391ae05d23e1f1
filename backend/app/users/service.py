"""User use cases: sign-up, lookup with the authorization rule, admin listing (ADR-0019,
ADR-0031). Routes call this module; it calls :mod:`app.users.repository`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache.json_cache import JsonCache
from app.core.audit import audit
from app.core.errors import Conflict, Forbidden, NotFound
from app.credentials.passwords import PasswordHasher
from app.db.repository import MAX_PAGE_SIZE
from app.db.session import after_commit
from app.sessions.service import SessionService
from app.users.models import User
from app.users.repository import UserRepository
from app.users.schemas import UserPublic

logger = logging.getLogger("app.users")

EMAIL_TAKEN = "A user with this email already exists."
CANNOT_DELETE_SELF = "An admin cannot delete their own account."
LAST_ADMIN = "The last active superuser cannot be demoted or deactivated."
WRONG_CURRENT = "The current password is incorrect."

__all__ = ["CANNOT_DELETE_SELF", "EMAIL_TAKEN", "LAST_ADMIN", "MAX_PAGE_SIZE", "UserService"]


class UserService:
    """Everything the users routes (and the CLI) may do with users."""

    def __init__(
        self, session: AsyncSession, hasher: PasswordHasher, cache: JsonCache | None = None
    ) -> None:
        self.repo = UserRepository(session)
        #: Sessions end with the account's credentials: all at a deactivation, all but
        #: the caller's at a password change (ADR-0035).
        self.sessions = SessionService(session)
        self.hasher = hasher
        #: The public-payload cache (ADR-0025). Every write to a user goes through this
        #: class and invalidates it (tests/unit/test_user_writes.py keeps it that way).
        self.cache = cache

    async def _changed(self, user: User) -> None:
        """Every write to a user ends here: its cached payload is dropped now, and again once
        the request's transaction has committed, so a reader that ran in between cannot
        leave the old row cached (ADR-0025)."""
        cache = self.cache
        if cache is None:
            return
        key = str(user.id)
        await cache.invalidate(key)
        after_commit(self.repo.session, lambda: cache.invalidate(key))

    async def upgrade_password_hash(self, user: User, *, verified: str, new: str) -> bool:
        """Store a stronger hash of the *same* password (a login rehash): tokens stay valid.
        Compare-and-set against ``verified``, the hash the password was checked against:
        ``False`` (nothing written) if the password changed meanwhile, so a rehash never
        undoes a newer password (T9)."""
        written = await self.repo.replace_password_hash(
            user, expected=verified, new=new, revoke_tokens=False
        )
        if written:
            await self._changed(user)
        return written

    async def replace_password(
        self, user: User, *, verified: str, new: str, keep_session: uuid.UUID | None = None
    ) -> bool:
        """Store the hash of a *new* password and revoke every token issued so far (T9),
        compare-and-set against ``verified`` like :meth:`upgrade_password_hash`: of
        concurrent changes from the same current password exactly one writes. Every
        session but ``keep_session`` (the caller's) ends (T16)."""
        written = await self.repo.replace_password_hash(
            user, expected=verified, new=new, revoke_tokens=True
        )
        if written:
            await self._changed(user)
            await self.sessions.end_all(user.id, keep=keep_session)
        return written

    async def reset_password(self, user: User, *, version: int, new: str) -> bool:
        """Store the hash of a password chosen through a reset link (ADR-0038): every
        token revoked and every session ended, compare-and-set on the token version the
        link was bound to (``False``, nothing written, when the credentials changed)."""
        written = await self.repo.reset_password(user, version=version, new=new)
        if written:
            await self._changed(user)
            await self.sessions.end_all(user.id)
        return written

    async def mark_verified(self, user: User, *, email: str) -> bool:
        """Record that ``user`` proved ``email`` (still its address), ADR-0038."""
        written = await self.repo.mark_verified(user, email=email)
        if written:
            await self._changed(user)
        return written

    async def find_by_id(self, user_id: uuid.UUID) -> User | None:
        """The user with this id, or ``None`` (no authorization: callers decide)."""
        return await self.repo.get(user_id)

    async def find_by_email(self, email: str) -> User | None:
        """The user with this address (same normalisation as sign-up), or ``None``."""
        return await self.repo.get_by_email(email)

    async def sign_up(self, email: str, password: str, *, is_superuser: bool = False) -> User:
        """Create an account. A taken email (any case) is a :class:`Conflict` (409).

        The password is hashed *before* any database work, so a sign-up never holds a
        pooled connection while it waits for the hasher, and one refused by a full
        hashing backlog (503, P11) costs no query. The unique index decides, not the
        pre-check: of N concurrent sign-ups with one address exactly one inserts and the
        rest get ``IntegrityError`` -> 409 (A8).
        """
        hashed = await self.hasher.hash(password)
        if await self.repo.get_by_email(email) is not None:
            raise Conflict(EMAIL_TAKEN)
        try:
            user = await self.repo.create(
                email=email, hashed_password=hashed, is_superuser=is_superuser
            )
        except IntegrityError:
            # The session is rolled back by the request's session dependency.
            raise Conflict(EMAIL_TAKEN) from None
        logger.info(
            "user created",
            extra={"event": "users.create", "outcome": "created", "user_id": str(user.id)},
        )
        return user

    def authorize_read(self, caller: User, user_id: uuid.UUID) -> None:
        """Raise :class:`Forbidden` unless ``caller`` may read ``user_id`` (SECURITY A1).

        Non-superusers may read only themselves: any other id, existing or not, is the
        same 403, so the answer is no existence oracle.
        """
        if caller.id == user_id or caller.is_superuser:
            return
        logger.warning(
            "authorization denied",
            extra={
                "event": "authz.user_read",
                "outcome": "denied",
                "user_id": str(caller.id),
                "target_id": str(user_id),
            },
        )
        raise Forbidden()

    async def get_for_caller(self, caller: User, user_id: uuid.UUID) -> User:
        """``user_id``'s user as ``caller`` may see it (SECURITY A1): see
        :meth:`authorize_read`. Only superusers can get a 404.
        """
        self.authorize_read(caller, user_id)
        if caller.id == user_id:
            return caller
        user = await self.repo.get(user_id)
        if user is None:
            raise NotFound("User not found.")
        return user

    async def get_public_for_caller(self, caller: User, user_id: uuid.UUID) -> UserPublic:
        """:meth:`get_for_caller` as the public payload, through the cache (ADR-0025).

        Authorization runs on every call, cached or not: the cache holds data, never
        decisions. A cache problem or a cached value that is not a valid payload is a miss.
        """
        self.authorize_read(caller, user_id)
        if self.cache is not None and (hit := await self.cache.get(str(user_id))) is not None:
            try:
                return UserPublic.model_validate(hit)
            except ValidationError:
                pass  # not our payload: a miss (RL8)
        public = UserPublic.model_validate(await self.get_for_caller(caller, user_id))
        if self.cache is not None:
            await self.cache.set(str(user_id), public.model_dump(mode="json"))
        return public

    async def list_users(
        self,
        *,
        offset: int = 0,
        limit: int = MAX_PAGE_SIZE,
        email_contains: str | None = None,
        is_active: bool | None = None,
        is_superuser: bool | None = None,
        sort: str = "created_at",
    ) -> tuple[Sequence[User], int]:
        """One filtered page of users and their total (admin only; the route enforces it)."""
        return await self.repo.page(
            offset=offset,
            limit=limit,
            email_contains=email_contains,
            is_active=is_active,
            is_superuser=is_superuser,
            sort=sort,
        )

    async def change_roles(
        self, caller: User, user_id: uuid.UUID, *, is_active: bool | None, is_superuser: bool | None
    ) -> User:
        """Set ``is_active`` / ``is_superuser`` (admins only; the route enforces it). 404
        for an unknown id; 409 when it would leave no active superuser (race-free, A10).
        Deactivation revokes the user's tokens and sessions at once (A9)."""
        user = await self.repo.get(user_id)
        if user is None:
            raise NotFound("User not found.")
        was_active = user.is_active
        if not await self.repo.change_roles(user, is_active=is_active, is_superuser=is_superuser):
            raise Conflict(LAST_ADMIN)
        await self._changed(user)
        if was_active and is_active is False:
            await self.sessions.end_all(user.id, actor=caller.id)
        audit(
            logger,
            "user changed by an admin",
            event="users.admin_change",
            outcome="changed",
            actor=caller.id,
            subject=user.id,
            is_active=is_active,
            is_superuser=is_superuser,
        )
        return user

    async def change_email(self, user: User, *, current_password: str, email: str) -> User:
        """Move ``user`` to a new address after checking ``current_password`` (403
        otherwise). 409 if the address is taken under the sign-up normalisation, or if
        the password changed meanwhile (compare-and-set on the hash; nothing written)."""
        verified = user.hashed_password
        if not (await self.hasher.verify(current_password, verified)).ok:
            audit(
                logger,
                "email change refused",
                event="users.email_change",
                outcome="wrong_password",
                actor=user.id,
                subject=user.id,
                level=logging.WARNING,
            )
            raise Forbidden(WRONG_CURRENT)
        if (other := await self.repo.get_by_email(email)) is not None and other.id != user.id:
            raise Conflict(EMAIL_TAKEN)
        try:
            written = await self.repo.change_email(user, expected_hash=verified, email=email)
        except IntegrityError:
            raise Conflict(EMAIL_TAKEN) from None
        if not written:
            raise Conflict("The password changed meanwhile; nothing was written.")
        await self._changed(user)
        audit(
            logger,
            "email changed",
            event="users.email_change",
            outcome="changed",
            actor=user.id,
            subject=user.id,
        )
        return user

    async def delete(self, caller: User, user_id: uuid.UUID) -> None:
        """Delete ``user_id``'s account (admins only; the route enforces it). The id stays
        gone: its reads are 404 and its tokens 401 from then on (SECURITY A6); the cached
        payload goes with it. An admin cannot delete their own account (409), so a
        deployment always keeps the admin who acts."""
        if caller.id == user_id:
            raise Conflict(CANNOT_DELETE_SELF)
        user = await self.repo.get(user_id)
        if user is None:
            raise NotFound("User not found.")
        # Ended first, so each session gets its audit line; the rows go with the user.
        await self.sessions.end_all(user.id, actor=caller.id)
        await self.repo.delete(user)
        await self._changed(user)
        audit(
            logger, "user deleted", event="users.delete", outcome="deleted",
            actor=caller.id, subject=user_id, target_id=str(user_id),
        )  # fmt: skip

    async def create_superuser(self, email: str, password: str) -> User:
        """Create an admin (the CLI's ``create-superuser``). 409 if the email is taken."""
        return await self.sign_up(email, password, is_superuser=True)
