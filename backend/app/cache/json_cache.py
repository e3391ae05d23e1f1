"""A small JSON read-through cache on the shared Redis client (ADR-0025, SECURITY RL8).

Off unless ``CACHE_ENABLED=true`` *and* Redis is configured. Entries live for
``CACHE_DEFAULT_TTL_SECONDS``. Every Redis problem (down, slow, pool full, breaker open,
a value that is not our JSON) is a **miss**, never an error. An invalidation that could
not reach Redis is remembered in this process and retried before the next read, so this
process never serves the entry it failed to delete; other processes are bounded by the TTL.

Callers cache only payloads they are allowed to return and keep checking authorization
on every request (the cache holds data, not decisions).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from app.core.redis import RedisGuard, RedisUnavailable
from app.telemetry.metrics import Telemetry

logger = logging.getLogger("app.cache")


class JsonCache:
    """``get``/``set``/``invalidate`` of JSON objects under ``cache:<namespace>:<key>``."""

    def __init__(
        self,
        guard: RedisGuard,
        telemetry: Telemetry,
        *,
        namespace: str,
        enabled: bool,
        ttl_seconds: int,
    ) -> None:
        self.guard = guard
        self.telemetry = telemetry
        self.namespace = namespace
        self.enabled = enabled
        self.ttl = ttl_seconds
        self._pending: set[str] = set()
        #: Test hook and log-mode telemetry alike: lookups by result.
        self.stats: dict[str, int] = {"hit": 0, "miss": 0, "error": 0}

    @property
    def active(self) -> bool:
        return self.enabled and self.guard.configured

    def key(self, key: str) -> str:
        return f"cache:{self.namespace}:{key}"

    def _count(self, result: str) -> None:
        self.stats[result] += 1
        self.telemetry.event(f"cache.{self.namespace}", result)

    async def get(self, key: str) -> dict[str, Any] | None:
        """The cached object, or ``None`` (miss, disabled, or any Redis problem)."""
        if not self.active:
            return None
        await self._flush_pending()
        if key in self._pending:  # deleting it failed: never serve what we meant to drop
            self._count("miss")
            return None
        try:
            raw = await self.guard.run(lambda c: c.get(self.key(key)))
        except RedisUnavailable:
            self._count("error")
            return None
        try:
            value = json.loads(raw) if isinstance(raw, str | bytes) else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            self._count("miss")
            return None
        self._count("hit")
        return value

    async def set(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` with the TTL; a Redis problem is ignored."""
        if not self.active or key in self._pending:
            return
        payload = json.dumps(value, separators=(",", ":"), default=str)
        try:
            await self.guard.run(lambda c: c.set(self.key(key), payload, ex=self.ttl))
        except RedisUnavailable:
            return

    async def invalidate(self, key: str) -> None:
        """Delete the entry now, or as soon as Redis answers again."""
        if not self.guard.configured:
            return
        self._pending.add(key)
        await self._flush_pending()

    async def _flush_pending(self) -> None:
        if not self._pending:
            return
        keys = sorted(self._pending)
        try:
            await self.guard.run(lambda c: c.delete(*(self.key(k) for k in keys)))
        except RedisUnavailable:
            logger.debug("cache invalidation deferred", extra={"keys": len(keys)})
            return
        self._pending.difference_update(keys)
