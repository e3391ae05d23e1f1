"""The password-hashing backlog is bounded (ADR-0017; SECURITY P11, P10).

A concurrency test, written without wall-clock bounds: the hashing threads are held
closed by a gate (a ``threading.Event``), so "answered at once" means "answered while
every admitted hash is still waiting at the gate". A request that queued behind them
could only finish after the gate opens; the ``asyncio.wait_for`` timeouts below are
generous guards against a hang (10 s), never the measure.

Before the bound, 150 concurrent sign-ups queued 150 hashes and a legitimate login
waited behind all of them (5.7 s measured, 0.1 s normally).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from passlib.context import CryptContext

from app.credentials.passwords import BUSY_RETRY_AFTER_SECONDS, PasswordHasher
from tests.fixtures.app import serve
from tests.fixtures.auth import CHEAP_PARAMS, DEFAULT_PASSWORD, add_user

SIGNUP = "/api/v1/users"
LOGIN = "/api/v1/auth/login"
FLOOD = 150
QUEUE = 8
#: Generous: only reached when a request waits for the gate instead of being refused.
HANG_GUARD_SECONDS = 10


class GatedContext(CryptContext):
    """Cheap argon2id whose hash and verify wait at a gate (a ``threading.Event``)."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(schemes=["argon2"], argon2__memory_cost=CHEAP_PARAMS.memory_kib,
                         argon2__time_cost=CHEAP_PARAMS.time_cost,
                         argon2__parallelism=CHEAP_PARAMS.parallelism)  # fmt: skip
        self.gate = gate

    def hash(self, secret: str | bytes, **kwargs: Any) -> str:
        assert self.gate.wait(timeout=HANG_GUARD_SECONDS), "gate never opened"
        return super().hash(secret, **kwargs)

    def verify_and_update(self, secret: str | bytes, hash: Any, **kwargs: Any) -> Any:
        assert self.gate.wait(timeout=HANG_GUARD_SECONDS), "gate never opened"
        return super().verify_and_update(secret, hash, **kwargs)


def _gated_app(
    make_app: Callable[..., FastAPI], gate: threading.Event, **overrides: Any
) -> FastAPI:
    values: dict[str, Any] = {
        "password_hash_max_queue": QUEUE,
        # The flood comes from one address: this test is about the hashing bound, the
        # per-IP sign-up throttle has its own tests (test_signup_throttle.py).
        "signup_throttle_enabled": False,
    }
    values.update(overrides)
    app = make_app(**values)
    settings = app.state.container.settings
    hasher = PasswordHasher(
        GatedContext(gate),
        settings.password_hash_max_concurrency,
        max_queue=settings.password_hash_max_queue,
    )
    app.state.container = dataclasses.replace(app.state.container, hasher=hasher)
    return app


async def _wait_for_full_queue(hasher: PasswordHasher) -> None:
    for _ in range(2000):  # bounded
        if hasher.pending >= QUEUE:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the backlog never filled: {hasher.pending} pending")


@pytest.mark.timing
async def test_p11_a_signup_flood_is_bounded_and_refused_at_once(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY P11: 150 concurrent sign-ups while hashing is held: exactly
    ``PASSWORD_HASH_MAX_QUEUE`` are admitted; every other one is a 503 envelope with
    ``Retry-After`` *before* any admitted hash has run. Then the admitted ones finish."""
    gate = threading.Event()
    app = _gated_app(make_app, gate)
    async with serve(app) as client:
        tasks = [
            asyncio.create_task(
                client.post(
                    SIGNUP, json={"email": f"flood{i}@example.com", "password": DEFAULT_PASSWORD}
                )
            )
            for i in range(FLOOD)
        ]
        try:
            await _wait_for_full_queue(app.state.container.hasher)
            # Every refusal arrives while the gate is still closed (bounded wait).
            for _ in range(2000):
                if sum(t.done() for t in tasks) >= FLOOD - QUEUE:
                    break
                await asyncio.sleep(0.005)
            refused = [t.result() for t in tasks if t.done()]
            assert not gate.is_set()
            assert len(refused) == FLOOD - QUEUE
            for response in refused:
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "service_unavailable"
                assert response.headers["retry-after"] == str(BUSY_RETRY_AFTER_SECONDS)
                assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
        finally:
            gate.set()
        admitted = await asyncio.wait_for(asyncio.gather(*tasks), HANG_GUARD_SECONDS)
    codes = [r.status_code for r in admitted]
    assert codes.count(201) == QUEUE
    assert codes.count(503) == FLOOD - QUEUE
    assert app.state.container.hasher.pending == 0


@pytest.mark.timing
async def test_p11_a_login_during_a_signup_flood_is_answered_at_once_and_not_counted(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY P11, P10: a legitimate login during the flood never waits behind it: with
    the backlog full it is a 503 + ``Retry-After`` while the flood's hashes are still held.
    That 503 is not a failed login: with one failure allowed per account, the same user
    logs in right after the flood."""
    gate = threading.Event()
    app = _gated_app(make_app, gate, login_max_failures_per_account=1)
    async with serve(app) as client:
        await add_user(app, "alice@example.com")  # hashed directly, not through the gate
        flood = [
            asyncio.create_task(
                client.post(
                    SIGNUP, json={"email": f"flood{i}@example.com", "password": DEFAULT_PASSWORD}
                )
            )
            for i in range(FLOOD)
        ]
        try:
            await _wait_for_full_queue(app.state.container.hasher)
            form = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
            during = await asyncio.wait_for(client.post(LOGIN, data=form), HANG_GUARD_SECONDS)
            assert not gate.is_set()  # answered while every admitted hash was held
            legacy = await asyncio.wait_for(
                client.post("/auth/login", data=form), HANG_GUARD_SECONDS
            )
        finally:
            gate.set()
        await asyncio.wait_for(asyncio.gather(*flood), HANG_GUARD_SECONDS)
        after = await client.post(LOGIN, data=form)
    for response in (during, legacy):
        assert response.status_code == 503
        assert response.headers["retry-after"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert after.status_code == 200, after.text


def test_p11_hashing_routes_declare_the_busy_503_with_retry_after(app: FastAPI) -> None:
    """ADR-0021: every operation that hashes a password (sign-up, both logins, password
    change) declares 503 and 429 with ``Retry-After``."""
    paths = app.openapi()["paths"]
    for path, method in (
        (SIGNUP, "post"),
        (LOGIN, "post"),
        ("/auth/login", "post"),
        ("/api/v1/auth/password", "post"),
    ):
        responses = paths[path][method]["responses"]
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], (path, status)
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}
