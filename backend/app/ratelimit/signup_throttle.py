"""Sign-up throttle: account creations per client IP (ADR-0028, SECURITY P10, P9).
On by default, like the login throttle, and independent of ``RATE_LIMIT_ENABLED``.

Every sign-up that reaches the handler (a well-formed body: 422s are not counted)
spends one unit of the client IP's budget, ``SIGNUP_MAX_PER_IP`` per
``SIGNUP_WINDOW_SECONDS``, before any lookup or hashing; over it the answer is a 429
envelope with ``Retry-After``. Taken addresses (409) count too, which bounds sign-up
enumeration from one address. The count is atomic (``limits``' fixed window counts
first and refuses over the limit), so concurrent sign-ups cannot slip past it.

Counters live in Redis when it is configured and fall back to process memory when it
is unavailable: a security limit degrades to per-process, never to none. The client
IP is :meth:`~app.core.proxies.TrustedProxies.client_ip` (``X-Forwarded-For`` only from
``TRUSTED_PROXIES``, SECURITY R6).
"""

from __future__ import annotations

import logging

from starlette.types import Scope

from app.core.proxies import TrustedProxies
from app.core.settings import Settings
from app.ratelimit.limiter import Limiter, refuse, window

logger = logging.getLogger("app.ratelimit.signup")

TOO_MANY_SIGNUPS = "Too many sign-ups from this address. Try again later."


class SignupThrottle:
    """Per-IP counters of sign-up attempts (one per application)."""

    def __init__(self, limiter: Limiter, settings: Settings, proxies: TrustedProxies) -> None:
        self.limiter = limiter
        self.proxies = proxies
        self.enabled = settings.signup_throttle_enabled
        self.per_ip = window(settings.signup_max_per_ip, settings.signup_window_seconds)

    async def hit(self, scope: Scope) -> None:
        """Count one sign-up from the request's client IP; raise
        :class:`~app.core.errors.RateLimited` (429) over the budget."""
        if not self.enabled:
            return
        decision = await self.limiter.hit(
            self.per_ip, "signup", "ip", self.proxies.client_ip(scope)
        )
        if decision is None or decision.allowed:
            return
        logger.warning(
            "sign-ups throttled", extra={"event": "users.create", "outcome": "throttled"}
        )
        refuse(decision, TOO_MANY_SIGNUPS)
