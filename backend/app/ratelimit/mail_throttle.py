"""Mail-sending throttle: password-reset requests and verification resends, per subject
and per client IP (ADR-0028, ADR-0038; SECURITY P10). On by default.

Every request counts, before anything else runs, whether or not the address has an
account: the per-address budget (``MAIL_MAX_PER_ADDRESS`` per ``MAIL_WINDOW_SECONDS``,
keyed by a digest of the normalised address, or by the account for a resend) limits
the mails one inbox can be sent, and says nothing about whether it exists (P9). The
per-IP budget (``MAIL_MAX_PER_IP``) bounds one client across addresses. Over either:
429 envelope + ``Retry-After``. Counters live in Redis, else in process memory.
"""

from __future__ import annotations

import logging

from starlette.types import Scope

from app.core.proxies import TrustedProxies
from app.core.settings import Settings
from app.ratelimit.limiter import Limiter, refuse, window

logger = logging.getLogger("app.ratelimit.mail")

#: Throttled actions and their 429 messages.
MESSAGES = {
    "password_reset": "Too many password-reset requests. Try again later.",  # nosec B105  # pragma: allowlist secret
    "verify_resend": "Too many verification mails requested. Try again later.",
}


class MailThrottle:
    """Per-subject and per-IP counters of mail-sending requests (one per application)."""

    def __init__(self, limiter: Limiter, settings: Settings, proxies: TrustedProxies) -> None:
        self.limiter = limiter
        self.proxies = proxies
        self.per_subject = window(settings.mail_max_per_address, settings.mail_window_seconds)
        self.per_ip = window(settings.mail_max_per_ip, settings.mail_window_seconds)

    async def hit(self, action: str, subject: str, scope: Scope) -> None:
        """Count one ``action`` request for ``subject`` (a digest or an id, never an
        address) from the request's client IP; 429 when a budget is spent."""
        ip = self.proxies.client_ip(scope)
        for kind, limit, key in (("ip", self.per_ip, ip), ("subject", self.per_subject, subject)):
            decision = await self.limiter.hit(limit, action, kind, key)
            if decision is not None and not decision.allowed:
                logger.warning(
                    "mail requests throttled",
                    extra={"event": f"auth.{action}", "outcome": "throttled", "by": kind},
                )
                refuse(decision, MESSAGES[action])
