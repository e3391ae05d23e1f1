"""The job rules without Redis (ADR-0036; SECURITY J1, J2, J3, J4, J5): the in-process queue retries
with backoff, records a job that used up its tries (log line, metric, failure log),
deduplicates by job id, carries the request id, and logs what a shutdown drops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from app.core.request_context import get_request_id, request_id_var
from app.jobs.queues import InProcessQueue
from app.jobs.runner import MemoryFailureLog, RetryPolicy, Runner
from app.telemetry.metrics import LogTelemetry

# These tests waits for retries, backoff and timeouts (the flaky hunt repeats them).
pytestmark = pytest.mark.timing

POLICY = RetryPolicy(max_tries=3, backoff_seconds=0.01, timeout_seconds=5)


class Flaky:
    """A job that fails ``failures`` times, then succeeds; records each try's request id."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str | None, dict[str, Any]]] = []

    async def __call__(self, ctx: Mapping[str, Any], **kwargs: Any) -> None:
        self.calls.append((get_request_id(), kwargs))
        logging.getLogger("tests.job").info("job ran")
        if len(self.calls) <= self.failures:
            raise ConnectionRefusedError("smtp down")


def _queue(job: Any, policy: RetryPolicy = POLICY, dedupe: float = 60) -> InProcessQueue:
    runner = Runner({"flaky": job}, policy, MemoryFailureLog(), LogTelemetry())
    return InProcessQueue(runner, dedupe_seconds=dedupe, shutdown_grace_seconds=0.2)


async def _enqueue_in_request(queue: InProcessQueue, request_id: str, job_id: str) -> None:
    """Enqueue the ``flaky`` job as a request with ``request_id`` would."""
    token = request_id_var.set(request_id)
    try:
        await queue.enqueue("flaky", job_id)
    finally:
        request_id_var.reset(token)


def _events(queue: InProcessQueue) -> dict[tuple[str, str], int]:
    telemetry = queue.runner.telemetry
    assert isinstance(telemetry, LogTelemetry)
    return dict(telemetry.events)


async def test_j2_a_failing_job_is_retried_with_backoff_until_it_succeeds() -> None:
    job = Flaky(failures=2)
    queue = _queue(job)
    assert POLICY.delay(1) == pytest.approx(0.01)
    assert POLICY.delay(3) == pytest.approx(0.04)
    assert await queue.enqueue("flaky", "job-1", to="a")
    await queue.drain()
    assert len(job.calls) == 3
    assert _events(queue) == {("jobs", "retried"): 2, ("jobs", "succeeded"): 1}


async def test_j3_a_job_out_of_tries_is_recorded_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = Flaky(failures=99)
    queue = _queue(job)
    await _enqueue_in_request(queue, "req-failed-1", "job-2")
    await queue.drain()
    assert len(job.calls) == POLICY.max_tries
    failures = queue.runner.failures
    assert isinstance(failures, MemoryFailureLog)
    [failed] = failures.jobs
    assert (failed.job_id, failed.function, failed.tries) == ("job-2", "flaky", 3)
    assert failed.error == "ConnectionRefusedError: smtp down"
    assert failed.request_id == "req-failed-1"
    assert _events(queue)[("jobs", "failed")] == 1
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "jobs.failed"]
    assert line.levelno == logging.ERROR
    assert line.__dict__["job_id"] == "job-2"


async def test_j1_the_same_job_id_runs_once_within_the_dedupe_window() -> None:
    job = Flaky(failures=0)
    queue = _queue(job)
    assert await queue.enqueue("flaky", "same")
    assert not await queue.enqueue("flaky", "same")  # pending
    await queue.drain()
    assert not await queue.enqueue("flaky", "same")  # done, within the window
    await queue.drain()
    assert len(job.calls) == 1
    assert _events(queue)[("jobs", "duplicate")] == 2


async def test_j1_after_the_window_the_same_id_runs_again() -> None:
    job = Flaky(failures=0)
    queue = _queue(job, dedupe=0)
    await queue.enqueue("flaky", "again")
    await queue.drain()
    assert await queue.enqueue("flaky", "again")
    await queue.drain()
    assert len(job.calls) == 2


async def test_j4_the_request_id_travels_into_the_job(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    job = Flaky(failures=1)
    queue = _queue(job)
    await _enqueue_in_request(queue, "req-abc", "rid")
    await queue.drain()
    assert [rid for rid, _ in job.calls] == ["req-abc", "req-abc"]


async def test_a_slow_try_times_out_and_is_retried() -> None:
    calls: list[int] = []

    async def slow(ctx: Mapping[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(10)

    runner = Runner({"slow": slow}, RetryPolicy(3, 0.01, 0.1), MemoryFailureLog(), LogTelemetry())
    queue = InProcessQueue(runner, dedupe_seconds=60, shutdown_grace_seconds=1)
    await queue.enqueue("slow", "slow-1")
    await queue.drain()
    assert len(calls) == 2


async def test_shutdown_logs_every_job_it_drops(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing is dropped silently: a job still pending at shutdown gets a
    ``jobs.dropped`` error line (the in-process trade-off, docs/jobs-and-mail.md)."""

    async def forever(ctx: Mapping[str, Any]) -> None:
        await asyncio.sleep(60)

    runner = Runner({"forever": forever}, POLICY, MemoryFailureLog(), LogTelemetry())
    queue = InProcessQueue(runner, dedupe_seconds=60, shutdown_grace_seconds=0.1)
    await queue.enqueue("forever", "stuck")
    await asyncio.sleep(0)
    await queue.close()
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "jobs.dropped"]
    assert line.__dict__["job_id"] == "stuck"


async def test_unknown_jobs_are_refused_at_enqueue() -> None:
    with pytest.raises(ValueError, match="unknown job"):
        await _queue(Flaky(0)).enqueue("nope", "x")
