"""The user payload cache (ADR-0025; SECURITY RL8).

Runs on fakeredis by default and on the real Redis in ``REDIS_URL`` when set.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from app.core.redis import create_redis
from app.core.settings import Settings
from app.main import create_app
from app.users.repository import UserRepository
from app.users.service import UserService
from tests.fixtures.app import serve
from tests.fixtures.auth import (
    DEFAULT_PASSWORD,
    add_user,
    bearer,
    legacy_hash,
    login,
    stored_user,
)
from tests.support.processes import closed_port

NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret


async def _set_active(app: FastAPI, user_id: uuid.UUID, active: bool) -> None:
    """Change a user through the service, as any write path does."""
    async with app.state.container.database.sessionmaker() as session:
        service = UserService(session, None, app.state.container.user_cache)  # type: ignore[arg-type]
        user = await UserRepository(session).get(user_id)
        assert user is not None
        await service.change_roles(user, user_id, is_active=active, is_superuser=None)
        await session.commit()


async def _admin_and_target(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, uuid.UUID]:
    await add_user(app, "admin@example.com", is_superuser=True)
    target = await add_user(app, "target@example.com")
    return await login(client, "admin@example.com"), target


async def test_off_by_default(app: FastAPI, client: httpx.AsyncClient, redis: Redis) -> None:
    """Off by default (ADR-0012): nothing is cached unless CACHE_ENABLED."""
    token, target = await _admin_and_target(app, client)
    for _ in range(2):
        assert (
            await client.get(f"/api/v1/users/{target}", headers=bearer(token))
        ).status_code == 200
    assert await redis.keys("cache:*") == []


async def test_second_read_is_served_from_redis(
    make_app: Callable[..., FastAPI], redis: Redis
) -> None:
    """The first read fills the cache (with a TTL); the second is a hit: same payload."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=30)
    async with serve(app) as client:
        token, target = await _admin_and_target(app, client)
        first = await client.get(f"/api/v1/users/{target}", headers=bearer(token))
        assert app.state.container.user_cache.stats == {"hit": 0, "miss": 1, "error": 0}
        key = f"cache:user:{target}"
        assert 0 < await redis.ttl(key) <= 30
        second = await client.get(f"/api/v1/users/{target}", headers=bearer(token))
    assert app.state.container.user_cache.stats["hit"] == 1
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


