"""Password reset by mail (ADR-0038; SECURITY P9, P10, M1, M2, M3, M4, M5, T6, T9, E3).

These run the whole round trip in-process: the request enqueues, the in-process queue
runs the job (``memory`` mail backend), the test reads the link from the message and
confirms. The same flow through arq and a real SMTP server: test_jobs_arq.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.auth.models import AccountToken
from app.auth.recovery import INVALID_LINK
from app.core.openapi import api_routes, route_calls
from app.db.base import utcnow
from app.db.session import get_session
from app.ratelimit.mail_throttle import MESSAGES
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login
from tests.support.mail import drain, outbox, token_in

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
LOGIN = "/api/v1/auth/login"
NEW_PASSWORD = "a freshly reset passphrase 9"  # pragma: allowlist secret


async def _reset_token(client: httpx.AsyncClient, app: FastAPI, email: str) -> str:
    response = await client.post(RESET, json={"email": email})
    assert response.status_code == 202, response.text
    await drain(app)
    return token_in(outbox(app)[-1].text, "reset-password")


async def _confirm(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(CONFIRM, json={"token": token, "new_password": password})


def _assert_invalid(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("invalid_token", INVALID_LINK)
    assert error["request_id"] == response.headers["x-request-id"]


async def test_reset_round_trip_sets_the_password_and_ends_every_session(mail_app: FastAPI) -> None:
    """The mail holds ``{FRONTEND_URL}/reset-password?token=``; confirming sets the new
    password, revokes the old tokens and ends the sessions; the token works once (M1)."""
    async with serve(mail_app) as client:
        await add_user(mail_app, "kate@example.com")
        old_access = await login(client, "kate@example.com")
        pair = await client.post(
            LOGIN, data={"username": "kate@example.com", "password": DEFAULT_PASSWORD}
        )
        old_refresh = pair.json()["refresh_token"]
        token = await _reset_token(client, mail_app, "KATE@example.com")
        [message] = outbox(mail_app)
        assert message.to == "kate@example.com"
        assert f"https://app.example.com/reset-password?token={token}" in message.text
        assert f'href="https://app.example.com/reset-password?token={token}"' in message.html

        assert (await _confirm(client, token)).status_code == 204
        assert (await client.get("/api/v1/users/me", headers=bearer(old_access))).status_code == 401
        refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh})
        assert refresh.status_code == 401  # the session ended: its refresh token is dead
        old = await client.post(
            LOGIN, data={"username": "kate@example.com", "password": DEFAULT_PASSWORD}
        )
        assert old.status_code == 401
        await login(client, "kate@example.com", NEW_PASSWORD)
        _assert_invalid(await _confirm(client, token, "yet another passphrase 10"))


async def test_p9_the_answer_is_the_same_and_does_no_lookup(mail_app: FastAPI) -> None:
    """Known and unknown addresses get the same 202 body, and the route takes no database
    session at all (the job looks the address up, after the answer), so its timing cannot
    tell them apart (P9). An unknown address gets no mail."""
    [route] = [r for r in api_routes(mail_app) if r.path_format == RESET]
    assert not route_calls(route, get_session)
    async with serve(mail_app) as client:
        await add_user(mail_app, "known@example.com")
        known = await client.post(RESET, json={"email": "known@example.com"})
        unknown = await client.post(RESET, json={"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        await drain(mail_app)
    assert [m.to for m in outbox(mail_app)] == ["known@example.com"]


async def test_m2_an_expired_token_is_refused(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        await add_user(mail_app, "late@example.com")
        token = await _reset_token(client, mail_app, "late@example.com")
        async with mail_app.state.container.database.sessionmaker() as session:
            await session.execute(
                update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        _assert_invalid(await _confirm(client, token))
        await login(client, "late@example.com")  # nothing changed


async def test_m2_the_default_lifetime_is_30_minutes(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        await add_user(mail_app, "clock@example.com")
        await _reset_token(client, mail_app, "clock@example.com")
        async with mail_app.state.container.database.sessionmaker() as session:
            row = (await session.scalars(select(AccountToken))).one()
        assert timedelta(minutes=29) < row.expires_at - row.created_at <= timedelta(minutes=30)


async def test_forged_and_wrong_kind_tokens_get_the_same_400(mail_app: FastAPI) -> None:
    """A made-up token and a verification token (T6: kinds cannot be swapped) are the
    same 400 ``invalid_token``."""
    async with serve(mail_app) as client:
        _assert_invalid(await _confirm(client, "x" * 43))
        created = await client.post(
            "/api/v1/users", json={"email": "swap@example.com", "password": DEFAULT_PASSWORD}
        )
        assert created.status_code == 201
        await drain(mail_app)
        verify_token = token_in(outbox(mail_app)[-1].text, "verify-email")
        _assert_invalid(await _confirm(client, verify_token))


async def test_t9_a_password_change_kills_an_issued_reset_token(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        await add_user(mail_app, "moved@example.com")
        token = await _reset_token(client, mail_app, "moved@example.com")
        access = await login(client, "moved@example.com")
        changed = await client.post(
            "/api/v1/auth/password",
            json={
                "current_password": DEFAULT_PASSWORD,
                "new_password": "changed the usual way 11",  # pragma: allowlist secret
            },
            headers=bearer(access),
        )
        assert changed.status_code == 204
        _assert_invalid(await _confirm(client, token))


async def test_a_newer_reset_mail_kills_the_older_link(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(mail_backend="memory", jobs_dedupe_seconds=0)
    async with serve(app) as client:
        await add_user(app, "twice@example.com")
        first = await _reset_token(client, app, "twice@example.com")
        second = await _reset_token(client, app, "twice@example.com")
        assert first != second
        _assert_invalid(await _confirm(client, first))
        assert (await _confirm(client, second)).status_code == 204


async def test_m3_only_a_digest_of_the_token_is_stored(mail_app: FastAPI) -> None:
    async with serve(mail_app) as client:
        await add_user(mail_app, "digest@example.com")
        token = await _reset_token(client, mail_app, "digest@example.com")
        async with mail_app.state.container.database.sessionmaker() as session:
            row = (await session.scalars(select(AccountToken))).one()
        assert row.token_digest == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(row)
        assert token not in row.bound_to


async def test_a_double_request_sends_one_mail(mail_app: FastAPI) -> None:
    """The job id is deterministic: the same reset enqueued twice runs once."""
    async with serve(mail_app) as client:
        await add_user(mail_app, "double@example.com")
        for _ in range(2):
            assert (
                await client.post(RESET, json={"email": "double@example.com"})
            ).status_code == 202
        await drain(mail_app)
    assert len(outbox(mail_app)) == 1


async def test_p10_reset_requests_are_throttled_per_address_and_per_ip(
    make_app: Callable[..., FastAPI],
) -> None:
    app = make_app(mail_backend="memory", mail_max_per_address=2, mail_max_per_ip=4)
    async with serve(app) as client:
        statuses = [
            (await client.post(RESET, json={"email": "flood@example.com"})).status_code
            for _ in range(3)
        ]
        assert statuses == [202, 202, 429]
        refused = await client.post(RESET, json={"email": "flood@example.com"})
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) > 0
        # The IP's budget (4) is spent by the 4 counted requests above... one more address:
        assert (await client.post(RESET, json={"email": "other@example.com"})).status_code == 429


async def test_p10_mail_budgets_are_per_client_ip_and_per_action_and_logged(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    """The per-IP budget counts one client (another IP still gets its own), a spent
    reset budget leaves the verification resend's alone, and each refusal says which
    budget it hit: a WARNING ``auth.<action> outcome=throttled by=subject|ip``."""
    app = make_app(
        mail_backend="memory", mail_max_per_address=1, mail_max_per_ip=3,
        trusted_proxies=["127.0.0.1/32"],
    )  # fmt: skip
    first, second = {"X-Forwarded-For": "10.9.0.1"}, {"X-Forwarded-For": "10.9.0.2"}
    caplog.set_level(logging.WARNING, logger="app.ratelimit.mail")
    async with serve(app) as client:
        await add_user(app, "budget@example.com")
        access = await login(client, "budget@example.com")

        async def reset(email: str, headers: dict[str, str]) -> httpx.Response:
            return await client.post(RESET, json={"email": email}, headers=headers)

        assert (await reset("a@example.com", first)).status_code == 202
        by_address = await reset("a@example.com", first)  # the address's budget (1)
        assert by_address.status_code == 429
        assert by_address.json()["error"]["message"] == MESSAGES["password_reset"]
        assert (await reset("b@example.com", first)).status_code == 202
        assert (await reset("c@example.com", first)).status_code == 429  # the IP's (3)
        assert (await reset("d@example.com", second)).status_code == 202  # another IP
        resend = "/api/v1/auth/verify-email/resend"
        assert (await client.post(resend, headers=first | bearer(access))).status_code == 202
    throttled = [r for r in caplog.records if getattr(r, "outcome", None) == "throttled"]
    assert [(r.getMessage(), r.event, r.by) for r in throttled] == [  # type: ignore[attr-defined]
        ("mail requests throttled", "auth.password_reset", "subject"),
        ("mail requests throttled", "auth.password_reset", "ip"),
    ]
    assert all(r.levelno == logging.WARNING for r in throttled)


async def test_e3_reset_tokens_never_reach_the_logs(
    mail_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The token is in the mail only: no log record of the request, the job, the mail
    backend or the confirmation carries it (E3, M4)."""
    caplog.set_level(logging.DEBUG)
    async with serve(mail_app) as client:
        await add_user(mail_app, "quiet@example.com")
        token = await _reset_token(client, mail_app, "quiet@example.com")
        assert (await _confirm(client, token)).status_code == 204
        _assert_invalid(await _confirm(client, token))
    assert caplog.records
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in repr(record.__dict__)
    assert token[:12] not in caplog.text
