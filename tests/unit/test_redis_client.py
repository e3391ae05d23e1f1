"""The shared Redis client: optional, short timeouts, no retries (ADR-0012; SECURITY RL1)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.core.redis import create_redis
from app.core.settings import Settings
from tests.fault.redis_proc import SilentServer

#: ADR-0012's bound for a Redis call that gets no answer (seconds).
ADR_TIMEOUT = 0.05
#: Upper bound on one call to a server that does not answer (seconds). Generous on
#: purpose (docs/testing.md): the call costs one 50 ms socket timeout plus a busy
#: machine's scheduling delays; what the bound catches is a long or missing timeout
#: (redis-py's default waits forever; each retry pays the timeout again).
CALL_BOUND = 2.0


def test_no_redis_url_means_no_client() -> None:
    assert create_redis(Settings(_env_file=None, redis_url=None)) is None


async def _timed_ping(client: Redis) -> float:
    """Seconds until ``PING`` fails with a timeout (an outer 10 s cut turns a missing
    socket timeout into a failure instead of a hang)."""
    started = time.perf_counter()
    async with asyncio.timeout(10):
        with pytest.raises(RedisTimeoutError):
            await client.ping()
    return time.perf_counter() - started


@pytest.mark.timing
def _retries(retry: Any) -> int:
    """A ``Retry``'s count: ``get_retries()`` in redis-py 6+, ``_retries`` in 5.x (the
    line arq 0.28 allows, ADR-0036)."""
    getter = getattr(retry, "get_retries", None)
    return int(getter() if getter is not None else retry._retries)


async def test_client_has_short_timeouts_and_no_retries() -> None:
    """The *defaults*: only ``REDIS_URL`` is set, every timeout and retry setting is the
    shipped one. A server that accepts connections and never answers costs one 50 ms
    timeout, on one connection: the client never reconnects to retry."""
    assert Settings(_env_file=None).redis_socket_timeout_seconds == ADR_TIMEOUT
    assert Settings(_env_file=None).redis_connect_timeout_seconds == ADR_TIMEOUT

    with SilentServer() as silent:
        client = create_redis(Settings(_env_file=None, redis_url=silent.url))
        assert client is not None
        try:
            kwargs = client.connection_pool.connection_kwargs
            assert kwargs["socket_timeout"] == ADR_TIMEOUT
            assert kwargs["socket_connect_timeout"] == ADR_TIMEOUT
            assert _retries(kwargs["retry"]) == 0
            assert _retries(client.get_retry()) == 0
            elapsed = await _timed_ping(client)
            # One connection: a retry would reconnect (redis-py drops a timed-out one).
            assert silent.connections() == 1
        finally:
            await client.aclose()

    assert elapsed >= ADR_TIMEOUT * 0.8  # the timeout was paid: nothing answered early
    assert elapsed < CALL_BOUND
