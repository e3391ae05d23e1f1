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
IP is :func:`~app.hardening.ratelimit.client_ip` (``X-Forwarded-For`` only from
``TRUSTED_PROXIES``, SECURITY R6).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from app.core.errors import RateLimited
from app.core.settings import Settings
from app.hardening.limiter import Limiter, window
from app.hardening.ratelimit import client_ip, parse_networks

logger = logging.getLogger("app.hardening.signup")

TOO_MANY_SIGNUPS = "Too many sign-ups from this address. Try again later."


class SignupThrottle:
    """Per-IP counters of sign-up attempts (one per application)."""

    def __init__(self, limiter: Limiter, settings: Settings) -> None:
        self.limiter = limiter
        self.enabled = settings.signup_throttle_enabled
        self.per_ip = window(settings.signup_max_per_ip, settings.signup_window_seconds)
        self.trusted = parse_networks(settings.trusted_proxies)

    async def hit(self, ip: str) -> None:
        """Count one sign-up from ``ip``; raise :class:`RateLimited` over the budget."""
        if not self.enabled:
            return
        decision = await self.limiter.hit(self.per_ip, "signup", "ip", ip)
        if decision is None or decision.allowed:
            return
        logger.warning(
            "sign-ups throttled", extra={"event": "users.create", "outcome": "throttled"}
        )
        raise RateLimited(
            TOO_MANY_SIGNUPS,
            details={"retry_after": decision.reset_after},
            headers={"Retry-After": str(decision.reset_after)},
        )


class SignupAttempt:
    """The throttle bound to one request's client IP: what the sign-up route receives."""

    def __init__(self, throttle: SignupThrottle, ip: str) -> None:
        self.throttle = throttle
        self.ip = ip

    async def hit(self) -> None:
        await self.throttle.hit(self.ip)


async def get_signup_attempt(request: Request) -> SignupAttempt:
    """Dependency: the application's :class:`SignupThrottle` for this request's client."""
    throttle: SignupThrottle = request.app.state.signup_throttle
    return SignupAttempt(throttle, client_ip(request.scope, throttle.trusted))


SignupAttemptDep = Annotated[SignupAttempt, Depends(get_signup_attempt)]
