"""Scale-out on one machine: two app processes sharing one database behave as one API (ADR-0029).

Two real ``uvicorn app.main:app`` processes listen on different free ports and share
the suite's database (the temporary SQLite file, or PostgreSQL when ``DATABASE_URL``
is set) and one JWT secret, the way replicas behind a load balancer share them. A
client alternating between the two (through the example client, so the example is
exercised too) sees one consistent API: a user created on A exists on B, a token
issued by B works on A, and the rate limit is one budget across both (its counters
live in the one shared Redis: ``REDIS_URL``, or a throwaway ``redis-server``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.conftest import real_redis_url
from tests.fault.redis_proc import ThrowawayRedis, redis_server_binary
from tests.support.processes import free_port, stop, uvicorn_command, wait_until_serving
from tests.support.repo import load_module

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple 42"  # pragma: allowlist secret
#: One secret for every replica (in Kubernetes: the one Secret all pods mount).
SHARED_JWT_SECRET = "scale-out-test-secret-0123456789abcdef-0123456789"  # pragma: allowlist secret

#: Requests per subject per window on the cluster (small, so the global test is quick).
RATE_LIMIT = 10

# no_cover (pytest-cov): the app runs in subprocesses, which coverage does not measure;
# tracing this process would only slow its HTTP client.
pytestmark = [pytest.mark.slow, pytest.mark.no_cover, pytest.mark.timing]

client_module = load_module(ROOT / "examples" / "python_client.py", "examples_python_client")
ApiClient = client_module.ApiClient
ApiError = client_module.ApiError


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """A clean environment: only what a replica's ConfigMap/Secret would set."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    env.update(
        APP_ENV_FILE=os.devnull,
        APP_ENV="local",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        JWT_SECRET_KEY=SHARED_JWT_SECRET,
        PYTHONPATH=str(ROOT / "backend"),
    )
    env.update(extra)
    return env


