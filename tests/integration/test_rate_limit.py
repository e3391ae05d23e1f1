"""The general rate limit (ADR-0024; SECURITY RL1, RL3, RL4, RL6, R6).

Runs on fakeredis by default and on the real Redis in ``REDIS_URL`` when set.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from app.core.openapi import api_routes
from app.core.proxies import TrustedProxies
from app.core.redis import CircuitBreaker, RedisGuard, create_redis
from app.core.settings import Settings
from app.main import create_app
from app.ratelimit.limiter import Limiter, window
from tests.conftest import real_redis_url
from tests.fixtures.app import serve
from tests.fixtures.auth import add_user, bearer, login
from tests.support.processes import closed_port

ME = "/api/v1/users/me"
LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture
def limited(make_app: Callable[..., FastAPI]) -> Callable[..., FastAPI]:
    def _make(**overrides: object) -> FastAPI:
        values: dict[str, object] = {
            "rate_limit_enabled": True,
            "rate_limit_requests": 3,
            "rate_limit_window_seconds": 60,
        }
        values.update(overrides)
        return make_app(**values)

    return _make


async def test_off_by_default(client: httpx.AsyncClient) -> None:
    """Off by default (ADR-0012): no limit and no headers unless RATE_LIMIT_ENABLED."""
    for _ in range(5):
        response = await client.get(ME)
        assert response.status_code == 401
        assert "x-ratelimit-limit" not in response.headers


async def test_headers_then_429_envelope_with_retry_after(
    limited: Callable[..., FastAPI],
) -> None:
    """The limit holds; every scoped response has the three headers; the excess gets the 429
    envelope with Retry-After (SECURITY RL6: never a 5xx)."""
    async with serve(limited()) as client:
        answers = [await client.get(ME) for _ in range(4)]
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    for response in answers:
        assert response.headers["x-ratelimit-limit"] == "3"
        assert 1 <= int(response.headers["x-ratelimit-reset"]) <= 60
    # The window is the configured one: the first request's resets far from now.
    assert int(answers[0].headers["x-ratelimit-reset"]) > 30
    # The headers are added to the response's own, never in their place.
    assert answers[0].headers["content-type"] == "application/json"
    assert answers[0].headers["www-authenticate"] == "Bearer"
    refused = answers[-1]
    body = refused.json()["error"]
    assert body["code"] == "rate_limited"
    assert body["request_id"] == refused.headers["x-request-id"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_health_probes_are_not_limited(
    limited: Callable[..., FastAPI],
) -> None:
    async with serve(limited(rate_limit_requests=1)) as client:
        for path in ("/api/v1/health/live", "/health", "/api/v1/health/live"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers


PROBES = ("/health", "/api/v1/health/live", "/api/v1/health/ready")


async def test_every_route_but_the_probes_is_limited(limited: Callable[..., FastAPI]) -> None:
    """ADR-0024: the limit covers every route, the legacy ``/auth/*`` aliases, the docs,
    ``/metrics`` and unknown paths included; only the health probes are exempt (150 calls
    of ``/auth/me`` all passed while ``/api/v1/users/me`` was limited after 100)."""
    app = limited(rate_limit_requests=3, metrics_enabled=True)
    requests = sorted(
        {
            (method, route.path_format.replace("{user_id}", str(uuid.uuid4())))
            for route in api_routes(app)
            for method in route.methods or ()
        }
        | {("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/metrics"), ("GET", "/nope")}
    )
    assert ("GET", "/auth/me") in requests
    async with serve(app) as client:
        budget = [await client.get("/auth/me") for _ in range(3)]
        assert [r.status_code for r in budget] == [401, 401, 401]
        assert [r.headers["x-ratelimit-remaining"] for r in budget] == ["2", "1", "0"]
        for method, path in requests:
            response = await client.request(method, path)
            if path in PROBES:
                assert response.status_code == 200, (method, path)
                assert "x-ratelimit-limit" not in response.headers, path
            else:
                assert response.status_code == 429, (method, path, response.status_code)
                assert response.headers["retry-after"], path
                assert response.headers["x-ratelimit-limit"] == "3", path


def test_429_is_declared_wherever_the_limit_applies(app: FastAPI) -> None:
    """ADR-0021, ADR-0024: the schema declares the 429 envelope with ``Retry-After`` on every
    operation the limit covers (legacy aliases included) and on none of the probes."""
    paths = app.openapi()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path in PROBES:
                assert "429" not in responses, (method, path)
            else:
                assert "Retry-After" in responses["429"]["headers"], (method, path)


async def test_key_is_the_authenticated_subject(limited: Callable[..., FastAPI]) -> None:
    """Two users behind one IP have separate budgets; a forged token counts against the IP."""
    app = limited(rate_limit_requests=3)
    async with serve(app) as client:
        await add_user(app, "a@example.com")
        await add_user(app, "b@example.com")
        token_a = await login(client, "a@example.com")
        token_b = await login(client, "b@example.com")
        for _ in range(3):
            assert (await client.get(ME, headers=bearer(token_a))).status_code == 200
        assert (await client.get(ME, headers=bearer(token_a))).status_code == 429
        assert (await client.get(ME, headers=bearer(token_b))).status_code == 200
        # The IP budget (login calls are in scope too: 2 spent) is separate from users'.
        forged = bearer(token_a[:-4] + "AAAA")
        assert (await client.get(ME, headers=forged)).status_code == 401
        assert (await client.get(ME, headers=forged)).status_code == 429


async def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(
    limited: Callable[..., FastAPI],
) -> None:
    """SECURITY R6: X-Forwarded-For from an untrusted peer does not change the key."""
    async with serve(limited(rate_limit_requests=2)) as client:
        codes = [
            (await client.get(ME, headers={"X-Forwarded-For": f"10.0.0.{i}"})).status_code
            for i in range(3)
        ]
    assert codes == [401, 401, 429]


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    limited: Callable[..., FastAPI],
) -> None:
    """SECURITY R6: behind a configured proxy, each forwarded client has its own budget."""
    app = limited(rate_limit_requests=1, trusted_proxies=["127.0.0.1/32"])
    async with serve(app) as client:
        first = await client.get(ME, headers={"X-Forwarded-For": "203.0.113.7"})
        second = await client.get(ME, headers={"X-Forwarded-For": "203.0.113.8"})
        again = await client.get(ME, headers={"X-Forwarded-For": "203.0.113.7"})
    assert (first.status_code, second.status_code, again.status_code) == (401, 401, 429)


def test_client_ip_walks_the_chain_from_the_right() -> None:
    """SECURITY R6: the rightmost untrusted hop is the client; garbage falls back to the peer."""
    trusted = TrustedProxies(["10.0.0.0/8"])
    untrusted = TrustedProxies([])

    def scope(peer: str, xff: str | None) -> dict[str, object]:
        headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
        return {"client": (peer, 1234), "headers": headers}

    assert trusted.client_ip(scope("198.51.100.1", "1.2.3.4")) == "198.51.100.1"
    assert trusted.client_ip(scope("10.0.0.1", "1.2.3.4, 10.0.0.9")) == "1.2.3.4"
    assert trusted.client_ip(scope("10.0.0.1", "6.6.6.6, 1.2.3.4")) == "1.2.3.4"
    assert trusted.client_ip(scope("10.0.0.1", "not-an-ip")) == "10.0.0.1"
    assert trusted.client_ip(scope("10.0.0.1", None)) == "10.0.0.1"
    assert trusted.client_ip(scope("10.0.0.1", "10.0.0.2")) == "10.0.0.2"
    assert untrusted.client_ip(scope("10.0.0.1", "1.2.3.4")) == "10.0.0.1"


async def test_every_limiter_key_has_a_ttl(limited: Callable[..., FastAPI], redis: Redis) -> None:
    """SECURITY RL3: no counter lives forever."""
    async with serve(limited()) as client:
        for _ in range(5):
            await client.get(ME)
    keys = await redis.keys("ratelimit*")
    assert keys
    for key in keys:
        assert 0 < await redis.ttl(key) <= 60


@pytest.mark.timing
async def test_limit_is_exact_under_concurrency(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    """SECURITY RL3: 60 concurrent requests against a limit of 20: exactly 20 pass.

    Exactness needs Redis to answer: with a real server the client here gets generous
    timeouts and a pool larger than the burst, because a timeout or a full pool fails open
    by design (RL1, RL2; docs/rate-limiting.md)."""
    settings = make_settings(
        rate_limit_enabled=True,
        rate_limit_requests=20,
        redis_url=real_redis_url(),
        redis_socket_timeout_seconds=2.0,
        redis_connect_timeout_seconds=2.0,
        redis_max_connections=100,
    )
    own = create_redis(settings)
    try:
        async with serve(create_app(settings, redis=own or redis)) as client:
            answers = await asyncio.gather(*(client.get(ME) for _ in range(60)))
    finally:
        if own is not None:
            await own.aclose()
    codes = [r.status_code for r in answers]
    assert codes.count(429) == 40
    assert codes.count(401) == 20


async def test_window_edge_behaviour_of_the_fixed_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """SECURITY RL4: the fixed window starts at a key's first hit and resets when it
    expires; right at the edge a client can spend the limit twice in quick succession
    (at most 2 x limit around an edge). Documented in docs/rate-limiting.md.

    On a controlled clock (the in-memory counters of ``limits`` read ``time.time()``), so
    the edge is exact however busy the machine is: with real sleeps, a late hit that a
    loaded machine delays past the edge lands in the next window."""
    import limits.aio.storage.memory

    now = [time.time()]
    monkeypatch.setattr(limits.aio.storage.memory, "time", SimpleNamespace(time=lambda: now[0]))
    limiter = Limiter(
        RedisGuard(CircuitBreaker(1, 1), 0.1), key_prefix="t", fallback_to_memory=True
    )
    item = window(3, 1)
    # Start the window, then move to just before it ends and spend the budget.
    assert (await limiter.hit(item, "edge")).allowed  # type: ignore[union-attr]
    now[0] += 0.8
    late = [(await limiter.hit(item, "edge")).allowed for _ in range(3)]  # type: ignore[union-attr]
    assert late == [True, True, False]
    now[0] += 0.35  # the window (1 s from the first hit) has expired
    fresh = [(await limiter.hit(item, "edge")).allowed for _ in range(4)]  # type: ignore[union-attr]
    assert fresh == [True, True, True, False]
    # 2 late + 3 fresh hits were allowed 0.35 s apart: well under one window length.


@pytest.mark.timing
async def test_redis_down_fails_open_fast(make_settings: Callable[..., Settings]) -> None:
    """SECURITY RL1/RL6: Redis on a closed port -> every request is served normally
    (no 5xx, no rate-limit headers), and the breaker stops the retries: three refused
    connections open it, the other seventeen requests make no Redis call."""
    settings = make_settings(
        rate_limit_enabled=True,
        rate_limit_requests=1,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        redis_breaker_cooldown_seconds=60,  # no half-open probe however slow the machine
    )
    broken = create_redis(settings)
    app = create_app(settings, redis=broken)
    try:
        async with serve(app) as client:
            start = time.monotonic()
            answers = [await client.get(ME) for _ in range(20)]
            elapsed = time.monotonic() - start
    finally:
        assert broken is not None
        await broken.aclose()
    assert {r.status_code for r in answers} == {401}
    assert all("x-ratelimit-limit" not in r.headers for r in answers)
    breaker = app.state.container.redis.breaker
    assert breaker.state == "open"
    assert breaker.failures == 3  # the threshold; no attempt once open
    # Generous: 20 in-process requests take well under a second even on a busy machine;
    # redis-py's defaults (retries, 5 s timeouts) took ~4 s per refused connection.
    assert elapsed < 10.0
