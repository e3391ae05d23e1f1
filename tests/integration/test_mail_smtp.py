"""Mail backends against a real SMTP server (aiosmtpd, started in the test on a free
127.0.0.1 port) and the console backend (ADR-0037; SECURITY M4, J3)."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from app.core.settings import Settings
from app.mail.backends import CONSOLE_BEGIN, CONSOLE_END, ConsoleBackend, SMTPBackend
from app.mail.messages import render
from tests.fixtures.app import serve
from tests.fixtures.auth import add_user
from tests.support.mail import body_text, drain, free_port, smtp_server, token_in

# These tests starts an SMTP server and waits for retries (the flaky hunt repeats them).
pytestmark = pytest.mark.timing

RESET = "/api/v1/auth/password-reset"


async def test_the_smtp_backend_delivers_text_and_html(settings: Settings) -> None:
    with smtp_server() as server:
        backend = SMTPBackend(
            settings.model_copy(update={"smtp_port": server.port, "mail_from": "app@example.com"})
        )
        await backend.send(
            render(
                "password_reset",
                "ada@example.com",
                link="https://x/r?token=abc&x=<b>",
                minutes="30",
            )
        )
    [received] = server.messages
    assert received["From"] == "app@example.com"
    assert received["To"] == "ada@example.com"
    assert received["Subject"] == "Reset your password"
    assert [part.get_content_type() for part in received.walk()][1:] == ["text/plain", "text/html"]
    assert "https://x/r?token=abc&x=<b>" in body_text(received)
    html = next(p for p in received.walk() if p.get_content_type() == "text/html")
    assert "token=abc&amp;x=&lt;b&gt;" in html.get_payload(decode=True).decode()


async def test_reset_round_trip_over_smtp(make_app: Callable[..., FastAPI]) -> None:
    with smtp_server() as server:
        app = make_app(
            mail_backend="smtp", smtp_port=server.port, frontend_url="https://app.example.com"
        )
        async with serve(app) as client:
            await add_user(app, "smtp@example.com")
            assert (await client.post(RESET, json={"email": "smtp@example.com"})).status_code == 202
            await drain(app)
            [received] = server.messages
            token = token_in(body_text(received), "reset-password")
            confirmed = await client.post(
                "/api/v1/auth/password-reset/confirm",
                json={
                    "token": token,
                    "new_password": "reset over smtp 13",  # pragma: allowlist secret
                },
            )
            assert confirmed.status_code == 204


async def test_j3_smtp_down_retries_then_records_the_failure_and_the_api_is_unaffected(
    make_app: Callable[..., FastAPI],
) -> None:
    """Nothing listens on the SMTP port: the request still answers 202 at once; the job
    is tried ``JOBS_MAX_TRIES`` times, then recorded as failed."""
    app = make_app(
        mail_backend="smtp", smtp_port=free_port(), smtp_timeout_seconds=1,
        jobs_max_tries=3, jobs_retry_backoff_seconds=0.01,
    )  # fmt: skip
    async with serve(app) as client:
        await add_user(app, "down@example.com")
        started = time.monotonic()
        response = await client.post(RESET, json={"email": "down@example.com"})
        assert response.status_code == 202
        assert time.monotonic() - started < 2
        assert (await client.get("/api/v1/health/ready")).status_code == 200
        await drain(app)
        [failed] = app.state.container.jobs.runner.failures.jobs
        assert (failed.function, failed.tries) == ("send_password_reset", 3)
        assert failed.error.startswith("SMTPConnectError")


async def test_m4_the_console_backend_prints_the_message_not_through_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``console`` writes the mail to stdout between markers (for a developer, and
    ``make examples``); the log gets only ``mail.sent`` without the link."""
    stream = io.StringIO()
    await ConsoleBackend("app@example.com", stream).send(
        render(
            "verify_email", "dev@example.com", link="http://f/verify-email?token=tok123", hours="48"
        )
    )
    printed = stream.getvalue()
    assert printed.startswith(CONSOLE_BEGIN)
    assert printed.rstrip().endswith(CONSOLE_END)
    assert "To: dev@example.com" in printed
    assert token_in(printed, "verify-email") == "tok123"
    assert "tok123" not in caplog.text
    assert any(getattr(r, "event", None) == "mail.sent" for r in caplog.records)


def test_production_refuses_console_and_memory_mail() -> None:
    strong = secrets.token_urlsafe(48)
    for backend in ("console", "memory"):
        with pytest.raises(ValueError, match="MAIL_BACKEND"):
            Settings(_env_file=None, app_env="prod", jwt_secret_key=strong, mail_backend=backend)
    Settings(_env_file=None, app_env="prod", jwt_secret_key=strong, mail_backend="smtp")