@contextmanager
def start_replicas(*envs: dict[str, str]) -> Iterator[list[str]]:
    """Start one uvicorn process per env (in parallel); yield their base URLs; stop them by PID."""
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for env in envs:
            port = free_port()
            procs.append(
                subprocess.Popen(
                    uvicorn_command(port=port, options=["--no-access-log"]),
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            wait_until_serving(f"{url}/api/v1/health/live", process=proc)
        yield urls
    finally:
        stop(*procs)


@pytest.fixture(scope="module")
def shared_redis_url() -> Iterator[str | None]:
    """The one Redis every replica uses: ``REDIS_URL`` if set, else a throwaway redis-server."""
    url = real_redis_url()
    if url:
        client = redis.Redis.from_url(url)
        client.flushdb()  # a dedicated test database (the suite flushes it after each test)
        yield url
        client.flushdb()
        client.close()
        return
    if redis_server_binary() is None:
        yield None
        return
    server = ThrowawayRedis()
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@pytest.fixture(scope="module")
def cluster(database_url: str, shared_redis_url: str | None) -> Iterator[dict[str, str]]:
    """Replicas ``a`` and ``b`` (one secret), plus ``odd`` with another secret.

    All share the suite's migrated database and (when there is one) one Redis, with
    rate limiting on: ``RATE_LIMIT_REQUESTS`` per subject per minute, counted in Redis.
    """
    common = {
        # The shared counter needs every Redis call to answer; with the 50 ms defaults a
        # call on a busy machine times out and fails open (no X-RateLimit-* headers).
        "REDIS_SOCKET_TIMEOUT_SECONDS": "10",
        "REDIS_CONNECT_TIMEOUT_SECONDS": "10",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_REQUESTS": str(RATE_LIMIT),
        "RATE_LIMIT_WINDOW_SECONDS": "60",
        # Every test signs up from 127.0.0.1, and the sign-up throttle also counts in each
        # replica's memory (ADR-0028), which emptying Redis between tests does not reset:
        # repeated runs (make flaky) would spend the default 10 an hour. Not what this
        # module tests; the throttle has test_signup_throttle.py.
        "SIGNUP_MAX_PER_IP": "1000000",
    }
    if shared_redis_url:
        common["REDIS_URL"] = shared_redis_url
    shared = server_env(database_url, **common)
    odd = server_env(
        database_url,
        **common,
        JWT_SECRET_KEY="a-different-secret-0123456789abcdef-0123456789",  # pragma: allowlist secret
    )
    with start_replicas(shared, shared, odd) as (a, b, odd_url):
        yield {"a": a, "b": b, "odd": odd_url}


@pytest.fixture(autouse=True)
def _full_budgets(shared_redis_url: str | None) -> None:
    """Each test starts with full rate-limit budgets. The counters live in the shared
    Redis for the module's lifetime, and every request here comes from 127.0.0.1: without
    this, one test's sign-ups and logins (limited per IP) spend the next test's budget,
    and a repeated test (make flaky) runs out."""
    if shared_redis_url:
        client = redis.Redis.from_url(shared_redis_url)
        client.flushdb()
        client.close()


def test_two_replicas_share_users_and_tokens(cluster: dict[str, str]) -> None:
    email = "scale-out@example.com"
    with ApiClient(cluster["a"]) as on_a, ApiClient(cluster["b"]) as on_b:
        user = on_a.sign_up(email, PASSWORD)

        # B sees A's write: the email is taken there too (one database, one unique index).
        with pytest.raises(ApiError) as taken:
            on_b.sign_up(email.upper(), PASSWORD)
        assert taken.value.code == "conflict"

        # A token issued by B is accepted by A, and the other way round.
        on_a.token = on_b.login(email, PASSWORD)
        assert on_a.me().id == user.id
        on_b.token = on_a.login(email, PASSWORD)
        assert on_b.get_user(user.id).email == email

        # Alternating requests keep answering consistently.
        for i in range(4):
            api = on_a if i % 2 == 0 else on_b
            assert api.me().id == user.id


def test_a_replica_with_another_secret_rejects_the_token(cluster: dict[str, str]) -> None:
    """Why every replica must mount the same secret: the odd one out answers 401 (SECURITY T1)."""
    email = "odd-one-out@example.com"
    with ApiClient(cluster["a"]) as on_a, ApiClient(cluster["odd"]) as on_odd:
        on_a.sign_up(email, PASSWORD)
        on_odd.token = on_a.login(email, PASSWORD)
        with pytest.raises(ApiError) as rejected:
            on_odd.me()
    assert rejected.value.status_code == 401
    assert rejected.value.code == "unauthorized"


def test_rate_limit_is_global_across_replicas(
    cluster: dict[str, str], shared_redis_url: str | None
) -> None:
    """One budget per subject, whichever replica answers (counters live in the shared Redis)."""
    if shared_redis_url is None:
        pytest.skip("needs REDIS_URL or a redis-server binary for a shared Redis")
    email = "rate-limited@example.com"
    with ApiClient(cluster["a"]) as on_a, ApiClient(cluster["b"]) as on_b:
        on_a.sign_up(email, PASSWORD)
        on_b.token = on_a.token = on_a.login(email, PASSWORD)
        seen: list[int] = []
        for i in range(RATE_LIMIT):
            api = on_a if i % 2 == 0 else on_b
            api.me()
            assert api.last_rate_limit is not None, "no X-RateLimit-* headers"
            assert api.last_rate_limit.limit == RATE_LIMIT
            seen.append(api.last_rate_limit.remaining)
        # A and B drew from one counter: RATE_LIMIT-1, ..., 1, 0 in order.
        assert seen == list(range(RATE_LIMIT - 1, -1, -1))
        # The budget is spent on both replicas, not just on the one that counted last.
        for api in (on_a, on_b):
            with pytest.raises(ApiError) as limited:
                api.me()
            assert limited.value.status_code == 429
            assert limited.value.code == "rate_limited"
            assert limited.value.retry_after is not None
            assert limited.value.retry_after > 0
