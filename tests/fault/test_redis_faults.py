"""Redis unreachable, silent or out of connections: the API never turns it into an error
and pays the timeout once (ADR-0024, ADR-0025, ADR-0028; SECURITY RL1, RL2, RL5, RL6, RL8).

A closed port fails every feature open with zero 5xx; a server that accepts and never
answers costs one socket timeout per request until the breaker opens, then no
connection at all; a full pool fails open without counting a Redis failure. Recovery
after a restart is test_redis_recovery.py; two processes sharing one limit is
test_redis_shared_limit.py.

Every test starts its own ``redis-server`` / silent socket on a free port and is skipped
with a clear reason when ``redis-server`` is not installed. Run alone with
``pytest -m fault tests/fault/test_redis_faults.py -s`` to see the latency numbers recorded
in docs/rate-limiting.md.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.fault.conftest import mixed_traffic, needs_redis_server, no_5xx
from tests.fault.redis_proc import SilentServer, ThrowawayRedis
from tests.fixtures.app import serve
from tests.support.polling import wait_for
from tests.support.processes import closed_port

pytestmark = [pytest.mark.fault, needs_redis_server]

ME = "/api/v1/users/me"


async def _latencies_ms(client: httpx.AsyncClient, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(ME)
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 401
    return out


async def test_rl1_closed_port_fails_open_with_zero_5xx(
    hardened: Callable[..., FastAPI],
) -> None:
    """RL1/RL6/RL8: Redis on a closed port -> every feature fails open, no 5xx."""
    app = hardened(f"redis://127.0.0.1:{closed_port()}/0")
    async with serve(app) as client:
        answers = await mixed_traffic(app, client, rounds=10)
    no_5xx(answers)
    assert app.state.container.redis.breaker.state == "open"
    assert all("x-ratelimit-limit" not in r.headers for r in answers)


async def test_rl1_rl5_silent_server_costs_the_timeout_once(
    hardened: Callable[..., FastAPI], redis_server: ThrowawayRedis
) -> None:
    """RL1/RL5: a server that accepts and never answers costs one socket timeout per
    request until the breaker opens (3 failures); from then on the app opens no connection
    to Redis at all. Prints the latencies that docs/rate-limiting.md records.

    The proof is behavioural (connections the silent server saw, failures the breaker
    counted), not a latency median: a loaded machine stretches every latency, but it
    cannot make an open breaker open a connection (docs/testing.md, timing bounds)."""
    n = 60
    async with serve(hardened(None, rate_limit_enabled=False)) as client:
        await _latencies_ms(client, 5)
        off = statistics.median(await _latencies_ms(client, n))
    async with serve(hardened(redis_server.url)) as client:
        await _latencies_ms(client, 5)
        healthy = statistics.median(await _latencies_ms(client, n))
    with SilentServer() as silent:
        app = hardened(silent.url, redis_breaker_cooldown_seconds=60)
        breaker = app.state.container.redis.breaker
        async with serve(app) as client:
            first = await _latencies_ms(client, 3)
            assert breaker.state == "open"
            opened_with = silent.connections()
            down = await _latencies_ms(client, n)
            answers = await mixed_traffic(app, client, rounds=5)
            after_open = silent.connections() - opened_with
    no_5xx(answers)
    print(
        f"\n[redis-latency] rate limit off: {off:.2f} ms; Redis healthy: {healthy:.2f} ms; "
        f"Redis silent, first 3 requests: {', '.join(f'{x:.1f}' for x in first)} ms; "
        f"breaker open: {statistics.median(down):.2f} ms (median of {n})"
    )
    # Each of the first three requests connected and waited for an answer that never came.
    assert opened_with == 3
    assert breaker.failures == 3
    # Lower bound: each paid the 50 ms socket timeout (timers never fire early). Upper
    # bound, generous on purpose: the guard cuts a call at 0.2 s (connect + 3 x socket
    # timeout), the rest is scheduling on a busy machine (~0.6 s seen under make flaky);
    # without the short timeouts redis-py's defaults would wait 5 s or more per request.
    assert all(40 <= x < 4000 for x in first), first
    # The open breaker short-circuits: 60 requests and the mixed traffic made no Redis
    # call at all (no new connection, no new failure), and the cooldown (60 s) is far away.
    assert after_open == 0
    assert breaker.failures == 3
    assert breaker.state == "open"


async def test_rl2_pool_exhaustion_takes_the_fail_open_path(
    hardened: Callable[..., FastAPI], redis_server: ThrowawayRedis
) -> None:
    """RL2: a one-connection pool under a concurrent burst -> zero 5xx; requests that found
    the pool full are served without a decision, the breaker counts no failure, and the
    next lone request is limited again.

    The timeouts are generous (2 s) because this test is about a full pool, not a slow
    server: with the 50 ms defaults a connect that misses its timeout on a busy machine
    also fails open, counts a failure and passes for exhaustion (the cause of a rare red
    run under parallel workers; docs/testing.md)."""
    app = hardened(
        redis_server.url,
        redis_max_connections=1,
        redis_socket_timeout_seconds=2.0,
        redis_connect_timeout_seconds=2.0,
    )
    guard = app.state.container.redis
    async with serve(app) as client:
        warm = await client.get(ME)  # opens the pool's one connection
        answers = await asyncio.gather(*(client.get(ME) for _ in range(40)))
        # What the lone request depends on: the connection back in the pool, breaker closed.
        pool = guard.client.connection_pool
        await wait_for(
            lambda: pool.can_get_connection() and guard.breaker.state == "closed",
            what="the burst's connection back in the pool and the breaker closed",
        )
        after = await client.get(ME)
    assert "x-ratelimit-limit" in warm.headers
    no_5xx(answers)
    # The first request of the burst took the connection; the others, started while it
    # waited for Redis, found the pool full and failed open (asyncio runs every ready task
    # before it polls the socket, so this split does not depend on timing).
    limited = sum("x-ratelimit-limit" in r.headers for r in answers)
    assert 0 < limited < 40, limited
    assert guard.breaker.failures == 0  # a full pool is not a Redis failure
    assert guard.breaker.state == "closed"
    assert "x-ratelimit-limit" in after.headers  # and the next lone request is limited again
