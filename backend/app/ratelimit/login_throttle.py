"""Brute-force protection for credential checks: attempts per subject and per client IP
(ADR-0028, SECURITY P10). On by default, stricter than the general limit.

An attempt is **counted before the password is checked**, atomically (Redis ``INCRBY``;
the in-process fallback increments under a per-key lock), and refused with a 429
envelope + ``Retry-After`` when that spends a budget: of any number of concurrent
guesses, at most the budget reaches the password check. Routes wrap the check in
:meth:`LoginAttempt.counted`:

* a failed guess (the route's failure exception) stays counted;
* a success forgets the subject's count and gives the attempt back to the IP;
* any other outcome (the verifier was busy, the database failed) gives the attempt
  back to both: it proved nothing about the password.

Budgets, per ``LOGIN_WINDOW_SECONDS``: ``LOGIN_MAX_FAILURES_PER_IP`` for one client IP
(across subjects) and ``LOGIN_MAX_FAILURES_PER_ACCOUNT`` per subject. The IP is charged
first, so attempts it refuses never touch a subject's count; an attempt the subject's
budget refuses is given back to the IP. Net of refunds, each budget counts what it did
before: failed password checks. The subject depends on the scope:

* ``login``: the account (a digest of the normalised email, never the address);
* ``password`` (``POST /api/v1/auth/password``): the bearer token (a digest). Someone
  holding a stolen token can spend only that token's budget; the owner who logs in
  afresh gets a new one, so the thief cannot block the change that revokes the token.

Counters live in Redis when it is configured; when Redis is unavailable they fall back
to process memory: security logic degrades to a per-process limit, never to none.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

from starlette.types import Scope

from app.core.proxies import TrustedProxies
from app.core.settings import Settings
from app.ratelimit.limiter import Decision, Limiter, refuse, window

logger = logging.getLogger("app.ratelimit.login")

TOO_MANY_ATTEMPTS = "Too many failed login attempts. Try again later."
TOO_MANY_CHANGES = "Too many wrong current passwords. Try again later."
#: The throttled actions; each has its own counters (``scope`` below).
MESSAGES = {
    "login": TOO_MANY_ATTEMPTS,
    "password": TOO_MANY_CHANGES,
}


class LoginThrottle:
    """Per-subject and per-IP attempt counters (one per application)."""

    def __init__(self, limiter: Limiter, settings: Settings, proxies: TrustedProxies) -> None:
        self.limiter = limiter
        self.proxies = proxies
        self.enabled = settings.login_throttle_enabled
        self.per_subject = window(
            settings.login_max_failures_per_account, settings.login_window_seconds
        )
        self.per_ip = window(settings.login_max_failures_per_ip, settings.login_window_seconds)

    def attempt(self, scope: Scope, kind: str = "login") -> LoginAttempt:
        """This throttle bound to the request's client IP, for ``kind`` (``login`` or
        ``password``)."""
        return LoginAttempt(self, self.proxies.client_ip(scope), kind)

    async def begin(self, scope: str, subject: str, ip: str) -> None:
        """Count one attempt; raise :class:`RateLimited` (429) if that spends a budget.

        The IP is charged first; an attempt the subject's budget then refuses is given
        back to the IP, so the IP budget counts only attempts that reach the password
        check (a client retrying one locked account does not lock out its whole network).
        """
        if not self.enabled:
            return
        decision = await self.limiter.hit(self.per_ip, scope, "ip", ip)
        if decision is not None and not decision.allowed:
            self._refuse(decision, "ip", scope)
        decision = await self.limiter.hit(self.per_subject, scope, "subject", subject)
        if decision is not None and not decision.allowed:
            await self.limiter.refund(self.per_ip, scope, "ip", ip)
            self._refuse(decision, "subject", scope)

    async def succeeded(self, scope: str, subject: str, ip: str) -> None:
        """The password was right: forget the subject's count, give the IP its attempt back."""
        if self.enabled:
            await self.limiter.clear(self.per_subject, scope, "subject", subject)
            await self.limiter.refund(self.per_ip, scope, "ip", ip)

    async def abandoned(self, scope: str, subject: str, ip: str) -> None:
        """The check did not run to a verdict: give the attempt back to both budgets."""
        if self.enabled:
            await self.limiter.refund(self.per_ip, scope, "ip", ip)
            await self.limiter.refund(self.per_subject, scope, "subject", subject)

    def _refuse(self, decision: Decision, kind: str, scope: str) -> NoReturn:
        logger.warning(
            "attempts throttled",
            extra={"event": f"auth.{scope}", "outcome": "throttled", "by": kind},
        )
        refuse(decision, MESSAGES[scope])


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

    @asynccontextmanager
    async def counted(self, subject: str, *, failure: type[Exception]) -> AsyncIterator[None]:
        """Count the attempt (429 when over budget), then run the block: ``failure``
        leaves it counted, success clears the subject, other errors give it back."""
        throttle = self.throttle
        await throttle.begin(self.scope, subject, self.ip)
        try:
            yield
        except failure:
            raise
        except Exception:
            await throttle.abandoned(self.scope, subject, self.ip)
            raise
        await throttle.succeeded(self.scope, subject, self.ip)
