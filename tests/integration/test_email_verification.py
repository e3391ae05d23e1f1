"""Email verification (ADR-0038; SECURITY M1, M5, M6, P10): sign-up and an email change mail
``{FRONTEND_URL}/verify-email?token=``; ``REQUIRE_VERIFIED_EMAIL`` gates the API."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from app.ratelimit.mail_throttle import MESSAGES
from app.users.dependencies import EMAIL_NOT_VERIFIED
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, bearer, login
from tests.support.mail import drain, outbox, token_in

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"
ME = "/api/v1/users/me"
OTHER_PASSWORD = "whatever it is 12"  # pragma: allowlist secret


async def _sign_up(client: httpx.AsyncClient, app: FastAPI, email: str) -> tuple[str, str]:
    """Sign up, log in; the access token and the mailed verification token."""
    created = await client.post(
        "/api/v1/users", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert created.status_code == 201, created.text
    assert created.json()["is_verified"] is False
    await drain(app)
    message = outbox(app)[-1]
    assert message.to == email
    return await login(client, email), token_in(message.text, "verify-email")


async def test_sign_up_mails_a_link_that_verifies_once(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        access, token = await _sign_up(client, mail_app, "new@example.com")
        assert f"https://app.example.com/verify-email?token={token}" in outbox(mail_app)[-1].text
        assert (await client.post(VERIFY, json={"token": token})).status_code == 204
        me = await client.get(ME, headers=bearer(access))
        assert me.json()["is_verified"] is True
        again = await client.post(VERIFY, json={"token": token})
        assert (again.status_code, again.json()["error"]["code"]) == (400, "invalid_token")


async def test_m5_an_email_change_unverifies_and_kills_the_old_link(mail_app: FastAPI) -> None:
    """The new address gets its own link; the old address's link no longer verifies."""
    async with serve(mail_app) as client:
        access, old_token = await _sign_up(client, mail_app, "before@example.com")
        changed = await client.patch(
            ME,
            json={"email": "after@example.com", "current_password": DEFAULT_PASSWORD},
            headers=bearer(access),
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["is_verified"] is False
        await drain(mail_app)
        message = outbox(mail_app)[-1]
        assert message.to == "after@example.com"
        new_token = token_in(message.text, "verify-email")
        assert (await client.post(VERIFY, json={"token": old_token})).status_code == 400
        assert (await client.post(VERIFY, json={"token": new_token})).status_code == 204
        assert (await client.get(ME, headers=bearer(access))).json()["is_verified"] is True


async def test_m5_a_verified_address_becomes_unverified_when_changed(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        access, token = await _sign_up(client, mail_app, "first@example.com")
        assert (await client.post(VERIFY, json={"token": token})).status_code == 204
        changed = await client.patch(
            ME,
            json={"email": "second@example.com", "current_password": DEFAULT_PASSWORD},
            headers=bearer(access),
        )
        assert changed.json()["is_verified"] is False


async def test_resend_mails_a_new_link_and_is_throttled(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(mail_backend="memory", jobs_dedupe_seconds=0, mail_max_per_address=2)
    async with serve(app) as client:
        access, first = await _sign_up(client, app, "again@example.com")
        resent = await client.post(RESEND, headers=bearer(access))
        assert resent.status_code == 202
        await drain(app)
        second = token_in(outbox(app)[-1].text, "verify-email")
        assert second != first
        assert (await client.post(VERIFY, json={"token": first})).status_code == 400
        assert (await client.post(RESEND, headers=bearer(access))).status_code == 202
        throttled = await client.post(RESEND, headers=bearer(access))
        assert (throttled.status_code, throttled.json()["error"]["code"]) == (429, "rate_limited")
        assert (await client.post(RESEND)).status_code == 401


async def test_resend_for_a_verified_address_sends_nothing(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        access, token = await _sign_up(client, mail_app, "done@example.com")
        assert (await client.post(VERIFY, json={"token": token})).status_code == 204
        sent = len(outbox(mail_app))
        assert (await client.post(RESEND, headers=bearer(access))).status_code == 202
        await drain(mail_app)
        assert len(outbox(mail_app)) == sent


async def test_require_verified_email_gates_all_but_me_resend_and_logout(
    make_app: Callable[..., FastAPI],
) -> None:
    """With ``REQUIRE_VERIFIED_EMAIL``: 403 ``email_not_verified`` everywhere except
    reading yourself, resending and logging out; verified, everything works again."""
    app = make_app(mail_backend="memory", require_verified_email=True)
    async with serve(app) as client:
        access, _ = await _sign_up(client, app, "gate@example.com")
        refused = await client.get("/api/v1/items", headers=bearer(access))
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "email_not_verified"
        assert error["request_id"] == refused.headers["x-request-id"]
        for method, path in (
            ("GET", "/api/v1/users/me/sessions"),
            ("POST", "/api/v1/auth/password"),
        ):
            response = await client.request(
                method, path, headers=bearer(access),
                json={"current_password": DEFAULT_PASSWORD, "new_password": OTHER_PASSWORD},
            )  # fmt: skip
            assert response.json()["error"]["code"] == "email_not_verified", path
        assert (await client.get(ME, headers=bearer(access))).status_code == 200
        assert (await client.post(RESEND, headers=bearer(access))).status_code == 202
        await drain(app)
        assert (
            await client.post(
                VERIFY, json={"token": token_in(outbox(app)[-1].text, "verify-email")}
            )
        ).status_code == 204
        assert (await client.get("/api/v1/items", headers=bearer(access))).status_code == 200
        assert (await client.post("/api/v1/auth/logout", headers=bearer(access))).status_code == 204


async def test_an_unverified_caller_is_refused_with_the_documented_message_and_logged(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    """The 403 says what to do (``EMAIL_NOT_VERIFIED``) and the refusal is an audit line:
    WARNING ``authz.verified outcome=denied`` with the caller's id."""
    app = make_app(mail_backend="memory", require_verified_email=True)
    caplog.set_level(logging.WARNING, logger="app.auth")
    async with serve(app) as client:
        access, _ = await _sign_up(client, app, "unconfirmed@example.com")
        me = (await client.get(ME, headers=bearer(access))).json()
        refused = await client.get("/api/v1/users/me/sessions", headers=bearer(access))
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == EMAIL_NOT_VERIFIED
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "authz.verified"]
    assert (line.levelno, line.getMessage()) == (logging.WARNING, "unverified address refused")
    assert (line.outcome, line.user_id) == ("denied", me["id"])  # type: ignore[attr-defined]


async def test_resend_over_budget_says_so(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(mail_backend="memory", mail_max_per_address=1)
    async with serve(app) as client:
        access, _ = await _sign_up(client, app, "twice@example.com")
        assert (await client.post(RESEND, headers=bearer(access))).status_code == 202
        throttled = await client.post(RESEND, headers=bearer(access))
    assert throttled.status_code == 429
    assert throttled.json()["error"]["message"] == MESSAGES["verify_resend"]


async def test_logout_works_unverified(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(mail_backend="memory", require_verified_email=True)
    async with serve(app) as client:
        access, _ = await _sign_up(client, app, "leave@example.com")
        assert (await client.post("/api/v1/auth/logout", headers=bearer(access))).status_code == 204
        assert (await client.get(ME, headers=bearer(access))).status_code == 401
