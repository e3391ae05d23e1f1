"""Where jobs wait: arq on Redis, or the API process itself (ADR-0036).

:func:`build_queue` picks :class:`ArqQueue` when ``REDIS_URL`` is set (a separate
``make worker`` process runs the jobs) and :class:`InProcessQueue` otherwise (the
two-command start: ``make run`` needs no Redis). Both deduplicate by job id and run
the jobs under the same :class:`~app.jobs.runner.Runner` rules.

When Redis fails at enqueue (down, breaker-like timeout), :class:`ArqQueue` hands the
job to its in-process fallback and logs ``event=jobs.enqueue outcome=fallback``: the
request answers as usual and the job is not lost while this process lives.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from arq.connections import ArqRedis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.core.redis import REDIS_FAILURES
from app.core.request_context import get_request_id
from app.core.settings import Settings
from app.jobs.runner import JobExhausted, RetryLater, Runner
from app.telemetry.metrics import Telemetry

logger = logging.getLogger("app.jobs")

#: The arq queue (Redis sorted set) the API fills and ``make worker`` drains.
QUEUE_NAME = "arq:queue"


class JobQueue(Protocol):
    """What the API enqueues through (``Container.jobs``)."""

    name: str

    def bind(self, ctx: Mapping[str, Any]) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def enqueue(self, function: str, job_id: str, **kwargs: Any) -> bool: ...


def _enqueued(queue: str, outcome: str, function: str, job_id: str) -> None:
    logger.info(
        "job enqueued" if outcome == "queued" else "job already queued or recently done",
        extra={"event": "jobs.enqueue", "outcome": outcome, "queue": queue,
               "function": function, "job_id": job_id},
    )  # fmt: skip


class InProcessQueue:
    """Jobs as tasks of this process, tried again after the same backoff.

    Trade-offs (docs/jobs-and-mail.md): a job lives only as long as the process (a
    restart drops queued tries; :meth:`close` logs each as ``jobs.dropped``), it takes
    CPU from the API, deduplication is per process, and failures are only in this
    process's log and metrics (``python -m app jobs failed`` cannot see them).
    """

    name = "in-process"

    def __init__(
        self,
        runner: Runner,
        dedupe_seconds: float,
        shutdown_grace_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.dedupe_seconds = dedupe_seconds
        self.grace = shutdown_grace_seconds
        self.clock = clock
        self.ctx: Mapping[str, Any] = {}
        #: job id -> until when an enqueue of the same id is a duplicate (inf while pending)
        self._ids: dict[str, float] = {}
        self._tasks: dict[asyncio.Task[None], tuple[str, str]] = {}

    def bind(self, ctx: Mapping[str, Any]) -> None:
        """What the jobs receive as ``ctx`` (settings, database, mail)."""
        self.ctx = ctx

    async def start(self) -> None:
        return None

    async def enqueue(self, function: str, job_id: str, **kwargs: Any) -> bool:
        """Start ``function`` as a task unless ``job_id`` is pending or recently done."""
        if function not in self.runner.functions:
            raise ValueError(f"unknown job {function!r}")
        now = self.clock()
        for known, until in list(self._ids.items()):
            if until <= now:
                del self._ids[known]
        if job_id in self._ids:
            _enqueued(self.name, "duplicate", function, job_id)
            self.runner.telemetry.event("jobs", "duplicate")
            return False
        self._ids[job_id] = math.inf
        task = asyncio.create_task(self._run(function, job_id, kwargs, get_request_id()))
        self._tasks[task] = (function, job_id)
        task.add_done_callback(self._tasks.pop)
        _enqueued(self.name, "queued", function, job_id)
        return True

    async def _run(
        self, function: str, job_id: str, kwargs: dict[str, Any], request_id: str | None
    ) -> None:
        try:
            for job_try in range(1, self.runner.policy.max_tries + 1):
                try:
                    await self.runner.attempt(
                        self.ctx, function, job_id, job_try, kwargs, request_id
                    )
                    return
                except RetryLater as later:
                    await asyncio.sleep(later.delay)
                except JobExhausted:
                    return
        finally:
            self._ids[job_id] = self.clock() + self.dedupe_seconds

    async def drain(self) -> None:
        """Wait until no job is pending (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Give pending jobs ``JOBS_SHUTDOWN_GRACE_SECONDS``; cancel and log the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=self.grace)
        for task in pending:
            function, job_id = self._tasks.get(task, ("?", "?"))
            task.cancel()
            logger.error(
                "job dropped at shutdown",
                extra={"event": "jobs.dropped", "outcome": "dropped",
                       "function": function, "job_id": job_id},
            )  # fmt: skip
            self.runner.telemetry.event("jobs", "dropped")
        await asyncio.gather(*pending, return_exceptions=True)


class ArqQueue:
    """Jobs in Redis for ``make worker``; the in-process queue when Redis fails."""

    name = "arq"

    def __init__(self, settings: Settings, fallback: InProcessQueue, telemetry: Telemetry) -> None:
        if not settings.redis_url:
            raise ValueError("ArqQueue needs REDIS_URL")
        self.url = settings.redis_url
        #: Enqueue is on the request path: short timeouts, no retries (ADR-0012).
        self.timeout = max(settings.redis_socket_timeout_seconds, 0.05) * 4
        self.connect_timeout = settings.redis_connect_timeout_seconds
        self.fallback = fallback
        self.telemetry = telemetry
        self.pool: ArqRedis | None = None

    def bind(self, ctx: Mapping[str, Any]) -> None:
        self.fallback.bind(ctx)

    async def start(self) -> None:
        self.pool = ArqRedis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.connect_timeout,
            retry=Retry(NoBackoff(), 0),
        )

    async def close(self) -> None:
        await self.fallback.close()
        if self.pool is not None:
            await self.pool.aclose()
            self.pool = None

    async def enqueue(self, function: str, job_id: str, **kwargs: Any) -> bool:
        """Put the job in Redis (``False``: that id is queued, running or recently done);
        on a Redis failure run it in this process instead."""
        if self.pool is None:
            raise RuntimeError("ArqQueue.start() was not awaited")
        try:
            job = await asyncio.wait_for(
                self.pool.enqueue_job(
                    function, _job_id=job_id, _queue_name=QUEUE_NAME,
                    request_id=get_request_id(), **kwargs,
                ),
                timeout=self.timeout * 4,
            )  # fmt: skip
        except REDIS_FAILURES as exc:
            logger.warning(
                "Redis unavailable at enqueue; running the job in this process",
                extra={"event": "jobs.enqueue", "outcome": "fallback", "function": function,
                       "job_id": job_id, "error": type(exc).__name__},
            )  # fmt: skip
            self.telemetry.event("jobs", "enqueue_fallback")
            return await self.fallback.enqueue(function, job_id, **kwargs)
        if job is None:
            _enqueued(self.name, "duplicate", function, job_id)
            self.telemetry.event("jobs", "duplicate")
            return False
        _enqueued(self.name, "queued", function, job_id)
        return True


def build_queue(settings: Settings, runner: Runner) -> JobQueue:
    """:class:`ArqQueue` with ``REDIS_URL``, else :class:`InProcessQueue`."""
    local = InProcessQueue(
        runner, settings.jobs_dedupe_seconds, settings.jobs_shutdown_grace_seconds
    )
    if settings.redis_url:
        return ArqQueue(settings, local, runner.telemetry)
    return local
