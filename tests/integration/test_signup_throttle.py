"""Sign-up throttle per client IP (ADR-0028; SECURITY P10, P9, R6, RL1).

On by default, independent of the general rate limit, atomic under concurrency, with
Redis up (fakeredis or ``REDIS_URL``) and down (it degrades to process memory).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from app.core.redis import create_redis
from app.core.settings import Settings
from app.main import create_app
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD
from tests.support.processes import closed_port

SIGNUP = "/api/v1/users"
LIMITS = {
    "signup_max_per_ip": 3,
    "signup_window_seconds": 600,
    "trusted_proxies": ["127.0.0.1/32"],  # lets the tests vary the client IP (R6)
}


async def _signup(
    client: httpx.AsyncClient, email: str, ip: str = "203.0.113.1", password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    return await client.post(
        SIGNUP, json={"email": email, "password": password}, headers={"X-Forwarded-For": ip}
    )


@pytest.fixture(params=["redis_up", "redis_down"])
async def client(
    request: pytest.FixtureRequest,
    make_app: Callable[..., FastAPI],
    make_settings: Callable[..., Settings],
) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "redis_up":
        async with serve(make_app(**LIMITS)) as c:
            yield c
        return
    settings = make_settings(redis_url=f"redis://127.0.0.1:{closed_port()}/0", **LIMITS)
    broken = create_redis(settings)
    assert broken is not None
    try:
        async with serve(create_app(settings, redis=broken)) as c:
            yield c
    finally:
        await broken.aclose()


def test_p10_signup_throttle_is_on_by_default() -> None:
    """SECURITY P10: like the login throttle, the sign-up throttle needs no opt-in:
    10 sign-ups per client IP per hour."""
    settings = Settings(_env_file=None)
    assert settings.signup_throttle_enabled is True
    assert (settings.signup_max_per_ip, settings.signup_window_seconds) == (10, 3600)


async def test_p10_default_app_refuses_the_eleventh_signup_from_one_ip(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY P10: with default settings one address creates 10 accounts an hour; the
    11th attempt is a 429 envelope with ``Retry-After``, before any hashing."""
    async with serve(make_app()) as c:
        codes = [(await _signup(c, f"user{i}@example.com")).status_code for i in range(11)]
        refused = await _signup(c, "late@example.com")
    assert codes == [201] * 10 + [429]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 3600


async def test_p10_signups_are_limited_per_ip(client: httpx.AsyncClient) -> None:
    """SECURITY P10, R6, RL1: the 4th sign-up from one IP is a 429 with Retry-After, with
    Redis up or down; another IP keeps its own budget."""
    codes = [(await _signup(client, f"a{i}@example.com")).status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    other = await _signup(client, "b@example.com", ip="203.0.113.2")
    assert other.status_code == 201


async def test_p9_taken_emails_spend_the_budget_and_invalid_bodies_do_not(
    client: httpx.AsyncClient,
) -> None:
    """SECURITY P9: probing which addresses have accounts (409) spends the same per-IP
    budget, so enumeration from one address is bounded by default; a body that fails
    validation (422) never reaches the throttle."""
    assert (await _signup(client, "taken@example.com")).status_code == 201
    for _ in range(3):
        response = await _signup(client, "not-an-email", password="x")
        assert response.status_code == 422
    probes = [(await _signup(client, "TAKEN@example.com")).status_code for _ in range(3)]
    assert probes == [409, 409, 429]


@pytest.mark.timing
async def test_p10_signup_throttle_is_exact_under_concurrency(client: httpx.AsyncClient) -> None:
    """SECURITY P10, RL3: 40 concurrent sign-ups from one IP: exactly the budget (3) get
    past the throttle, whatever the interleaving (the counter counts first)."""
    responses = await asyncio.gather(
        *(_signup(client, f"c{i}@example.com", ip="198.51.100.9") for i in range(40))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [429] * 37, codes


async def test_signup_throttle_can_be_switched_off(make_app: Callable[..., FastAPI]) -> None:
    async with serve(make_app(signup_throttle_enabled=False, signup_max_per_ip=1)) as c:
        codes = [(await _signup(c, f"d{i}@example.com")).status_code for i in range(3)]
    assert codes == [201, 201, 201]
