"""The arq side: registered jobs as arq functions, the worker's options, its health
check (ADR-0036). ``app.worker`` composes them with the concrete jobs.

* Retries: the wrapper turns :class:`~app.jobs.runner.RetryLater` into
  :class:`arq.Retry` (the job goes back to the queue, deferred by the backoff).
* Graceful shutdown: on SIGTERM/SIGINT the worker stops picking jobs and gives the
  running ones ``JOBS_SHUTDOWN_GRACE_SECONDS``; a job still running then is cancelled
  and re-queued by arq. A worker killed outright (SIGKILL, OOM) leaves its job in the
  queue; another worker runs it again once its in-progress lock expires
  (``JOBS_TIMEOUT_SECONDS`` + 15 s).
* Health: the worker writes ``arq:queue:health-check`` every
  :data:`HEALTH_CHECK_INTERVAL` seconds; :func:`check_health` (``python -m app worker
  --check``) exits 0 while that key is fresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry
from arq.connections import RedisSettings
from arq.worker import Function, async_check_health, func

from app.core.settings import Settings
from app.jobs.queues import QUEUE_NAME
from app.jobs.runner import RetryLater, Runner

HEALTH_CHECK_INTERVAL = 10
#: arq's own per-job timeout, beyond the runner's (which turns a slow try into a retry).
ARQ_TIMEOUT_MARGIN_SECONDS = 5


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise SystemExit("error: the worker needs REDIS_URL (without it jobs run in the API)")
    return RedisSettings.from_dsn(settings.redis_url)


def arq_function(runner: Runner, name: str, settings: Settings) -> Function:
    """``name`` as an arq function that runs under ``runner``'s rules."""

    async def run(ctx: dict[str, Any], *, request_id: str | None = None, **kwargs: Any) -> None:
        try:
            await runner.attempt(ctx, name, ctx["job_id"], ctx["job_try"], kwargs, request_id)
        except RetryLater as later:
            raise Retry(defer=later.delay) from None

    return func(
        run,
        name=name,
        max_tries=settings.jobs_max_tries,
        timeout=settings.jobs_timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS,
        keep_result=settings.jobs_dedupe_seconds,
    )


def worker_options(
    settings: Settings,
    runner: Runner,
    *,
    on_startup: Callable[[dict[str, Any]], Awaitable[None]],
    on_shutdown: Callable[[dict[str, Any]], Awaitable[None]],
) -> dict[str, Any]:
    """Keyword arguments of :class:`arq.worker.Worker` for the registered jobs."""
    return {
        "functions": [arq_function(runner, name, settings) for name in runner.functions],
        "queue_name": QUEUE_NAME,
        "redis_settings": redis_settings(settings),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "job_completion_wait": settings.jobs_shutdown_grace_seconds,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "max_tries": settings.jobs_max_tries,
        "keep_result": settings.jobs_dedupe_seconds,
    }


async def check_health(settings: Settings) -> int:
    """0 if a worker wrote its health key within the last interval, else 1."""
    return await async_check_health(redis_settings(settings), None, QUEUE_NAME)
