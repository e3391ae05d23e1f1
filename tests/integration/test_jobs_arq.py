"""Jobs through arq on a real Redis and mail through a real SMTP server (ADR-0036,
ADR-0037; SECURITY J1, J3, J4, J5, J6).

Needs ``REDIS_URL`` (``.ci/run`` sets it; skipped otherwise, with the reason): the same
flows are proven in-process by test_password_reset.py, test_email_verification.py and
test_jobs_inprocess.py. The worker runs in the test (arq burst mode) or, for the kill
test, as ``python -m app worker`` processes. Redis down at enqueue needs no server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from app.core.settings import Settings
from app.jobs.queues import ArqQueue
from app.jobs.worker import check_health
from app.worker import build_worker, failed_jobs
from tests.conftest import real_redis_url
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user
from tests.support.mail import (
    SMTPServer,
    body_text,
    drain,
    free_port,
    outbox,
    smtp_server,
    token_in,
)
from tests.support.processes import closed_port, stop

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
VERIFY = "/api/v1/auth/verify-email"
needs_redis = pytest.mark.skipif(
    real_redis_url() is None,
    reason="arq needs a real Redis (REDIS_URL); the in-process tests prove the same flows",
)
# Every test here starts a worker or an SMTP server and waits for what they do (flaky hunt).
pytestmark = pytest.mark.timing


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def arq_settings(make_settings: Callable[..., Settings], smtp: SMTPServer) -> Settings:
    return make_settings(
        redis_url=real_redis_url(),
        mail_backend="smtp",
        smtp_port=smtp.port,
        jobs_max_tries=3,
        jobs_retry_backoff_seconds=0.05,
        frontend_url="https://app.example.com",
    )


async def run_worker(settings: Settings) -> None:
    """Run an arq worker in this process until the queue is empty (retries included)."""
    worker = build_worker(settings, burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await asyncio.wait_for(worker.main(), timeout=60)
    finally:
        await worker.close()


def _app(arq_settings: Settings) -> FastAPI:
    from app.main import create_app

    return create_app(arq_settings)


@needs_redis
async def test_reset_and_verification_round_trips_through_the_worker(
    arq_settings: Settings, smtp: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(arq_settings)
    assert isinstance(app.state.container.jobs, ArqQueue)
    async with serve(app) as client:
        created = await client.post(
            "/api/v1/users", json={"email": "worker@example.com", "password": DEFAULT_PASSWORD}
        )
        assert created.status_code == 201
        assert smtp.messages == []  # queued in Redis, not sent by the API
        await run_worker(arq_settings)
        [verification] = smtp.messages
        token = token_in(body_text(verification), "verify-email")
        assert (await client.post(VERIFY, json={"token": token})).status_code == 204

        assert (await client.post(RESET, json={"email": "worker@example.com"})).status_code == 202
        await run_worker(arq_settings)
        reset = smtp.messages[-1]
        assert reset["To"] == "worker@example.com"
        token = token_in(body_text(reset), "reset-password")
        confirmed = await client.post(
            CONFIRM,
            json={"token": token, "new_password": "via the worker 14"},  # pragma: allowlist secret
        )
        assert confirmed.status_code == 204
    events = {getattr(r, "event", None) for r in caplog.records}
    assert "jobs.enqueue" in events
    assert not [r for r in caplog.records if getattr(r, "outcome", None) == "fallback"]


@needs_redis
async def test_j1_a_double_enqueue_sends_one_mail(arq_settings: Settings, smtp: SMTPServer) -> None:
    app = _app(arq_settings)
    async with serve(app) as client:
        await add_user(app, "once@example.com")
        for _ in range(2):
            assert (await client.post(RESET, json={"email": "once@example.com"})).status_code == 202
        await run_worker(arq_settings)
        # Done, but within JOBS_DEDUPE_SECONDS: the same id is still refused.
        assert (await client.post(RESET, json={"email": "once@example.com"})).status_code == 202
        await run_worker(arq_settings)
    assert len(smtp.messages) == 1


@needs_redis
async def test_j4_the_request_id_reaches_the_workers_log_lines(
    arq_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = _app(arq_settings)
    async with serve(app) as client:
        await add_user(app, "traced@example.com")
        response = await client.post(
            RESET, json={"email": "traced@example.com"}, headers={"X-Request-ID": "trace-me-42"}
        )
        assert response.headers["x-request-id"] == "trace-me-42"
        caplog.clear()
        await run_worker(arq_settings)
    done = [r for r in caplog.records if getattr(r, "event", None) in ("jobs.run", "mail.sent")]
    assert len(done) == 2
    assert all(getattr(r, "request_id", None) == "trace-me-42" for r in done)


@needs_redis
async def test_j3_smtp_down_retries_then_a_recorded_failure(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        redis_url=real_redis_url(), mail_backend="smtp", smtp_port=closed_port(),
        smtp_timeout_seconds=1, jobs_max_tries=3, jobs_retry_backoff_seconds=0.05,
    )  # fmt: skip
    app = _app(settings)
    async with serve(app) as client:
        await add_user(app, "nomail@example.com")
        started = time.monotonic()
        assert (await client.post(RESET, json={"email": "nomail@example.com"})).status_code == 202
        assert time.monotonic() - started < 2  # the API does not wait for SMTP
        await run_worker(settings)
        assert (await client.get("/api/v1/health/ready")).status_code == 200
    [failed] = await failed_jobs(settings)
    assert (failed.function, failed.tries) == ("send_password_reset", 3)
    assert failed.error.startswith("SMTPConnectError")
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app", "jobs", "failed"],
        env={**os.environ, "APP_ENV_FILE": os.devnull, "REDIS_URL": str(settings.redis_url)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert failed.job_id in listed.stdout
    assert "1 failed jobs" in listed.stderr


@needs_redis
async def test_the_worker_health_check(arq_settings: Settings) -> None:
    assert await check_health(arq_settings) == 1  # no worker yet
    worker = build_worker(arq_settings, handle_signals=False, poll_delay=0.05)
    task = asyncio.create_task(worker.main())
    try:
        for _ in range(200):
            if await check_health(arq_settings) == 0:
                break
            await asyncio.sleep(0.05)
        assert await check_health(arq_settings) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


def _worker_process(
    settings: Settings, database_url: str, smtp_port: int, **extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_ENV_FILE": os.devnull,
        "DATABASE_URL": database_url,
        "REDIS_URL": str(settings.redis_url),
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


@needs_redis
async def test_j5_a_worker_killed_during_a_job_runs_it_again_and_mails_once(
    make_settings: Callable[..., Settings], database_url: str, redis: Redis
) -> None:
    """The first worker hangs in the SMTP greeting (a port that accepts and never
    answers) and is SIGKILLed mid-job. A second worker, with the real SMTP server now on
    that port, runs the job again once the lock expires: exactly one mail goes out."""
    port = free_port()
    tarpit = socket.create_server(("127.0.0.1", port))  # accepts, never speaks
    settings = make_settings(redis_url=real_redis_url(), jobs_timeout_seconds=3)
    app = _app(settings)
    first = second = None
    try:
        async with serve(app) as client:
            await add_user(app, "killed@example.com")
            assert (
                await client.post(RESET, json={"email": "killed@example.com"})
            ).status_code == 202
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
        tarpit.close()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@needs_redis
async def test_j5_sigterm_during_a_job_requeues_it_for_the_next_worker(
    make_settings: Callable[..., Settings], database_url: str, redis: Redis
) -> None:
    """SIGTERM while a job hangs in the SMTP greeting: the worker waits
    ``JOBS_SHUTDOWN_GRACE_SECONDS`` (1 s here), cancels the job, re-queues it and exits 0;
    the next worker runs it at once (no lock to wait for) and the mail goes out once."""
    port = free_port()
    tarpit = socket.create_server(("127.0.0.1", port))
    settings = make_settings(redis_url=real_redis_url(), jobs_timeout_seconds=30)
    app = _app(settings)
    first = second = None
    grace = {"JOBS_SHUTDOWN_GRACE_SECONDS": "1", "JOBS_TIMEOUT_SECONDS": "30"}
    try:
        async with serve(app) as client:
            await add_user(app, "sigterm@example.com")
            assert (
                await client.post(RESET, json={"email": "sigterm@example.com"})
            ).status_code == 202
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
        tarpit.close()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)


async def test_j6_redis_down_at_enqueue_runs_the_job_in_process(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    """Redis refuses the enqueue: the request still answers 202 at once, the job runs in
    the API process (logged ``jobs.enqueue outcome=fallback``), the mail goes out."""
    app = make_app(
        redis_url=f"redis://127.0.0.1:{closed_port()}/0", mail_backend="memory",
        with_redis=False,
    )  # fmt: skip
    assert isinstance(app.state.container.jobs, ArqQueue)
    async with serve(app) as client:
        await add_user(app, "fallback@example.com")
        started = time.monotonic()
        response = await client.post(RESET, json={"email": "fallback@example.com"})
        assert response.status_code == 202
        assert time.monotonic() - started < 2
        await drain(app)
    [message] = outbox(app)
    assert message.to == "fallback@example.com"
    [line] = [r for r in caplog.records if getattr(r, "outcome", None) == "fallback"]
    assert line.levelno == logging.WARNING
