"""The background worker (ADR-0036): ``python -m app worker`` (``make worker``) runs
the jobs of :data:`app.auth.jobs.JOBS` from the arq queue in Redis (``REDIS_URL``).

It builds what the jobs need (``settings``, ``database``, ``mail``) once at start-up,
records exhausted jobs in the Redis list ``jobs:failed`` (``python -m app jobs
failed``), and, with ``METRICS_ENABLED``, serves its Prometheus counters on
``WORKER_METRICS_PORT``. ``python -m app worker --check`` is its health check.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.worker import Worker
from prometheus_client import start_http_server
from redis.asyncio import Redis

from app.auth.jobs import JOBS
from app.core.logging import configure_logging
from app.core.settings import Settings
from app.db.engine import Database
from app.jobs.runner import FailedJob, MemoryFailureLog, RedisFailureLog, RetryPolicy, Runner
from app.jobs.worker import worker_options
from app.mail.backends import build_backend
from app.telemetry.metrics import build_telemetry

logger = logging.getLogger("app.jobs")


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq :class:`Worker` for every registered job (``overrides``: tests)."""
    telemetry, prometheus = build_telemetry(settings)
    runner = Runner(JOBS, RetryPolicy.from_settings(settings), MemoryFailureLog(), telemetry)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx.update(settings=settings, database=Database(settings), mail=build_backend(settings))
        runner.failures = RedisFailureLog(ctx["redis"])
        if prometheus is not None and settings.worker_metrics_port:
            start_http_server(settings.worker_metrics_port, registry=prometheus.registry)
        logger.info(
            "worker started",
            extra={"event": "jobs.worker", "outcome": "started", "jobs": ",".join(JOBS)},
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        database: Database | None = ctx.get("database")
        if database is not None:
            await database.dispose()
        logger.info("worker stopped", extra={"event": "jobs.worker", "outcome": "stopped"})

    options = worker_options(settings, runner, on_startup=startup, on_shutdown=shutdown)
    return Worker(**{**options, **overrides})


def run(settings: Settings) -> int:
    """Run the worker until SIGTERM/SIGINT (graceful: see :mod:`app.jobs.worker`)."""
    configure_logging(
        level=settings.log_level,
        json_logs=settings.log_json,
        service=f"{settings.service_name}-worker",
        env=settings.app_env,
    )
    build_worker(settings).run()
    return 0


async def failed_jobs(settings: Settings, limit: int = 100) -> list[FailedJob]:
    """The most recent exhausted jobs recorded in Redis, newest first."""
    if not settings.redis_url:
        raise SystemExit(
            "error: REDIS_URL is not set: without Redis, jobs run in the API process and "
            "their failures are only in its log (event=jobs.failed) and metrics"
        )
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        return await RedisFailureLog(client).recent(limit)
    finally:
        await client.aclose()
