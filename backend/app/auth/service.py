"""Login: check credentials, upgrade old hashes, issue an access token (ADR-0017, ADR-0018).

Unknown email, wrong password and inactive account all end in the *same*
:class:`~app.core.errors.Unauthorized` (message :data:`INVALID_CREDENTIALS`), after
the same amount of hashing work (P7, P8). Each attempt is logged with the user id
(or, for unknown emails, a hash of the email) and the outcome; never the
password, the token or the hash (E3, E4). The request id is added by logging.
"""

from __future__ import annotations

import hashlib
import logging

from app.core.errors import Conflict, Forbidden, Unauthorized
from app.core.settings import Settings
from app.credentials.tokens import AccessToken, create_access_token
from app.users.models import User, normalize_email
from app.users.service import UserService

logger = logging.getLogger("app.auth")

INVALID_CREDENTIALS = "Incorrect email or password."
WRONG_CURRENT = "The current password is incorrect."
CHANGED_CONCURRENTLY = (
    "The password was changed by another request at the same time. Log in again and retry."
)


def email_fingerprint(email: str) -> str:
    """A short, stable digest of the normalised email, for logs (never the address)."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:16]


def token_fingerprint(token: str) -> str:
    """A digest naming one bearer token (throttle keys; never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class AuthService:
    """Authenticate users and mint their access tokens."""

    def __init__(self, accounts: UserService, settings: Settings) -> None:
        #: Users are read and written through the users service (the one write path,
        #: which invalidates the cache); its hasher checks the passwords.
        self.accounts = accounts
        self.hasher = accounts.hasher
        self.settings = settings

    def _fail(self, outcome: str, *, user_id: str | None = None, email: str = "") -> Unauthorized:
        logger.warning(
            "login failed",
            extra={
                "event": "auth.login",
                "outcome": outcome,
                "user_id": user_id,
                "email_fp": None if user_id else email_fingerprint(email),
            },
        )
        return Unauthorized(INVALID_CREDENTIALS)

    async def authenticate(self, email: str, password: str) -> User:
        """The active user with these credentials, else :class:`Unauthorized`."""
        user = await self.accounts.find_by_email(email)
        if user is None:
            await self.hasher.dummy_verify(password)
            raise self._fail("unknown_email", email=email)
        result = await self.hasher.verify(password, user.hashed_password)
        if not result.ok:
            raise self._fail("wrong_password", user_id=str(user.id))
        if not user.is_active:
            raise self._fail("inactive_user", user_id=str(user.id))
        if result.new_hash is not None:
            upgraded = await self.accounts.upgrade_password_hash(
                user, verified=user.hashed_password, new=result.new_hash
            )
            if not upgraded:  # the password changed while we verified: it is not this one
                raise self._fail("password_changed", user_id=str(user.id))
            logger.info(
                "password hash upgraded",
                extra={"event": "auth.rehash", "outcome": "upgraded", "user_id": str(user.id)},
            )
        return user

    async def login(self, email: str, password: str) -> AccessToken:
        """Authenticate and issue an access token."""
        user = await self.authenticate(email, password)
        token = create_access_token(user.id, self.settings, version=user.token_version)
        logger.info(
            "login succeeded",
            extra={"event": "auth.login", "outcome": "success", "user_id": str(user.id)},
        )
        return token

    async def change_password(self, user: User, current: str, new: str) -> None:
        """Replace ``user``'s password after checking the current one (SECURITY P12), and
        revoke every token issued so far, the caller's included (T9). A wrong current
        password is :class:`Forbidden` (403): the token is fine, the proof is not. The
        write is compare-and-set against the hash just verified: of concurrent changes
        (or a change racing a login rehash) exactly one wins; the others are
        :class:`Conflict` (409) and change nothing."""
        verified = user.hashed_password
        result = await self.hasher.verify(current, verified)
        if not result.ok:
            logger.warning(
                "password change refused",
                extra={
                    "event": "auth.password_change",
                    "outcome": "wrong_password",
                    "user_id": str(user.id),
                },
            )
            raise Forbidden(WRONG_CURRENT)
        new_hash = await self.hasher.hash(new)
        if not await self.accounts.replace_password(user, verified=verified, new=new_hash):
            logger.warning(
                "password change refused",
                extra={
                    "event": "auth.password_change",
                    "outcome": "changed_concurrently",
                    "user_id": str(user.id),
                },
            )
            raise Conflict(CHANGED_CONCURRENTLY)
        logger.info(
            "password changed",
            extra={"event": "auth.password_change", "outcome": "changed", "user_id": str(user.id)},
        )
