"""Dependency checks for readiness, each bounded by ``HEALTH_CHECK_TIMEOUT_SECONDS``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from redis.asyncio import Redis

from app.db.engine import Database
from app.health.schemas import CheckStatus, Readiness

logger = logging.getLogger("app.health")


async def _bounded(name: str, probe: Awaitable[object], seconds: float) -> CheckStatus:
    try:
        async with asyncio.timeout(seconds):
            await probe
    except Exception as exc:  # noqa: BLE001 - any failure, a timeout included, means "not ready"
        logger.warning(
            "readiness check failed", extra={"check": name, "error_type": type(exc).__name__}
        )
        return "error"
    return "ok"


async def readiness(db: Database, redis: Redis | None, seconds: float) -> Readiness:
    """Run the checks concurrently. The database is required; Redis is optional (fail-open)."""
    probes: dict[str, Awaitable[object]] = {"db": db.ping()}
    if redis is not None:
        probes["redis"] = redis.ping()
    results = await asyncio.gather(*(_bounded(n, p, seconds) for n, p in probes.items()))
    checks = dict(zip(probes, results, strict=True))
    if checks["db"] == "error":
        status = "error"
    elif "error" in checks.values():
        status = "degraded"
    else:
        status = "ok"
    return Readiness(status=status, checks=checks)
