"""The one shared async Redis client, behind a circuit breaker (ADR-0012, ADR-0024;
SECURITY RL1, RL2, RL5, RL7).

Redis is optional (``REDIS_URL`` unset means no client). :func:`create_redis` builds the
client with short timeouts and no retries. Every Redis call made by a feature goes
through :meth:`RedisGuard.run`:

* each call is bounded by a deadline (connect + 3 x socket timeout, tens of ms);
* after ``REDIS_BREAKER_THRESHOLD`` consecutive failures the breaker **opens**: calls
  raise :class:`RedisUnavailable` at once, without touching the network, for
  ``REDIS_BREAKER_COOLDOWN_SECONDS``;
* then it is **half-open**: one call is let through as a probe; success closes the
  breaker (automatic recovery), failure opens it for another cooldown;
* pool exhaustion (``MaxConnectionsError``) also raises :class:`RedisUnavailable` (the
  caller's fail-open path) but does not count as a failure: the server is healthy,
  this process is merely busy.

Callers decide what "unavailable" means: the rate limiter allows the request, the
cache reports a miss, the login throttle answers from process memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from limits.errors import StorageError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import MaxConnectionsError, RedisError

from app.core.settings import Settings

logger = logging.getLogger("app.redis")

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]

#: What a failing Redis call can raise (OSError covers refused/reset connections).
REDIS_FAILURES: tuple[type[BaseException], ...] = (
    RedisError,
    StorageError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    ConnectionError,
)


class RedisUnavailable(Exception):
    """Redis cannot answer now (not configured, breaker open, error, timeout, pool full)."""


class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures -> half-open after ``cooldown``."""

    def __init__(
        self,
        threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at = 0.0
        self._probe_started: float | None = None
        self._open = False

    @property
    def state(self) -> State:
        if not self._open:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        """May a call go to Redis now? While half-open, only one probe at a time."""
        if not self._open:
            return True
        now = self.clock()
        if now - self.opened_at < self.cooldown:
            return False
        # Half-open: one probe; a probe that never reported back frees the slot after a cooldown.
        if self._probe_started is None or now - self._probe_started >= self.cooldown:
            self._probe_started = now
            return True
        return False

    def record_success(self) -> None:
        if self._open:
            logger.warning(
                "redis circuit closed", extra={"event": "redis.breaker", "state": "closed"}
            )
        self._open = False
        self.failures = 0
        self._probe_started = None

    def record_failure(self) -> None:
        self.failures += 1
        if self._open or self.failures >= self.threshold:
            if not self._open:
                logger.warning(
                    "redis circuit opened",
                    extra={"event": "redis.breaker", "state": "open", "failures": self.failures},
                )
            self._open = True
            self.opened_at = self.clock()
            self._probe_started = None


class RedisGuard:
    """The shared client (bound by the app's lifespan) behind one breaker and deadline."""

    def __init__(self, breaker: CircuitBreaker, deadline_seconds: float) -> None:
        self.breaker = breaker
        self.deadline = deadline_seconds
        self.client: Redis | None = None

    @property
    def configured(self) -> bool:
        return self.client is not None

    async def run(self, op: Callable[[Redis], Awaitable[T]]) -> T:
        """``await op(client)`` within the deadline, or raise :class:`RedisUnavailable`."""
        client = self.client
        if client is None or not self.breaker.allow():
            raise RedisUnavailable
        try:
            async with asyncio.timeout(self.deadline):
                result = await op(client)
        except MaxConnectionsError as exc:  # RL2: busy, not broken
            raise RedisUnavailable from exc
        except REDIS_FAILURES as exc:
            self.breaker.record_failure()
            logger.debug("redis call failed", extra={"error_type": type(exc).__name__})
            raise RedisUnavailable from exc
        self.breaker.record_success()
        return result


def create_redis(settings: Settings) -> Redis | None:
    """Build the client for ``settings.redis_url`` (no network I/O), or ``None``."""
    if not settings.redis_url:
        return None
    client: Redis = Redis.from_url(  # typed Any by redis-py 5 (arq's cap, ADR-0036)
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        retry=Retry(NoBackoff(), retries=0),
        retry_on_timeout=False,
        health_check_interval=0,
        max_connections=settings.redis_max_connections,
        decode_responses=True,
    )
    return client


def create_guard(settings: Settings) -> RedisGuard:
    """The breaker-guarded slot for the app's client (bound by the lifespan)."""
    breaker = CircuitBreaker(
        settings.redis_breaker_threshold, settings.redis_breaker_cooldown_seconds
    )
    deadline = settings.redis_connect_timeout_seconds + 3 * settings.redis_socket_timeout_seconds
    return RedisGuard(breaker, deadline)
