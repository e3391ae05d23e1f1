"""The limiter's answers (ADR-0024, ADR-0028): a fallback limiter counts each hit in Redis
and in memory and answers the stricter, the two counts of a key seeing concurrent hits in
one order; and the reset time it reports is always a usable ``Retry-After``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from fakeredis.aioredis import FakeRedis

from app.core.redis import CircuitBreaker, RedisGuard
from app.ratelimit import limiter as limiter_module
from app.ratelimit.limiter import Decision, Limiter, window

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


def _shared_guard(client: FakeRedis) -> RedisGuard:
    guard = RedisGuard(CircuitBreaker(5, 60), deadline_seconds=10)
    guard.client = client
    return guard


async def test_p10_a_fallback_limiter_answers_the_stricter_of_memory_and_redis() -> None:
    """SECURITY P10, RL3: two processes (two limiters, each with its own memory) share one
    Redis. After process A spent two of three hits, process B's first hit is the last of
    the budget (Redis says 0 left, its memory 2) and its second is refused by Redis while
    its memory alone would still allow it."""
    client = FakeRedis()
    first, second = (
        Limiter(_shared_guard(client), key_prefix="both", fallback_to_memory=True) for _ in range(2)
    )
    item = window(3, 60)
    try:
        for _ in range(2):
            assert await first.hit(item, "ip") is not None
        last = await second.hit(item, "ip")
        refused = await second.hit(item, "ip")
    finally:
        await client.aclose()
    assert last is not None
    assert (last.allowed, last.remaining) == (True, 0)
    assert refused is not None
    assert (refused.allowed, refused.remaining) == (False, 0)


@pytest.mark.parametrize(("clock_offset", "expected"), [(3600, 1), (-3600, 60)])
async def test_reset_after_is_between_one_second_and_the_window(
    monkeypatch: pytest.MonkeyPatch, clock_offset: float, expected: int
) -> None:
    """RL4: ``reset_after`` (``Retry-After``, ``X-RateLimit-Reset``) is at least 1 s, even
    when the window is ending right now (a client told 0 would retry at once), and never
    longer than the window, even when the clock jumped back since the window started."""
    real = limiter_module.time.time
    monkeypatch.setattr(limiter_module, "time", SimpleNamespace(time=lambda: real() + clock_offset))
    limiter = Limiter(
        RedisGuard(CircuitBreaker(5, 60), deadline_seconds=10),
        key_prefix="reset",
        fallback_to_memory=True,
    )
    decision = await limiter.hit(window(3, 60), "ip")
    assert decision == Decision(allowed=True, limit=3, remaining=2, reset_after=expected)
