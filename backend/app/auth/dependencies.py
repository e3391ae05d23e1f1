"""Request dependencies of the credential flows: the auth service and the throttled
attempt (ADR-0028)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.recovery import RecoveryService
from app.auth.service import AuthService
from app.container import ContainerDep
from app.core.settings import SettingsDep
from app.db.session import SessionDep
from app.ratelimit.login_throttle import LoginAttempt
from app.sessions.service import SessionService
from app.users.dependencies import UserServiceDep


async def get_auth_service(
    accounts: UserServiceDep, settings: SettingsDep, session: SessionDep
) -> AuthService:
    """An :class:`AuthService` bound to the request's session, writing users through the
    users service and sessions through the sessions service."""
    return AuthService(accounts, settings, SessionService(session, settings))


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_login_attempt(request: Request, app: ContainerDep) -> LoginAttempt:
    """The login throttle bound to this request's client IP (scope ``login``)."""
    return app.login_throttle.attempt(request.scope)


LoginAttemptDep = Annotated[LoginAttempt, Depends(get_login_attempt)]


async def get_session_service(session: SessionDep, settings: SettingsDep) -> SessionService:
    """A :class:`SessionService` on the request's session."""
    return SessionService(session, settings)


SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]


async def get_recovery_service(accounts: UserServiceDep, session: SessionDep) -> RecoveryService:
    """A :class:`RecoveryService` on the request's session (reset, verification)."""
    return RecoveryService(accounts, session)


RecoveryServiceDep = Annotated[RecoveryService, Depends(get_recovery_service)]
