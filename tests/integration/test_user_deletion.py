"""Deleting users (SECURITY A6; ADR-0019): admins only, never themselves, gone for good."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from app.users.service import CANNOT_DELETE_SELF
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login

USERS = "/api/v1/users"


async def _admin(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    await add_user(app, "root@example.com", is_superuser=True)
    return bearer(await login(client, "root@example.com"))


async def test_a6_a_deleted_user_stays_gone(client, app) -> None:
    """SECURITY A6: after the 204 the id is 404 for admins, the user's tokens are 401, the
    password logs in nowhere, and a new sign-up with the same email is a *new* user: the
    old id stays 404."""
    root = await _admin(app, client)
    bob = await add_user(app, "bob@example.com")
    bob_token = await login(client, "bob@example.com")

    response = await client.delete(f"{USERS}/{bob}", headers=root)
    assert response.status_code == 204
    assert response.content == b""

    gone = await client.get(f"{USERS}/{bob}", headers=root)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert (await client.get(f"{USERS}/me", headers=bearer(bob_token))).status_code == 401
    login_again = await client.post(
        "/api/v1/auth/login", data={"username": "bob@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login_again.status_code == 401
    assert (await client.delete(f"{USERS}/{bob}", headers=root)).status_code == 404

    again = await client.post(
        USERS, json={"email": "bob@example.com", "password": DEFAULT_PASSWORD}
    )
    assert again.status_code == 201
    assert again.json()["id"] != str(bob)
    assert (await client.get(f"{USERS}/{bob}", headers=root)).status_code == 404


async def test_only_admins_delete_and_never_themselves(client, app) -> None:
    """Non-admins get the same 403 for any id (no oracle); an admin's own id is a 409;
    an unknown id is a 404; nothing is deleted along the way."""
    root = await _admin(app, client)
    alice = await add_user(app, "alice@example.com")
    bob = await add_user(app, "bob@example.com")
    alice_h = bearer(await login(client, "alice@example.com"))

    for target in (bob, alice, uuid.uuid4()):
        refused = await client.delete(f"{USERS}/{target}", headers=alice_h)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    assert (await client.delete(f"{USERS}/{bob}")).status_code == 401

    me = (await client.get(f"{USERS}/me", headers=root)).json()["id"]
    own = await client.delete(f"{USERS}/{me}", headers=root)
    assert own.status_code == 409
    assert own.json()["error"]["message"] == CANNOT_DELETE_SELF
    assert (await client.delete(f"{USERS}/{uuid.uuid4()}", headers=root)).status_code == 404
    for user_id in (alice, bob):
        assert (await client.get(f"{USERS}/{user_id}", headers=root)).status_code == 200


async def test_delete_on_me_is_not_an_operation_and_bad_ids_are_422(client, app, caplog) -> None:
    """``/users/me`` has only GET and PATCH: DELETE there is a 405 with ``Allow`` (never routed
    to ``DELETE /users/{user_id}``); a malformed id is a 422 like on GET. The access log
    names the public template, without the route's ``:not_me`` convertor."""
    root = await _admin(app, client)
    me = await client.delete(f"{USERS}/me", headers=root)
    assert me.status_code == 405
    assert me.headers["allow"] == "GET, PATCH"
    assert me.json()["error"]["code"] == "method_not_allowed"
    for bad in ("not-a-uuid", "meh", "1"):
        malformed = await client.delete(f"{USERS}/{bad}", headers=root)
        assert malformed.status_code == 422, bad
        assert malformed.json()["error"]["code"] == "validation_error"
    routes = {r.route for r in caplog.records if r.name == "app.access" and r.method == "DELETE"}
    assert routes == {"/api/v1/users/{user_id}", "/api/v1/users/me"}


async def test_a6_deletion_drops_the_cached_payload(
    make_app: Callable[..., FastAPI], redis: Redis
) -> None:
    """With the user cache on (ADR-0025), a read after the deletion is a 404, not the
    cached payload."""
    app = make_app(cache_enabled=True, cache_default_ttl_seconds=300)
    async with serve(app) as client:
        root = await _admin(app, client)
        bob = await add_user(app, "bob@example.com")
        assert (await client.get(f"{USERS}/{bob}", headers=root)).status_code == 200
        assert await redis.exists(f"cache:user:{bob}")
        assert (await client.delete(f"{USERS}/{bob}", headers=root)).status_code == 204
        assert not await redis.exists(f"cache:user:{bob}")
        assert (await client.get(f"{USERS}/{bob}", headers=root)).status_code == 404
