"""The shared Redis client: optional, short timeouts, no retries (ADR-0012; SECURITY RL1)."""

from __future__ import annotations

from app.core.redis import create_redis
from app.core.settings import Settings


def test_no_redis_url_means_no_client() -> None:
    assert create_redis(Settings(_env_file=None, redis_url=None)) is None


async def test_client_has_short_timeouts_and_no_retries() -> None:
    settings = Settings(
        _env_file=None,
        redis_url="redis://127.0.0.1:9/0",
        redis_socket_timeout_seconds=0.05,
        redis_connect_timeout_seconds=0.05,
    )
    client = create_redis(settings)
    assert client is not None
    try:
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 0.05
        assert kwargs["socket_connect_timeout"] == 0.05
        retry = kwargs.get("retry") or client.get_retry()
        assert retry is None or retry.get_retries() == 0
    finally:
        await client.aclose()
