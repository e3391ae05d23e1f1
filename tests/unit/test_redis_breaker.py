"""The Redis circuit breaker and guard (ADR-0024; SECURITY RL2, RL5, RL7)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from app.core.redis import CircuitBreaker, RedisGuard, RedisUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_recovers_through_one_probe() -> None:
    """RL5/RL7: N consecutive failures open it; after the cooldown exactly one probe goes
    through; a successful probe closes it."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_seconds=5, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 5
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()
    assert breaker.failures == 0


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    """RL5: a failing half-open probe opens the breaker again."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=2, clock=clock)
    breaker.record_failure()
    clock.now += 2
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 1.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=1, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


class FakeClient:
    """Stands in for the Redis client: the op decides what happens."""


async def test_guard_without_client_is_unavailable() -> None:
    guard = RedisGuard(CircuitBreaker(1, 1), deadline_seconds=0.1)
    with pytest.raises(RedisUnavailable):
        await guard.run(lambda c: asyncio.sleep(0))


async def test_guard_counts_errors_and_short_circuits_when_open() -> None:
    """RL5: once open, calls fail at once without running the op."""
    guard = RedisGuard(CircuitBreaker(2, 60), deadline_seconds=0.1)
    guard.client = FakeClient()  # type: ignore[assignment]
    calls = 0

    async def failing(_: Any) -> None:
        nonlocal calls
        calls += 1
        raise RedisConnectionError("refused")

    for _ in range(2):
        with pytest.raises(RedisUnavailable):
            await guard.run(failing)
    assert guard.breaker.state == "open"
    with pytest.raises(RedisUnavailable):
        await guard.run(failing)
    assert calls == 2


@pytest.mark.timing
async def test_guard_deadline_bounds_a_hanging_call() -> None:
    """RL1: a call that never returns is cut at the deadline and counted as a failure."""
    guard = RedisGuard(CircuitBreaker(5, 60), deadline_seconds=0.05)
    guard.client = FakeClient()  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(RedisUnavailable):
        await guard.run(lambda _: asyncio.sleep(10))
    # Generous (docs/testing.md): the cut comes at 0.05 s, a busy machine only delays it;
    # without the deadline the call would take its full 10 s.
    assert loop.time() - start < 5
    assert guard.breaker.failures == 1


async def test_pool_exhaustion_fails_open_without_tripping_the_breaker() -> None:
    """RL2: MaxConnectionsError is the fail-open path, but the server is healthy: the
    breaker stays closed."""
    guard = RedisGuard(CircuitBreaker(1, 60), deadline_seconds=0.1)
    guard.client = FakeClient()  # type: ignore[assignment]

    async def exhausted(_: Any) -> None:
        raise MaxConnectionsError("Too many connections")

    for _ in range(3):
        with pytest.raises(RedisUnavailable):
            await guard.run(exhausted)
    assert guard.breaker.state == "closed"


async def test_success_passes_the_result_through() -> None:
    guard = RedisGuard(CircuitBreaker(1, 60), deadline_seconds=0.1)
    guard.client = FakeClient()  # type: ignore[assignment]

    async def ok(_: Any) -> int:
        return 7

    assert await guard.run(ok) == 7
