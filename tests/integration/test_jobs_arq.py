"""Jobs through arq on a real Redis and mail through a real SMTP server (ADR-0036,
ADR-0037; SECURITY J1, J3, J4, J5, J6).

Needs ``REDIS_URL`` (``.ci/run`` sets it; skipped otherwise, with the reason): the same
flows are proven in-process by test_password_reset.py, test_email_verification.py and
test_jobs_inprocess.py. The worker runs in the test (arq burst mode); a worker process
killed or stopped mid-job (J5) is test_jobs_arq_worker_stops.py. Redis down at enqueue
needs no server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.jobs.queues import ArqQueue
from app.jobs.worker import check_health
from app.worker import build_worker, failed_jobs
from tests.conftest import PATIENT_REDIS, real_redis_url
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user
from tests.support.mail import (
    SMTPServer,
    body_text,
    drain,
    outbox,
    smtp_server,
    token_in,
)
from tests.support.processes import closed_port

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
        **PATIENT_REDIS,
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
