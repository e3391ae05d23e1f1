"""A fallback limiter counts each hit in Redis and in memory and answers the stricter;
the two counts of a key must see concurrent hits in one order (ADR-0028)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fakeredis.aioredis import FakeRedis

from app.core.redis import CircuitBreaker, RedisGuard
from app.ratelimit.limiter import Limiter, window

T = TypeVar("T")


class ReorderingGuard(RedisGuard):
    """Runs each Redis call at once, then hands the answer back later the earlier the call
    came: the Redis count sees the hits in arrival order, the caller resumes in reverse."""

    def __init__(self, client: FakeRedis, hits: int) -> None:
        super().__init__(CircuitBreaker(5, 60), deadline_seconds=10)
        self.client = client
        self.calls = 0
        self.hits = hits

    async def run(self, op: Callable[[Any], Awaitable[T]]) -> T:
        self.calls += 1
        hold = (self.hits - self.calls) * 0.01
        result = await super().run(op)
        await asyncio.sleep(hold)
        return result


async def test_p10_concurrent_hits_on_one_key_get_exactly_the_budget() -> None:
    """SECURITY P10, RL3: ten concurrent hits, budget three, answers from Redis coming back
    in reverse order. Without one order for both counts, Redis allows hits 1-3 and memory
    hits 8-10, and the stricter answer lets none through; with it, exactly three."""
    client = FakeRedis()
    guard = ReorderingGuard(client, hits=10)
    limiter = Limiter(guard, key_prefix="order", fallback_to_memory=True)
    item = window(3, 60)
    try:
        decisions = await asyncio.gather(*(limiter.hit(item, "one-ip") for _ in range(10)))
    finally:
        await client.aclose()
    allowed = [d for d in decisions if d is not None and d.allowed]
    assert len(allowed) == 3
    assert all(d is not None for d in decisions)
