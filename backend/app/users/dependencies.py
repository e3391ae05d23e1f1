"""The principal: who is calling, as request dependencies (ADR-0019, ADR-0032).

``users`` owns the principal (the :class:`~app.users.models.User` a bearer token names);
``auth`` (login, password change) builds on it and ``users`` never imports ``auth``.

Deny by default: a route is protected by depending on :func:`get_current_user`
(or :data:`CurrentUser` / :func:`require_roles`); the route-table walk in
``tests/integration/test_auth_routes_protected.py`` fails for any route that is
neither protected nor on its explicit public allow-list (SECURITY A2).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.exc import SQLAlchemyError

from app.container import ContainerDep
from app.core.errors import Forbidden, ServiceUnavailable, Unauthorized
from app.core.paths import API_V1_PREFIX
from app.core.settings import SettingsDep
from app.credentials.tokens import InvalidToken, decode_access_claims
from app.db.base import utcnow
from app.db.session import SessionDep
from app.sessions.models import LoginSession
from app.users.models import User
from app.users.repository import UserRepository
from app.users.service import UserService

logger = logging.getLogger("app.auth")

#: Reads ``Authorization: Bearer <token>`` only: never a query parameter or cookie (T10).
#: ``auto_error=False`` so a missing token is *our* 401 envelope, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=f"{API_V1_PREFIX}/auth/login",  # the login route of app.auth (a URL, no import)
    scheme_name="OAuth2PasswordBearer",
    description=(
        "Send `Authorization: Bearer <access_token>`, the `access_token` of "
        "`POST /api/v1/auth/login`. Never in the URL or a cookie."
    ),
    auto_error=False,
)

#: The one message for every authentication failure (no oracle, T1-T5).
NOT_AUTHENTICATED = "Not authenticated."


def _reject(reason: str, **fields: object) -> Unauthorized:
    logger.warning(
        "authentication rejected", extra={"event": "auth.token", "outcome": reason, **fields}
    )
    return Unauthorized(NOT_AUTHENTICATED)


async def get_bearer_token(token: Annotated[str | None, Depends(oauth2_scheme)]) -> str:
    """The request's bearer token, else a 401 envelope (no token is never a pass)."""
    if not token:
        raise _reject("missing_token")
    return token


#: The raw bearer token (e.g. to key a per-token budget); never log or store it.
BearerToken = Annotated[str, Depends(get_bearer_token)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and the login session their access token belongs to."""

    user: User
    session: LoginSession


async def get_principal(
    session: SessionDep, settings: SettingsDep, token: BearerToken
) -> Principal:
    """The active user named by the bearer token, issued at the user's current token
    version (T9), in a live session of theirs (T12), else a 401 envelope with
    ``WWW-Authenticate: Bearer``. User and session come from **one** query. A failed
    lookup is a 503, never a pass (E7)."""
    try:
        claims = decode_access_claims(token, settings)
        user_id = claims.user_id
    except InvalidToken as exc:
        raise _reject("invalid_token", detail=str(exc)) from None
    try:
        found = await UserRepository(session).get_with_session(user_id, claims.session_id)
    except (SQLAlchemyError, OSError) as exc:
        logger.error(
            "authorization lookup failed; denying",
            extra={"event": "auth.token", "outcome": "lookup_failed", "user_id": str(user_id)},
        )
        raise ServiceUnavailable("Authorization is temporarily unavailable.") from exc
    if found is None:
        raise _reject("unknown_user", user_id=str(user_id), session_id=str(claims.session_id))
    user, login = found
    if not user.is_active:
        raise _reject("inactive_user", user_id=str(user_id))
    if claims.version != user.token_version:
        raise _reject("revoked_token", user_id=str(user_id))
    if not login.is_live(utcnow()):
        raise _reject("session_ended", user_id=str(user_id), session_id=str(login.id))
    return Principal(user=user, session=login)


#: The caller and their session (for routes that act on the session: logout, listing).
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


#: The 403 of ``REQUIRE_VERIFIED_EMAIL`` (ADR-0038).
EMAIL_NOT_VERIFIED = (
    "Confirm your email address first (POST /api/v1/auth/verify-email/resend sends a new link)."
)


class EmailNotVerified(Forbidden):
    """403 with its own code: the account works, its address is not confirmed yet."""

    @property
    def code(self) -> str:
        return "email_not_verified"


async def get_any_user(principal: CurrentPrincipal) -> User:
    """The calling user, verified address or not: only for reading yourself, resending
    the verification mail and logging out (ADR-0038)."""
    return principal.user


#: An authenticated user whose address may be unverified (401 otherwise).
AnyUser = Annotated[User, Depends(get_any_user)]


async def get_current_user(principal: CurrentPrincipal, settings: SettingsDep) -> User:
    """The calling user (see :func:`get_principal`); FastAPI runs the lookup once per
    request even when a route also asks for the principal. With
    ``REQUIRE_VERIFIED_EMAIL`` an unverified user is a 403 ``email_not_verified``.
    (On the principal directly, not through :func:`get_any_user`: one dependency
    less on every authenticated request.)"""
    user = principal.user
    if settings.require_verified_email and not user.is_verified:
        logger.warning(
            "unverified address refused",
            extra={"event": "authz.verified", "outcome": "denied", "user_id": str(user.id)},
        )
        raise EmailNotVerified(EMAIL_NOT_VERIFIED)
    return user


#: Any active user with a valid token (401 otherwise; 403 ``email_not_verified`` when
#: ``REQUIRE_VERIFIED_EMAIL`` and the address is unconfirmed).
CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_session(principal: CurrentPrincipal, _: AnyUser) -> LoginSession:
    """The caller's login session (the ``sid`` of their access token). Depends on
    :func:`get_any_user` too, so the deny-by-default walk sees a protected route."""
    return principal.session


#: The session the caller's access token belongs to (logout, "this device").
CurrentSession = Annotated[LoginSession, Depends(get_current_session)]

#: Role name -> predicate on the user. "admin" is the superuser flag (ADR-0019).
ROLES: dict[str, Callable[[User], bool]] = {"admin": lambda user: user.is_superuser}


def require_roles(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency that passes the current user holding *any* of ``roles``, else 403.

    Unknown role names fail at import time, not at request time.
    """
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        raise ValueError(f"unknown roles: {unknown or 'none given'}")

    async def dependency(user: CurrentUser) -> User:
        if not any(ROLES[role](user) for role in roles):
            logger.warning(
                "authorization denied",
                extra={
                    "event": "authz.role",
                    "outcome": "denied",
                    "user_id": str(user.id),
                    "required": ",".join(roles),
                },
            )
            raise Forbidden()
        return user

    return dependency


#: The current user, who must be an admin (403 otherwise).
AdminUser = Annotated[User, Depends(require_roles("admin"))]


async def get_user_service(session: SessionDep, app: ContainerDep) -> UserService:
    """A :class:`UserService` bound to the request's session (the one user write path)."""
    return UserService(session, app.hasher, app.user_cache)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
