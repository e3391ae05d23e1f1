"""Brute-force protection for login: failed attempts per account and per client IP
(ADR-0028, SECURITY P10). On by default, stricter than the general limit.

The login route calls :meth:`LoginThrottle.check` before verifying credentials,
:meth:`LoginThrottle.failed` after a failure and :meth:`LoginThrottle.succeeded`
after a success (which forgets that account's failures, not the IP's). After
``LOGIN_MAX_FAILURES_PER_ACCOUNT`` failures for one account (from any IP), or
``LOGIN_MAX_FAILURES_PER_IP`` failures from one IP (for any accounts), within
``LOGIN_WINDOW_SECONDS``, the next attempt is a 429 envelope with ``Retry-After``
before any password is checked.

Password changes (``POST /api/v1/auth/password``) are throttled the same way under their
own scope, ``password``: wrong current passwords spend that budget, not the login one,
so a stolen token cannot be used to lock its owner out of logging in.

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
TOO_MANY_CHANGES = "Too many wrong current passwords. Try again later."
#: The throttled actions; each has its own counters (``scope`` below).
MESSAGES = {
    "login": TOO_MANY_ATTEMPTS,
    "password": TOO_MANY_CHANGES,
}


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

    async def check(self, account: str, ip: str, scope: str = "login") -> None:
        """Raise :class:`RateLimited` (429 + ``Retry-After``) if either budget is spent."""
        if not self.enabled:
            return
        for item, kind, ident in (
            (self.per_account, "account", account),
            (self.per_ip, "ip", ip),
        ):
            decision = await self.limiter.test(item, scope, kind, ident)
            if decision is not None and not decision.allowed:
                self._refuse(decision, kind, scope)

    async def failed(self, account: str, ip: str, scope: str = "login") -> None:
        """Count one failed attempt against the account and the IP."""
        if not self.enabled:
            return
        await self.limiter.hit(self.per_account, scope, "account", account)
        await self.limiter.hit(self.per_ip, scope, "ip", ip)

    async def succeeded(self, account: str, scope: str = "login") -> None:
        """A correct password: forget the account's failures (the IP's stay)."""
        if self.enabled:
            await self.limiter.clear(self.per_account, scope, "account", account)

    def _refuse(self, decision: Decision, kind: str, scope: str) -> None:
        logger.warning(
            "attempts throttled",
            extra={"event": f"auth.{scope}", "outcome": "throttled", "by": kind},
        )
        raise RateLimited(
            MESSAGES[scope],
            details={"retry_after": decision.reset_after},
            headers={"Retry-After": str(decision.reset_after)},
        )


class LoginAttempt:
    """The throttle bound to one request's client IP and one scope (``login`` or
    ``password``): what the login and password-change routes receive."""

    def __init__(self, throttle: LoginThrottle, ip: str, scope: str = "login") -> None:
        if scope not in MESSAGES:
            raise ValueError(f"unknown throttle scope {scope!r}")
        self.throttle = throttle
        self.ip = ip
        self.scope = scope

    def scoped(self, scope: str) -> LoginAttempt:
        """The same client under another scope's counters."""
        return LoginAttempt(self.throttle, self.ip, scope)

    async def check(self, account: str) -> None:
        await self.throttle.check(account, self.ip, self.scope)

    async def failed(self, account: str) -> None:
        await self.throttle.failed(account, self.ip, self.scope)

    async def succeeded(self, account: str) -> None:
        await self.throttle.succeeded(account, self.scope)


async def get_login_attempt(request: Request) -> LoginAttempt:
    """Dependency: the application's :class:`LoginThrottle` for this request's client."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return LoginAttempt(throttle, client_ip(request.scope, throttle.trusted))


LoginAttemptDep = Annotated[LoginAttempt, Depends(get_login_attempt)]
