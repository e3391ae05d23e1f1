"""Login (``/api/v1/auth/login``), refresh, logout, password change
(``/api/v1/auth/password``) and the deprecated legacy aliases ``/auth/login`` and
``/auth/me`` (ADR-0002, ADR-0018, ADR-0028, ADR-0034)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from app.auth.dependencies import AuthServiceDep, LoginAttemptDep
from app.auth.schemas import LoginForm, PasswordChange, RefreshRequest, TokenResponse
from app.auth.service import AuthService, TokenPair, email_fingerprint, token_fingerprint
from app.container import ContainerDep
from app.core.errors import Forbidden, Unauthorized, error_responses
from app.core.paths import API_V1_PREFIX
from app.ratelimit.login_throttle import LoginAttempt
from app.users.dependencies import AnyUser, BearerToken, CurrentSession, CurrentUser
from app.users.schemas import UserPublic

router = APIRouter(prefix=f"{API_V1_PREFIX}/auth", tags=["auth"])
#: Unversioned aliases kept for old clients; deprecated in OpenAPI.
legacy_router = APIRouter(prefix="/auth", tags=["auth"], deprecated=True)


#: 429: brute-force protection (ADR-0028, SECURITY P10); 503: hashing backlog full (P11).
LOGIN_ERRORS = error_responses(401, 422, 429, 503, retry_after=(429, 503))


def _tokens(pair: TokenPair, response: Response) -> TokenResponse:
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


async def _login(
    form: LoginForm,
    service: AuthService,
    response: Response,
    attempt: LoginAttempt,
    request: Request,
    app: ContainerDep,
) -> TokenResponse:
    # Each attempt is counted per account and per IP before any hash is checked (P10).
    async with attempt.counted(email_fingerprint(form.username), failure=Unauthorized):
        pair = await service.login(
            form.username,
            form.password,
            user_agent=request.headers.get("user-agent"),
            client_ip=app.proxies.client_ip(request.scope),
        )
    return _tokens(pair, response)


@router.post("/login", operation_id="auth_login", summary="Log in", responses=LOGIN_ERRORS)
async def login(
    form: Annotated[LoginForm, Form()],
    service: AuthServiceDep,
    response: Response,
    attempt: LoginAttemptDep,
    request: Request,
    app: ContainerDep,
) -> TokenResponse:
    """OAuth2 password flow: form fields ``username`` (the email) and ``password``.
    Starts a session: the answer holds a short-lived access token and a refresh token.

    401 with one message for an unknown email, a wrong password or an inactive user.
    """
    return await _login(form, service, response, attempt, request, app)


@router.post(
    "/refresh",
    operation_id="auth_refresh",
    summary="Renew the tokens",
    responses=error_responses(401, 422),
)
async def refresh(
    body: RefreshRequest, service: AuthServiceDep, response: Response
) -> TokenResponse:
    """Exchange a refresh token for a new access token and a new refresh token; the one
    presented stops working. Presenting a refresh token that was already exchanged ends
    the whole session (its newest tokens included): 401. An unknown token, an ended
    session or an inactive account: the same 401."""
    return _tokens(await service.refresh(body.refresh_token), response)


@router.post(
    "/logout",
    operation_id="auth_logout",
    summary="Log out",
    status_code=204,
    response_class=Response,
)
async def logout(user: AnyUser, session: CurrentSession, service: AuthServiceDep) -> None:
    """End the session of the bearer token: its access and refresh tokens are refused
    from the next request on. Other sessions stay."""
    await service.logout(user, session)


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
    session: CurrentSession,
    token: BearerToken,
    service: AuthServiceDep,
    attempt: LoginAttemptDep,
) -> None:
    """Replace the caller's password. ``current_password`` must be the password the
    account has now (403 otherwise). Guesses are throttled per token and per IP, on
    counters of their own (429 when spent): a stolen token cannot lock its owner out.
    On success every access token issued so far is revoked, this one included, and every
    other session ends: renew this session's access token with its refresh token (or log
    in again). Concurrent changes: one wins, the others are 409."""
    async with attempt.scoped("password").counted(token_fingerprint(token), failure=Forbidden):
        await service.change_password(
            user, body.current_password, body.new_password, session=session.id
        )


@legacy_router.post(
    "/login", operation_id="auth_login_legacy", summary="Log in (legacy)", responses=LOGIN_ERRORS
)
async def login_legacy(
    form: Annotated[LoginForm, Form()],
    service: AuthServiceDep,
    response: Response,
    attempt: LoginAttemptDep,
    request: Request,
    app: ContainerDep,
) -> TokenResponse:
    """Deprecated alias of ``POST /api/v1/auth/login``."""
    return await _login(form, service, response, attempt, request, app)


@legacy_router.get("/me", operation_id="auth_me_legacy", summary="The current user (legacy)")
async def me_legacy(user: AnyUser) -> UserPublic:
    """Deprecated alias of ``GET /api/v1/users/me``."""
    return UserPublic.model_validate(user)
