"""``/api/v1/auth``: password reset and email verification (ADR-0038).

The mail itself is always sent by a job (ADR-0036): these routes count the request
against the mail throttle, enqueue, and answer. A reset request does no lookup at all,
so its answer and its timing are the same for every address (P9).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.auth.dependencies import RecoveryServiceDep
from app.auth.jobs import SEND_PASSWORD_RESET, reset_job_id
from app.auth.schemas import (
    EmailVerification,
    MailAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
)
from app.auth.service import email_fingerprint
from app.container import ContainerDep
from app.core.errors import error_responses
from app.core.paths import API_V1_PREFIX
from app.db.session import SessionDep
from app.users.dependencies import AnyUser
from app.users.models import normalize_email
from app.users.verification import send_verification_after_commit

router = APIRouter(prefix=f"{API_V1_PREFIX}/auth", tags=["auth"])

RESET_ACCEPTED = (
    "If an account uses this address, a link to reset its password is on its way. "
    "The link works once and expires."
)
RESEND_ACCEPTED = "If your address is not verified yet, a new verification link is on its way."


@router.post(
    "/password-reset",
    operation_id="auth_password_reset",
    summary="Ask for a password-reset mail",
    status_code=202,
    responses=error_responses(422, 429, retry_after=(429,)),
)
async def request_password_reset(
    body: PasswordResetRequest, request: Request, app: ContainerDep
) -> MailAccepted:
    """Mail a single-use reset link to the address if an account has it. The answer is
    the same 202 whether or not it does. Throttled per address and per client IP (429)."""
    subject = email_fingerprint(body.email)
    await app.mail_throttle.hit("password_reset", subject, request.scope)
    await app.jobs.enqueue(
        SEND_PASSWORD_RESET, reset_job_id(body.email), email=normalize_email(body.email)
    )
    return MailAccepted(detail=RESET_ACCEPTED)


@router.post(
    "/password-reset/confirm",
    operation_id="auth_password_reset_confirm",
    summary="Set a new password with a reset token",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 422, 503, retry_after=(503,)),
)
async def confirm_password_reset(body: PasswordResetConfirm, service: RecoveryServiceDep) -> None:
    """Spend the reset token and set ``new_password`` (sign-up rules, 422 otherwise).
    Every access token is revoked and every session ends: log in again. A used,
    expired or forged token, or one issued before the password last changed: 400
    ``invalid_token``."""
    await service.reset_password(body.token, body.new_password)


@router.post(
    "/verify-email",
    operation_id="auth_verify_email",
    summary="Confirm your email address",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 422),
)
async def verify_email(body: EmailVerification, service: RecoveryServiceDep) -> None:
    """Spend the verification token: the account's ``is_verified`` becomes true. A used,
    expired or forged token, or one sent to an address the account no longer has: 400
    ``invalid_token``."""
    await service.verify_email(body.token)


@router.post(
    "/verify-email/resend",
    operation_id="auth_verify_email_resend",
    summary="Send the verification mail again",
    status_code=202,
    responses=error_responses(429, retry_after=(429,)),
)
async def resend_verification(
    user: AnyUser, request: Request, app: ContainerDep, session: SessionDep
) -> MailAccepted:
    """Mail a new verification link to your address (the older links stop working).
    Allowed without a verified address. Throttled per account and per client IP (429)."""
    await app.mail_throttle.hit("verify_resend", str(user.id), request.scope)
    if not user.is_verified:
        send_verification_after_commit(session, app.jobs, user, resend=True)
    return MailAccepted(detail=RESEND_ACCEPTED)
