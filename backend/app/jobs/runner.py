"""The rules every job runs under, whichever queue carries it (ADR-0036).

A job is an ``async def job(ctx, **kwargs)`` registered by name. :meth:`Runner.attempt`
runs one try of it:

* the request id it was enqueued under is set for the try, so its log lines carry it;
* it is bounded by ``JOBS_TIMEOUT_SECONDS``;
* a failure before the last of ``JOBS_MAX_TRIES`` tries raises :class:`RetryLater` with
  the backoff delay (``JOBS_RETRY_BACKOFF_SECONDS * 2**(try-1)``, at most 10 minutes);
* a failure on the last try is **recorded** (:class:`FailureLog`: Redis list
  ``jobs:failed`` or process memory), logged (``event=jobs.failed``), counted
  (``app_events_total{name="jobs",result="failed"}``) and raised as
  :class:`JobExhausted`.

Jobs must be idempotent: a try may be repeated (a worker killed mid-job, a retry after
a failure that happened after the side effect). The job id is deterministic, so
enqueuing the same work twice runs it once (the queues deduplicate by id).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from app.core.redis import REDIS_FAILURES
from app.core.request_context import request_id_var
from app.core.settings import Settings
from app.telemetry.metrics import Telemetry

logger = logging.getLogger("app.jobs")

#: ``async def job(ctx, **kwargs) -> None``; ``ctx`` holds what the jobs need
#: (``settings``, ``database``, ``mail``), built by the API or the worker.
JobFunction = Callable[..., Awaitable[None]]
#: The Redis list of exhausted jobs, newest first, at most :data:`FAILED_KEEP` entries.
FAILED_KEY = "jobs:failed"
FAILED_KEEP = 1000
MAX_BACKOFF_SECONDS = 600.0


class RetryLater(Exception):
    """This try failed and another is allowed after :attr:`delay` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:.1f}s")
        self.delay = delay


class JobExhausted(Exception):
    """The last allowed try failed; the job was recorded as failed."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failing job is tried again."""

    max_tries: int
    backoff_seconds: float
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.jobs_max_tries,
            settings.jobs_retry_backoff_seconds,
            settings.jobs_timeout_seconds,
        )

    def delay(self, job_try: int) -> float:
        """Seconds to wait after failed try number ``job_try`` (1-based)."""
        delay: float = self.backoff_seconds * 2.0 ** (job_try - 1)
        return min(delay, MAX_BACKOFF_SECONDS)


@dataclass(frozen=True)
class FailedJob:
    """One job that used up its tries: what ``python -m app jobs failed`` prints."""

    job_id: str
    function: str
    tries: int
    error: str
    failed_at: str
    request_id: str | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> FailedJob:
        return cls(**json.loads(raw))


class FailureLog(Protocol):
    """Where exhausted jobs are recorded."""

    async def record(self, job: FailedJob) -> None: ...

    async def recent(self, limit: int = 100) -> list[FailedJob]: ...


class MemoryFailureLog:
    """Exhausted jobs of this process (the in-process queue; lost at exit)."""

    def __init__(self) -> None:
        self.jobs: list[FailedJob] = []

    async def record(self, job: FailedJob) -> None:
        self.jobs.insert(0, job)
        del self.jobs[FAILED_KEEP:]

    async def recent(self, limit: int = 100) -> list[FailedJob]:
        return self.jobs[:limit]


class RedisFailureLog:
    """Exhausted jobs in the Redis list :data:`FAILED_KEY`, shared by every worker."""

    def __init__(self, client: Redis) -> None:
        self.client = client

    async def record(self, job: FailedJob) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(FAILED_KEY, job.to_json())
            pipe.ltrim(FAILED_KEY, 0, FAILED_KEEP - 1)
            await pipe.execute()

    async def recent(self, limit: int = 100) -> list[FailedJob]:
        raw: list[str | bytes] = await self.client.lrange(FAILED_KEY, 0, limit - 1)  # type: ignore[misc]
        return [FailedJob.from_json(item) for item in raw]


def _error(exc: BaseException) -> str:
    """The error's type and a bounded message (job arguments are never part of it)."""
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class Runner:
    """Runs one try of a registered job under the retry policy."""

    def __init__(
        self,
        functions: Mapping[str, JobFunction],
        policy: RetryPolicy,
        failures: FailureLog,
        telemetry: Telemetry,
    ) -> None:
        self.functions = dict(functions)
        self.policy = policy
        self.failures = failures
        self.telemetry = telemetry

    async def attempt(
        self,
        ctx: Mapping[str, Any],
        function: str,
        job_id: str,
        job_try: int,
        kwargs: Mapping[str, Any],
        request_id: str | None,
    ) -> None:
        """Run try ``job_try`` of ``job_id``; raise :class:`RetryLater` or
        :class:`JobExhausted` when it fails."""
        reset = request_id_var.set(request_id)
        fields = {"job_id": job_id, "function": function, "job_try": job_try}
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                await self.functions[function](ctx, **kwargs)
        except Exception as exc:
            if job_try < self.policy.max_tries:
                delay = self.policy.delay(job_try)
                logger.warning(
                    "job failed; will retry",
                    extra={"event": "jobs.retry", "outcome": "retry", "error": _error(exc),
                           "delay_s": delay, **fields},
                )  # fmt: skip
                self.telemetry.event("jobs", "retried")
                raise RetryLater(delay) from exc
            await self._record(exc, fields, job_id, function, job_try, request_id)
            raise JobExhausted(f"{function} failed {job_try} times") from exc
        else:
            logger.info("job done", extra={"event": "jobs.run", "outcome": "done", **fields})
            self.telemetry.event("jobs", "succeeded")
        finally:
            request_id_var.reset(reset)

    async def _record(
        self,
        exc: Exception,
        fields: dict[str, Any],
        job_id: str,
        function: str,
        job_try: int,
        request_id: str | None,
    ) -> None:
        failed = FailedJob(
            job_id, function, job_try, _error(exc), datetime.now(UTC).isoformat(), request_id
        )
        try:
            await self.failures.record(failed)
        except REDIS_FAILURES:  # the log line below still records it
            logger.exception("could not record the failed job", extra={"event": "jobs.failed"})
        logger.error(
            "job failed for good",
            extra={"event": "jobs.failed", "outcome": "failed", "error": failed.error, **fields},
        )
        self.telemetry.event("jobs", "failed")
