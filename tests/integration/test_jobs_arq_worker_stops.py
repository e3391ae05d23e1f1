"""Background jobs survive their worker's death (ADR-0036; SECURITY J5).

``python -m app worker`` processes on a real Redis: one SIGKILLed in the middle of a job
(the next worker runs it again once arq's lock expires) and one SIGTERMed (it re-queues
the job for the next worker at once). Either way the mail goes out exactly once. The job
hangs in the SMTP greeting of a port that accepts and never answers, so it is mid-run
when the worker stops. Needs ``REDIS_URL`` (skipped otherwise, with the reason); the
flows of a worker that keeps running are in test_jobs_arq.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from app.core.settings import Settings
from app.main import create_app
from tests.conftest import PATIENT_REDIS, real_redis_url
from tests.fixtures.app import serve
from tests.fixtures.auth import add_user
from tests.support.mail import free_port, smtp_server
from tests.support.processes import stop

RESET = "/api/v1/auth/password-reset"
# Every test starts worker processes and waits for what they do (flaky hunt).
pytestmark = [
    pytest.mark.timing,
    pytest.mark.skipif(
        real_redis_url() is None,
        reason="arq workers need a real Redis (REDIS_URL)",
    ),
]


def _worker_process(
    settings: Settings, database_url: str, smtp_port: int, **extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_ENV_FILE": os.devnull,
        "DATABASE_URL": database_url,
        "REDIS_URL": str(settings.redis_url),
        **{name.upper(): str(value) for name, value in PATIENT_REDIS.items()},
        "MAIL_BACKEND": "smtp",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TIMEOUT_SECONDS": "30",
        "JOBS_TIMEOUT_SECONDS": "3",
        "JOBS_RETRY_BACKOFF_SECONDS": "0.05",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _wait(condition: Callable[[], Any], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(0.05)


async def _queue_a_reset(settings: Settings, email: str) -> None:
    """Sign ``email`` up and ask for a password reset: one job waits in Redis."""
    app = create_app(settings)
    async with serve(app) as client:
        await add_user(app, email)
        assert (await client.post(RESET, json={"email": email})).status_code == 202


def _kill_leftovers(tarpit: socket.socket, *processes: subprocess.Popen[bytes] | None) -> None:
    """Close the tarpit and kill any worker a failed test left running."""
    tarpit.close()
    for process in processes:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def test_j5_a_worker_killed_during_a_job_runs_it_again_and_mails_once(
    make_settings: Callable[..., Settings], database_url: str, redis: Redis
) -> None:
    """The first worker hangs in the SMTP greeting (a port that accepts and never
    answers) and is SIGKILLed mid-job. A second worker, with the real SMTP server now on
    that port, runs the job again once the lock expires: exactly one mail goes out."""
    port = free_port()
    tarpit = socket.create_server(("127.0.0.1", port))  # accepts, never speaks
    settings = make_settings(redis_url=real_redis_url(), jobs_timeout_seconds=3, **PATIENT_REDIS)
    first = second = None
    try:
        await _queue_a_reset(settings, "killed@example.com")
        first = _worker_process(settings, database_url, port)
        in_progress = await redis.keys("arq:in-progress:*")
        assert in_progress == []

        async def running() -> bool:
            return bool(await redis.keys("arq:in-progress:*"))

        await _wait(running, "the first worker picks the job", 90)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        tarpit.close()
        with smtp_server(port) as server:
            second = _worker_process(settings, database_url, port)

            async def delivered() -> bool:
                return len(server.messages) >= 1

            await _wait(delivered, "the second worker sends the mail", 90)
            await asyncio.sleep(1)
            assert len(server.messages) == 1
            stop(second, timeout=30)
            assert second.returncode == 0  # SIGTERM: a graceful stop
    finally:
        _kill_leftovers(tarpit, first, second)


async def test_j5_sigterm_during_a_job_requeues_it_for_the_next_worker(
    make_settings: Callable[..., Settings], database_url: str, redis: Redis
) -> None:
    """SIGTERM while a job hangs in the SMTP greeting: the worker waits
    ``JOBS_SHUTDOWN_GRACE_SECONDS`` (1 s here), cancels the job, re-queues it and exits 0;
    the next worker runs it at once (no lock to wait for) and the mail goes out once."""
    port = free_port()
    tarpit = socket.create_server(("127.0.0.1", port))
    settings = make_settings(redis_url=real_redis_url(), jobs_timeout_seconds=30, **PATIENT_REDIS)
    first = second = None
    grace = {"JOBS_SHUTDOWN_GRACE_SECONDS": "1", "JOBS_TIMEOUT_SECONDS": "30"}
    try:
        await _queue_a_reset(settings, "sigterm@example.com")
        first = _worker_process(settings, database_url, port, **grace)

        async def running() -> bool:
            return bool(await redis.keys("arq:in-progress:*"))

        await _wait(running, "the first worker picks the job", 90)
        stop(first, timeout=30)
        assert first.returncode == 0
        assert not await running()  # re-queued, not left locked
        assert await redis.zcard("arq:queue") == 1
        tarpit.close()
        with smtp_server(port) as server:
            started = time.monotonic()
            second = _worker_process(settings, database_url, port, **grace)

            async def delivered() -> bool:
                return len(server.messages) >= 1

            await _wait(delivered, "the second worker sends the mail", 60)
            # Far sooner than a lock expiry (30 + 15 s): the job was handed back.
            assert time.monotonic() - started < 40
            await asyncio.sleep(1)
            assert len(server.messages) == 1
    finally:
        _kill_leftovers(tarpit, first, second)
