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
import uuid
from dataclasses import dataclass

from app.core.audit import audit
from app.core.errors import Conflict, Forbidden, Unauthorized
from app.core.settings import Settings
from app.credentials.tokens import create_access_token
from app.sessions.models import LoginSession
from app.sessions.service import INVALID_REFRESH, SessionService
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


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh hands out: an access token and the next refresh token."""

    access_token: str
    expires_in: int
    refresh_token: str
    session_id: uuid.UUID


class AuthService:
    """Authenticate users, start and renew their sessions, mint their tokens."""

    def __init__(self, accounts: UserService, settings: Settings, sessions: SessionService) -> None:
        #: Users are read and written through the users service (the one write path,
        #: which invalidates the cache); its hasher checks the passwords.
        self.accounts = accounts
        self.hasher = accounts.hasher
        self.settings = settings
        self.sessions = sessions

    def _pair(self, user: User, session: LoginSession, refresh_token: str) -> TokenPair:
        access = create_access_token(
            user.id, self.settings, version=user.token_version, session_id=session.id
        )
        return TokenPair(access.token, access.expires_in, refresh_token, session.id)

    def _fail(self, outcome: str, *, user_id: str | None = None, email: str = "") -> Unauthorized:
        audit(
            logger,
            "login failed",
            event="auth.login",
            outcome=outcome,
            actor=user_id,  # the account tried, when it exists; else only a digest
            subject=user_id,
            level=logging.WARNING,
            email_fp=None if user_id else email_fingerprint(email),
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

    async def login(
        self, email: str, password: str, *, user_agent: str | None, client_ip: str | None
    ) -> TokenPair:
        """Authenticate, start a session and issue its first token pair."""
        user = await self.authenticate(email, password)
        issued = await self.sessions.start(user.id, user_agent=user_agent, client_ip=client_ip)
        audit(
            logger,
            "login succeeded",
            event="auth.login",
            outcome="success",
            actor=user.id,
            subject=user.id,
            session=issued.session.id,
        )
        return self._pair(user, issued.session, issued.refresh_token)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate ``refresh_token`` (reuse revokes the session, ADR-0034) and issue a new
        pair for the session's user, who must still be active (401 otherwise)."""
        issued = await self.sessions.rotate(refresh_token)
        session = issued.session
        user = await self.accounts.find_by_id(session.user_id)
        if user is None or not user.is_active:
            audit(
                logger,
                "refresh refused",
                event="auth.refresh",
                outcome="inactive_user",
                subject=session.user_id,
                session=session.id,
                level=logging.WARNING,
            )
            raise Unauthorized(INVALID_REFRESH)
        audit(
            logger,
            "session refreshed",
            event="auth.refresh",
            outcome="rotated",
            actor=user.id,
            subject=user.id,
            session=session.id,
        )
        return self._pair(user, session, issued.refresh_token)

    async def logout(self, user: User, session: LoginSession) -> None:
        """End the caller's session: its access and refresh tokens fail from now on."""
        await self.sessions.end(user.id, session.id)

    async def change_password(
        self, user: User, current: str, new: str, *, session: uuid.UUID | None = None
    ) -> None:
        """Replace ``user``'s password after checking the current one (SECURITY P12), and
        revoke every token issued so far, the caller's included (T9). A wrong current
        password is :class:`Forbidden` (403): the token is fine, the proof is not. The
        write is compare-and-set against the hash just verified: of concurrent changes
        (or a change racing a login rehash) exactly one wins; the others are
        :class:`Conflict` (409) and change nothing."""
        verified = user.hashed_password
        result = await self.hasher.verify(current, verified)
        if not result.ok:
            _refused_change(user, session, "wrong_password")
            raise Forbidden(WRONG_CURRENT)
        new_hash = await self.hasher.hash(new)
        changed = await self.accounts.replace_password(
            user, verified=verified, new=new_hash, keep_session=session
        )
        if not changed:
            _refused_change(user, session, "changed_concurrently")
            raise Conflict(CHANGED_CONCURRENTLY)
        audit(
            logger,
            "password changed",
            event="auth.password_change",
            outcome="changed",
            actor=user.id,
            subject=user.id,
            session=session,
        )


def _refused_change(user: User, session: uuid.UUID | None, outcome: str) -> None:
    """The audit line of a refused password change (the proof or the race failed)."""
    audit(
        logger, "password change refused", event="auth.password_change", outcome=outcome,
        actor=user.id, subject=user.id, session=session, level=logging.WARNING,
    )  # fmt: skip
