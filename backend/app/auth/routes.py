"""Login (``/api/v1/auth/login``), password change (``/api/v1/auth/password``) and the
deprecated legacy aliases ``/auth/login`` and ``/auth/me`` (ADR-0002, ADR-0018, ADR-0028)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response

from app.auth.dependencies import AuthServiceDep, LoginAttemptDep
from app.auth.schemas import LoginForm, PasswordChange, TokenResponse
from app.auth.service import AuthService, email_fingerprint, token_fingerprint
from app.core.errors import Forbidden, Unauthorized, error_responses
from app.core.paths import API_V1_PREFIX
from app.ratelimit.login_throttle import LoginAttempt
from app.users.dependencies import BearerToken, CurrentUser
from app.users.schemas import UserPublic

router = APIRouter(prefix=f"{API_V1_PREFIX}/auth", tags=["auth"])
#: Unversioned aliases kept for old clients; deprecated in OpenAPI.
legacy_router = APIRouter(prefix="/auth", tags=["auth"], deprecated=True)


#: 429: brute-force protection (ADR-0028, SECURITY P10); 503: hashing backlog full (P11).
LOGIN_ERRORS = error_responses(401, 422, 429, 503, retry_after=(429, 503))


async def _login(
    form: LoginForm, service: AuthService, response: Response, attempt: LoginAttempt
) -> TokenResponse:
    # Each attempt is counted per account and per IP before any hash is checked (P10).
    async with attempt.counted(email_fingerprint(form.username), failure=Unauthorized):
        token = await service.login(form.username, form.password)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(access_token=token.token, expires_in=token.expires_in)


@router.post("/login", operation_id="auth_login", summary="Log in", responses=LOGIN_ERRORS)
async def login(
    form: Annotated[LoginForm, Form()],
    service: AuthServiceDep,
    response: Response,
    attempt: LoginAttemptDep,
) -> TokenResponse:
    """OAuth2 password flow: form fields ``username`` (the email) and ``password``.

    401 with one message for an unknown email, a wrong password or an inactive user.
    """
    return await _login(form, service, response, attempt)


@router.post(
    "/password",
    operation_id="auth_change_password",
    summary="Change the password",
    status_code=204,
    responses=error_responses(401, 403, 409, 422, 429, 503, retry_after=(429, 503)),
)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    token: BearerToken,
    service: AuthServiceDep,
    attempt: LoginAttemptDep,
) -> None:
    """Replace the caller's password. ``current_password`` must be the password the
    account has now (403 otherwise). Guesses are throttled per token and per IP, on
    counters of their own (429 when spent): a stolen token cannot lock its owner out.
    On success every token issued so far is revoked, this one included: log in again
    with the new password. Concurrent changes: one wins, the others are 409."""
    async with attempt.scoped("password").counted(token_fingerprint(token), failure=Forbidden):
        await service.change_password(user, body.current_password, body.new_password)


@legacy_router.post(
    "/login", operation_id="auth_login_legacy", summary="Log in (legacy)", responses=LOGIN_ERRORS
)
async def login_legacy(
    form: Annotated[LoginForm, Form()],
    service: AuthServiceDep,
    response: Response,
    attempt: LoginAttemptDep,
) -> TokenResponse:
    """Deprecated alias of ``POST /api/v1/auth/login``."""
    return await _login(form, service, response, attempt)


@legacy_router.get("/me", operation_id="auth_me_legacy", summary="The current user (legacy)")
async def me_legacy(user: CurrentUser) -> UserPublic:
    """Deprecated alias of ``GET /api/v1/users/me``."""
    return UserPublic.model_validate(user)