async def test_a_hit_serves_the_stored_payload(
    make_app: Callable[..., FastAPI], redis: Redis
) -> None:
    """A hit answers with what Redis holds, without reading the row: a payload stored
    there (here, one with another e-mail) is what every later read returns until the
    entry is dropped, and each lookup is counted (also as a telemetry event)."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=30, telemetry_mode="log")
    async with serve(app) as client:
        token, target = await _admin_and_target(app, client)
        url = f"/api/v1/users/{target}"
        fresh = (await client.get(url, headers=bearer(token))).json()
        key = f"cache:user:{target}"
        stored = {**json.loads(await redis.get(key)), "email": "cached@example.com"}
        await redis.set(key, json.dumps(stored), ex=30)
        reads = [(await client.get(url, headers=bearer(token))).json() for _ in range(2)]
    assert fresh["email"] == "target@example.com"
    assert reads == [{**fresh, "email": "cached@example.com"}] * 2
    assert app.state.container.user_cache.stats == {"hit": 2, "miss": 1, "error": 0}
    events = app.state.container.telemetry.events
    assert dict(events) == {("cache.user", "miss"): 1, ("cache.user", "hit"): 2}


async def test_authorization_is_checked_on_every_read(
    make_app: Callable[..., FastAPI], redis: Redis
) -> None:
    """SECURITY A1 with the cache on: a cached payload is never served to a caller who may
    not see it. The target's payload is in Redis (an admin read it); another ordinary user
    asking for it gets the same 403 envelope as for an id that is not cached, the cache is
    not even consulted for them, and the payload does not leak."""
    app = make_app(cache_enabled=True)
    cache = app.state.container.user_cache
    async with serve(app) as client:
        token, target = await _admin_and_target(app, client)
        other = await add_user(app, "other@example.com")
        await add_user(app, "nosy@example.com")
        nosy = await login(client, "nosy@example.com")
        assert (
            await client.get(f"/api/v1/users/{target}", headers=bearer(token))
        ).status_code == 200
        assert await redis.exists(f"cache:user:{target}") == 1
        assert await redis.exists(f"cache:user:{other}") == 0
        before = dict(cache.stats)

        cached = await client.get(f"/api/v1/users/{target}", headers=bearer(nosy))
        uncached = await client.get(f"/api/v1/users/{other}", headers=bearer(nosy))
        again = await client.get(f"/api/v1/users/{target}", headers=bearer(token))
    assert cached.status_code == uncached.status_code == 403
    errors = [response.json()["error"] for response in (cached, uncached)]
    for error in errors:
        error.pop("request_id")
    assert errors[0] == errors[1]
    assert errors[0]["code"] == "forbidden"
    assert "target@example.com" not in cached.text
    assert cache.stats == {**before, "hit": before["hit"] + 1}  # only the admin's read
    assert again.json()["email"] == "target@example.com"


async def test_deactivation_invalidates(make_app: Callable[..., FastAPI], redis: Redis) -> None:
    """Any change to a user invalidates its entry: the next read shows the change (here an
    admin's deactivation through the API)."""
    app = make_app(cache_enabled=True)
    async with serve(app) as client:
        token, target = await _admin_and_target(app, client)
        url = f"/api/v1/users/{target}"
        assert (await client.get(url, headers=bearer(token))).json()["is_active"] is True
        assert (await client.get(url, headers=bearer(token))).json()["is_active"] is True
        patched = await client.patch(url, json={"is_active": False}, headers=bearer(token))
        assert patched.status_code == 200, patched.text
        assert await redis.exists(f"cache:user:{target}") == 0
        assert (await client.get(url, headers=bearer(token))).json()["is_active"] is False


async def test_a_reader_before_the_commit_cannot_leave_the_old_row_cached(
    make_app: Callable[..., FastAPI], redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADR-0025: a write invalidates at once, but a reader that runs between the write and
    the commit still sees the old row and caches it; the second invalidation, after the
    commit, drops that entry. The race made deterministic: the first invalidation plants
    the old payload, as that reader would."""
    app = make_app(cache_enabled=True)
    cache = app.state.container.user_cache
    async with serve(app) as client:
        token, target = await _admin_and_target(app, client)
        url = f"/api/v1/users/{target}"
        old = (await client.get(url, headers=bearer(token))).json()
        invalidate, calls = cache.invalidate, []

        async def invalidate_then_a_reader_caches_the_old_row(key: str) -> None:
            await invalidate(key)
            calls.append(key)
            if len(calls) == 1:
                await cache.set(key, old)

        monkeypatch.setattr(cache, "invalidate", invalidate_then_a_reader_caches_the_old_row)
        patched = await client.patch(url, json={"is_active": False}, headers=bearer(token))
        assert patched.status_code == 200, patched.text
        assert calls == [str(target), str(target)]  # at once, and after the commit
        assert await redis.exists(f"cache:user:{target}") == 0
        assert (await client.get(url, headers=bearer(token))).json()["is_active"] is False


async def test_garbage_in_redis_is_a_miss(make_app: Callable[..., FastAPI], redis: Redis) -> None:
    """SECURITY RL8: a value that is not our payload is a miss, not an error."""
    app = make_app(cache_enabled=True)
    async with serve(app) as client:
        token, target = await _admin_and_target(app, client)
        url = f"/api/v1/users/{target}"
        for junk in ("not json", '{"id": 1}', "[1, 2]"):
            await redis.set(f"cache:user:{target}", junk)
            response = await client.get(url, headers=bearer(token))
            assert response.status_code == 200
            assert response.json()["id"] == str(target)


async def test_redis_error_is_a_miss(make_settings: Callable[..., Settings]) -> None:
    """SECURITY RL8: Redis on a closed port -> reads come from the database, no 5xx."""
    settings = make_settings(cache_enabled=True, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    broken = create_redis(settings)
    assert broken is not None
    app = create_app(settings, redis=broken)
    try:
        async with serve(app) as client:
            token, target = await _admin_and_target(app, client)
            for _ in range(3):
                response = await client.get(f"/api/v1/users/{target}", headers=bearer(token))
                assert response.status_code == 200
            await _set_active(app, target, False)  # invalidation cannot reach Redis
            response = await client.get(f"/api/v1/users/{target}", headers=bearer(token))
            assert response.json()["is_active"] is False
    finally:
        await broken.aclose()
    assert app.state.container.user_cache.stats["hit"] == 0
    assert app.state.container.user_cache.stats["error"] >= 1


# --- Every write to a user empties its cache entry ----------------------------------------


async def test_a_password_change_invalidates_the_cached_user(
    make_app: Callable[..., FastAPI],
) -> None:
    """ADR-0025: after a password change the cached payload is gone: the next read shows
    the new ``updated_at`` (it used to serve the old one until the TTL)."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=300)
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        url = f"/api/v1/users/{alice}"
        before = (await client.get(url, headers=bearer(token))).json()
        assert (await client.get(url, headers=bearer(token))).json() == before  # cached
        change = await client.post(
            "/api/v1/auth/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(token),
        )
        assert change.status_code == 204
        fresh = await login(client, "alice@example.com", NEW_PASSWORD)
        after = (await client.get(url, headers=bearer(fresh))).json()
    stored = await stored_user(app, alice)
    assert after["updated_at"] != before["updated_at"]
    assert after["updated_at"] == stored.updated_at.isoformat().replace("+00:00", "Z")


async def test_a_login_rehash_invalidates_the_cached_user(
    make_app: Callable[..., FastAPI],
) -> None:
    """ADR-0025: the hash upgrade at login is a write to the user too: the cached payload
    is dropped and the next read shows the new ``updated_at``."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=300)
    async with serve(app) as client:
        await add_user(app, "admin@example.com", is_superuser=True)
        alice = await add_user(app, "alice@example.com", hashed_password=legacy_hash())
        admin = await login(client, "admin@example.com")
        url = f"/api/v1/users/{alice}"
        before = (await client.get(url, headers=bearer(admin))).json()
        await login(client, "alice@example.com")  # upgrades bcrypt -> argon2id
        after = (await client.get(url, headers=bearer(admin))).json()
    assert after["updated_at"] != before["updated_at"]
