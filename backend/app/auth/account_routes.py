"""``/api/v1/users/me``: self-service on your account and your sessions (ADR-0035).

Here, not in ``app.users``, because they are credential flows: the sessions are
``app.sessions``' and an email change is proven by the current password, throttled
like a password change (ADR-0028).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.auth.dependencies import LoginAttemptDep, SessionServiceDep
from app.auth.service import token_fingerprint
from app.container import ContainerDep
from app.core.errors import Forbidden, NotFound, error_responses
from app.core.paths import API_V1_PREFIX
from app.db.session import SessionDep
from app.sessions.schemas import SessionList, SessionPublic
from app.users.dependencies import BearerToken, CurrentSession, CurrentUser, UserServiceDep
from app.users.schemas import UserPublic, UserSelfUpdate
from app.users.verification import send_verification_after_commit

router = APIRouter(prefix=f"{API_V1_PREFIX}/users/me", tags=["users"])

SESSION_NOT_FOUND = "Session not found."


@router.patch(
    "",
    operation_id="users_update_me",
    summary="Change your account",
    responses=error_responses(403, 409, 422, 429, 503, retry_after=(429, 503)),
)
async def update_me(
    body: UserSelfUpdate,
    user: CurrentUser,
    token: BearerToken,
    accounts: UserServiceDep,
    attempt: LoginAttemptDep,
    session: SessionDep,
    app: ContainerDep,
) -> UserPublic:
    """Change your email. ``current_password`` must be your password now (403 otherwise;
    wrong guesses share the password-change throttle, 429). An address another account
    has, in any case or compatibility spelling, is a 409."""
    async with attempt.scoped("password").counted(token_fingerprint(token), failure=Forbidden):
        changed = await accounts.change_email(
            user, current_password=body.current_password, email=body.email
        )
    # The new address is unverified until its owner opens the mailed link (ADR-0038).
    send_verification_after_commit(session, app.jobs, changed)
    return UserPublic.model_validate(changed)


@router.get(
    "/sessions",
    operation_id="sessions_list",
    summary="List your sessions",
    responses=error_responses(),
)
async def list_sessions(
    user: CurrentUser, current: CurrentSession, sessions: SessionServiceDep
) -> SessionList:
    """Your live sessions, most recently used first; `current` marks this request's."""
    live = await sessions.live(user.id)
    items = [
        SessionPublic(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            expires_at=s.expires_at,
            user_agent=s.user_agent,
            client_ip=s.client_ip,
            current=s.id == current.id,
        )
        for s in live
    ]
    return SessionList(items=items, total=len(items))


@router.delete(
    "/sessions",
    status_code=204,
    operation_id="sessions_end_others",
    summary="End all your other sessions",
    responses=error_responses(),
    response_class=Response,
)
async def end_other_sessions(
    user: CurrentUser, current: CurrentSession, sessions: SessionServiceDep
) -> None:
    """End every session of yours but this one ("log out everywhere else")."""
    await sessions.end_all(user.id, keep=current.id)


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    operation_id="sessions_end",
    summary="End one of your sessions",
    responses=error_responses(404, 422),
    response_class=Response,
)
async def end_session(
    session_id: uuid.UUID, user: CurrentUser, sessions: SessionServiceDep
) -> None:
    """End one of your sessions (this one too, like a logout). Another user's session,
    an ended one and an unknown id are the same 404."""
    if not await sessions.end(user.id, session_id):
        raise NotFound(SESSION_NOT_FOUND)
