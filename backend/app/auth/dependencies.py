"""Request dependencies of the credential flows: the auth service and the throttled
attempt (ADR-0028)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.service import AuthService
from app.container import ContainerDep
from app.core.settings import SettingsDep
from app.ratelimit.login_throttle import LoginAttempt
from app.users.dependencies import UserServiceDep


async def get_auth_service(accounts: UserServiceDep, settings: SettingsDep) -> AuthService:
    """An :class:`AuthService` bound to the request's session, writing through the users
    service."""
    return AuthService(accounts, settings)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_login_attempt(request: Request, app: ContainerDep) -> LoginAttempt:
    """The login throttle bound to this request's client IP (scope ``login``)."""
    return app.login_throttle.attempt(request.scope)


LoginAttemptDep = Annotated[LoginAttempt, Depends(get_login_attempt)]
