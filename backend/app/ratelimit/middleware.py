"""The general rate limit: a pure-ASGI layer over :class:`~app.ratelimit.limiter.Limiter`
(ADR-0024, SECURITY RL1-RL7, R6).

* Scope: every path except the health probes (``/health``, ``/api/v1/health/...``): the
  ``/api/v1`` surface, the legacy ``/auth/*`` aliases, the docs pages and schema,
  ``/metrics`` and unknown paths alike, so no alias escapes the limit.
* Key: ``user:<id>`` when the bearer token verifies (signature and claims, no database
  lookup), else ``ip:<client address>``
  (:meth:`~app.core.proxies.TrustedProxies.client_ip`: ``X-Forwarded-For`` only from
  ``TRUSTED_PROXIES``).
* Every limited-scope response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``
  and ``X-RateLimit-Reset`` (seconds until the window resets); over the limit the
  answer is the 429 envelope with ``Retry-After``.
* Redis down, slow, full or wrong: the request is allowed without rate-limit headers
  (fail open, bounded by the breaker). Without ``REDIS_URL`` counters live in process
  memory (per process: N workers allow N x the limit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response
from app.core.paths import is_probe_path
from app.core.proxies import TrustedProxies
from app.ratelimit.limiter import Decision, Limiter, window

logger = logging.getLogger("app.ratelimit")

#: Token -> subject id, or ``None`` if the token does not verify (injected by main.py).
SubjectResolver = Callable[[str], str | None]


def in_scope(path: str) -> bool:
    """Whether the general limit applies to ``path``: everything but the probes, which an
    orchestrator must always reach (a throttled probe restarts healthy pods)."""
    return not is_probe_path(path)


def bearer_token(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            text: str = value.decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def rate_limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset_after).encode()),
    ]


class RateLimitMiddleware:
    """Pure ASGI; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: Limiter,
        requests: int,
        window_seconds: int,
        proxies: TrustedProxies,
        subject_of: SubjectResolver | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.item = window(requests, window_seconds)
        self.proxies = proxies
        self.subject_of = subject_of

    def key_for(self, scope: Scope) -> str:
        token = bearer_token(scope)
        if token and self.subject_of is not None:
            subject = self.subject_of(token)
            if subject:
                return f"user:{subject}"
        return f"ip:{self.proxies.client_ip(scope)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not in_scope(scope["path"]):
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.hit(self.item, "api", self.key_for(scope))
        if decision is None:  # Redis unavailable: fail open (RL1, RL6)
            await self.app(scope, receive, send)
            return
        headers = rate_limit_headers(decision)
        if not decision.allowed:
            response = error_response(
                429,
                details={"limit": decision.limit, "retry_after": decision.reset_after},
                headers={
                    "Retry-After": str(decision.reset_after),
                    **{k.decode(): v.decode() for k, v in headers},
                },
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
