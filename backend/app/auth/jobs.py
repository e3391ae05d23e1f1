"""The mail jobs of the credential flows (ADR-0036, ADR-0038). They run on the worker
(``make worker``) or, without Redis, in the API process; never inside a request.

The **job** creates the token, not the request: the raw token exists only in this
process and the mail (never in Redis, a job argument or a log line), and a reset
request does the same work whether or not the address has an account (P9). Each run
issues a fresh token (spending the older ones), so a retried job still mails a
working link. Re-runs are harmless: at worst a second mail whose link replaces the first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from app.auth.account_tokens import AccountTokens
from app.auth.service import email_fingerprint
from app.core.settings import Settings
from app.db.engine import Database
from app.jobs.runner import JobFunction
from app.mail.backends import MailBackend
from app.mail.messages import render
from app.users.models import normalize_email
from app.users.repository import UserRepository
from app.users.verification import SEND_EMAIL_VERIFICATION

logger = logging.getLogger("app.auth")

#: A job name (not a secret).
SEND_PASSWORD_RESET = "send_password_reset"  # noqa: S105  # nosec B105  # pragma: allowlist secret


def reset_job_id(email: str) -> str:
    """One reset job per address within ``JOBS_DEDUPE_SECONDS`` (a digest, not the address)."""
    return f"password-reset:{email_fingerprint(email)}"


def _skipped(event: str, reason: str, **fields: object) -> None:
    logger.info("mail not sent", extra={"event": event, "outcome": reason, **fields})


async def send_password_reset(ctx: Mapping[str, Any], *, email: str) -> None:
    """Mail a reset link to ``email`` if an active account has it; else nothing."""
    settings: Settings = ctx["settings"]
    database: Database = ctx["database"]
    mail: MailBackend = ctx["mail"]
    async with database.sessionmaker() as session:
        user = await UserRepository(session).get_by_email(email)
        if user is None or not user.is_active:
            _skipped("auth.password_reset", "no_active_account", email_fp=email_fingerprint(email))
            return
        token = await AccountTokens(session).issue(
            user.id,
            "password_reset",
            str(user.token_version),
            timedelta(minutes=settings.password_reset_token_minutes),
        )
        await session.commit()
        to, user_id = user.email, str(user.id)
    link = f"{settings.frontend_url}/reset-password?token={token}"
    minutes = str(settings.password_reset_token_minutes)
    await mail.send(render("password_reset", to, link=link, minutes=minutes))
    logger.info(
        "password reset mailed",
        extra={"event": "auth.password_reset", "outcome": "mailed", "subject_id": user_id},
    )


async def send_email_verification(ctx: Mapping[str, Any], *, user_id: str, email: str) -> None:
    """Mail a verification link to ``email`` if it is still the account's unverified address."""
    settings: Settings = ctx["settings"]
    database: Database = ctx["database"]
    mail: MailBackend = ctx["mail"]
    async with database.sessionmaker() as session:
        user = await UserRepository(session).get(uuid.UUID(user_id))
        if user is None or user.email != normalize_email(email) or user.is_verified:
            _skipped("auth.verify_email", "not_needed", subject_id=user_id)
            return
        token = await AccountTokens(session).issue(
            user.id,
            "verify_email",
            user.email,
            timedelta(hours=settings.email_verification_token_hours),
        )
        await session.commit()
        to = user.email
    link = f"{settings.frontend_url}/verify-email?token={token}"
    hours = str(settings.email_verification_token_hours)
    await mail.send(render("verify_email", to, link=link, hours=hours))
    logger.info(
        "verification mailed",
        extra={"event": "auth.verify_email", "outcome": "mailed", "subject_id": user_id},
    )


#: Every job the API may enqueue, by name (the worker registers the same).
JOBS: dict[str, JobFunction] = {
    SEND_PASSWORD_RESET: send_password_reset,
    SEND_EMAIL_VERIFICATION: send_email_verification,
}
