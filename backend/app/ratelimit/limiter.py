"""Fixed-window counters from the ``limits`` library over Redis or process memory (ADR-0024).

:class:`Limiter` runs one ``limits`` strategy (fixed window) against the shared Redis
pool, through :class:`~app.core.redis.RedisGuard`. When Redis is unavailable it
either reports "no decision" (``None``: the caller fails open) or, with
``fallback_to_memory=True`` (the login throttle, which must not fail open), answers from
process memory. Such a limiter counts every hit in memory *as well as* in Redis and
takes the stricter answer, so Redis failing in the middle of a burst never hands out a
fresh budget: the memory count already holds this process's hits. The two counts of one
key are taken under one in-process lock, so both see the hits in the same order and the
stricter answer still lets exactly ``limit`` through. Without ``REDIS_URL`` every limiter
counts in memory: per process only.

Window edge (RL4): ``limits``' fixed window starts at a key's first hit and lasts the
window; its Redis key expires with it (every key has a TTL, RL3). A client can therefore
spend the full limit at the end of one window and again at the start of the next: at
most ``2 x limit`` within a short span around a window edge.
tests/integration/test_rate_limit.py::test_window_edge_behaviour_of_the_fixed_window
pins this down.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import Redis

from app.core.errors import RateLimited
from app.core.redis import RedisGuard, RedisUnavailable

T = TypeVar("T")

#: Locks that order the two counts of a key (hashed onto one of these; a bounded set,
#: whatever the number of clients).
LOCK_STRIPES = 64


@dataclass(frozen=True)
class Decision:
    """One limiter answer: allowed?, the limit, what is left, seconds until the window resets."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int


def window(amount: int, seconds: int) -> RateLimitItem:
    """``amount`` per ``seconds`` (``limits`` item)."""
    return RateLimitItemPerSecond(amount, seconds)


class Limiter:
    """Counters for one feature (``key_prefix`` namespaces its Redis keys)."""

    def __init__(self, guard: RedisGuard, *, key_prefix: str, fallback_to_memory: bool) -> None:
        self.guard = guard
        self.key_prefix = key_prefix
        self.fallback_to_memory = fallback_to_memory
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self._redis: tuple[Redis, FixedWindowRateLimiter] | None = None
        self._locks = tuple(asyncio.Lock() for _ in range(LOCK_STRIPES))

    def _redis_strategy(self, client: Redis) -> FixedWindowRateLimiter:
        if self._redis is None or self._redis[0] is not client:
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=self.key_prefix,
                # The one shared, bounded pool (limits passes it to redis.asyncio.Redis).
                connection_pool=client.connection_pool,  # type: ignore[arg-type]
            )
            self._redis = (client, FixedWindowRateLimiter(storage))
        return self._redis[1]

    async def _shared(self, fn: Callable[[FixedWindowRateLimiter], Awaitable[T]]) -> T | None:
        """``fn`` on Redis; ``None`` when Redis is not configured or unavailable."""
        if not self.guard.configured:
            return None
        try:
            return await self.guard.run(lambda c: fn(self._redis_strategy(c)))
        except RedisUnavailable:
            return None

    @property
    def _counts_in_memory(self) -> bool:
        return self.fallback_to_memory or not self.guard.configured

    async def hit(self, item: RateLimitItem, *ids: str) -> Decision | None:
        """Count one hit and say whether it fits the limit; ``None`` when no backend could
        decide (fail open). Atomic: of N concurrent hits exactly ``limit`` are allowed
        (Redis ``INCRBY`` in a script; in memory, an increment under a per-key lock)."""

        async def op(strategy: FixedWindowRateLimiter) -> Decision:
            allowed = await strategy.hit(item, *ids)
            return _decision(allowed, item, await strategy.get_window_stats(item, *ids))

        if not self._counts_in_memory:
            return await self._shared(op)
        if not self.guard.configured:
            return await op(self.memory)
        # Both counts in one order: concurrent hits on one key would otherwise reach Redis
        # and memory in different orders, and the stricter of two disagreeing answers can
        # refuse a hit that is within the budget (fewer than ``limit`` let through).
        async with self._locks[hash(item.key_for(*ids)) % LOCK_STRIPES]:
            shared = await self._shared(op)
            local = await op(self.memory)
        return local if shared is None else _stricter(local, shared)

    async def _everywhere(self, fn: Callable[[FixedWindowRateLimiter], Awaitable[None]]) -> None:
        await self._shared(fn)
        if self._counts_in_memory:
            await fn(self.memory)

    async def refund(self, item: RateLimitItem, *ids: str) -> None:
        """Give one counted hit back (an attempt that proved nothing). If the window has
        expired meanwhile, the next window starts one lower: at most one extra hit."""

        async def op(strategy: FixedWindowRateLimiter) -> None:
            await strategy.hit(item, *ids, cost=-1)

        await self._everywhere(op)

    async def clear(self, item: RateLimitItem, *ids: str) -> None:
        """Forget the counter (e.g. an account's failures after a successful login)."""

        async def op(strategy: FixedWindowRateLimiter) -> None:
            await strategy.clear(item, *ids)

        await self._everywhere(op)


def refuse(decision: Decision, message: str) -> NoReturn:
    """Raise the 429 envelope for a refused ``decision``, with ``Retry-After``."""
    raise RateLimited(
        message,
        details={"retry_after": decision.reset_after},
        headers={"Retry-After": str(decision.reset_after)},
    )


def _stricter(a: Decision, b: Decision) -> Decision:
    if not a.allowed:
        return a
    if not b.allowed:
        return b
    return a if a.remaining <= b.remaining else b


def _decision(allowed: bool, item: RateLimitItem, stats: tuple[float, int]) -> Decision:
    reset_time, remaining = stats
    reset_after = max(1, math.ceil(reset_time - time.time()))
    return Decision(allowed, item.amount, max(0, remaining), min(reset_after, item.get_expiry()))
