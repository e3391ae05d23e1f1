"""Enqueueing the verification mail: after sign-up and after an email change (ADR-0038).

The job itself (``send_email_verification``) lives in :mod:`app.auth.jobs`; this module
names it, so ``users`` (sign-up) and ``auth`` (email change, resend) enqueue it the same
way: after the request's transaction committed (the worker must see the row), with a
deterministic id (one mail per account and address within ``JOBS_DEDUPE_SECONDS``).
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import after_commit
from app.jobs.queues import JobQueue
from app.users.models import User, normalize_email

SEND_EMAIL_VERIFICATION = "send_email_verification"


def verification_job_id(user: User, *, resend: bool = False) -> str:
    """One id per account and address (a digest: job ids reach logs and Redis keys); a
    resend gets one per minute, so a double click mails once and a later click works."""
    address = hashlib.sha256(normalize_email(user.email).encode()).hexdigest()[:16]
    job_id = f"verify-email:{user.id}:{address}"
    return f"{job_id}:resend-{int(time.time() // 60)}" if resend else job_id


def send_verification_after_commit(
    session: AsyncSession, jobs: JobQueue, user: User, *, resend: bool = False
) -> None:
    """Enqueue the verification mail for ``user``'s current address once committed."""
    job_id = verification_job_id(user, resend=resend)
    user_id, email = str(user.id), user.email

    async def enqueue() -> None:
        await jobs.enqueue(SEND_EMAIL_VERIFICATION, job_id, user_id=user_id, email=email)

    after_commit(session, enqueue)
