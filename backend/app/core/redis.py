"""The one shared async Redis client, with short timeouts and no retries (ADR-0012).

Redis is optional (``REDIS_URL`` unset means no client). Everything that uses
it must fail open: a Redis error is logged and treated as "no answer".
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.core.settings import Settings


def create_redis(settings: Settings) -> Redis | None:
    """Build the client for ``settings.redis_url`` (no network I/O), or ``None``."""
    if not settings.redis_url:
        return None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        retry=Retry(NoBackoff(), retries=0),
        retry_on_timeout=False,
        health_check_interval=0,
        max_connections=settings.redis_max_connections,
        decode_responses=True,
    )
