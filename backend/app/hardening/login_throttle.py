"""Brute-force protection for login: failed attempts per account and per client IP
(ADR-0028, SECURITY P10). On by default, stricter than the general limit.

The login route calls :meth:`LoginThrottle.check` before verifying credentials,
:meth:`LoginThrottle.failed` after a failure and :meth:`LoginThrottle.succeeded`
after a success (which forgets that account's failures, not the IP's). After
``LOGIN_MAX_FAILURES_PER_ACCOUNT`` failures for one account (from any IP), or
``LOGIN_MAX_FAILURES_PER_IP`` failures from one IP (for any accounts), within
``LOGIN_WINDOW_SECONDS``, the next attempt is a 429 envelope with ``Retry-After``
before any password is checked.

Counters live in Redis when it is configured; when Redis is unavailable they fall back
to process memory: security logic degrades to a per-process limit, never to none.
The account is identified by a digest of the normalised email, never the address.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from app.core.errors import RateLimited
from app.core.settings import Settings
from app.hardening.limiter import Decision, Limiter, window
from app.hardening.ratelimit import client_ip, parse_networks

logger = logging.getLogger("app.hardening.login")

TOO_MANY_ATTEMPTS = "Too many failed login attempts. Try again later."


class LoginThrottle:
    """Per-account and per-IP counters of failed logins (one per application)."""

    def __init__(self, limiter: Limiter, settings: Settings) -> None:
        self.limiter = limiter
        self.enabled = settings.login_throttle_enabled
        self.per_account = window(
            settings.login_max_failures_per_account, settings.login_window_seconds
        )
        self.per_ip = window(settings.login_max_failures_per_ip, settings.login_window_seconds)
        self.trusted = parse_networks(settings.trusted_proxies)

    async def check(self, account: str, ip: str) -> None:
        """Raise :class:`RateLimited` (429 + ``Retry-After``) if either budget is spent."""
        if not self.enabled:
            return
        for item, kind, ident in (
            (self.per_account, "account", account),
            (self.per_ip, "ip", ip),
        ):
            decision = await self.limiter.test(item, "login", kind, ident)
            if decision is not None and not decision.allowed:
                self._refuse(decision, kind)

    async def failed(self, account: str, ip: str) -> None:
        """Count one failed attempt against the account and the IP."""
        if not self.enabled:
            return
        await self.limiter.hit(self.per_account, "login", "account", account)
        await self.limiter.hit(self.per_ip, "login", "ip", ip)

    async def succeeded(self, account: str) -> None:
        """A correct password: forget the account's failures (the IP's stay)."""
        if self.enabled:
            await self.limiter.clear(self.per_account, "login", "account", account)

    def _refuse(self, decision: Decision, kind: str) -> None:
        logger.warning(
            "login throttled", extra={"event": "auth.login", "outcome": "throttled", "by": kind}
        )
        raise RateLimited(
            TOO_MANY_ATTEMPTS,
            details={"retry_after": decision.reset_after},
            headers={"Retry-After": str(decision.reset_after)},
        )


class LoginAttempt:
    """The throttle bound to one request's client IP (what the login route receives)."""

    def __init__(self, throttle: LoginThrottle, ip: str) -> None:
        self.throttle = throttle
        self.ip = ip

    async def check(self, account: str) -> None:
        await self.throttle.check(account, self.ip)

    async def failed(self, account: str) -> None:
        await self.throttle.failed(account, self.ip)

    async def succeeded(self, account: str) -> None:
        await self.throttle.succeeded(account)


async def get_login_attempt(request: Request) -> LoginAttempt:
    """Dependency: the application's :class:`LoginThrottle` for this request's client."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return LoginAttempt(throttle, client_ip(request.scope, throttle.trusted))


LoginAttemptDep = Annotated[LoginAttempt, Depends(get_login_attempt)]
