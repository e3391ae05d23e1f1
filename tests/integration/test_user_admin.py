"""Administration and self-service of accounts (SECURITY A9, A10, A3, R2; ADR-0019,
ADR-0035): ``PATCH /users/{id}``, the filtered list, ``PATCH /users/me``."""

from __future__ import annotations

import asyncio
import logging

import httpx
from fastapi import FastAPI

from app.users.service import EMAIL_TAKEN, LAST_ADMIN, WRONG_CURRENT
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login

USERS = "/api/v1/users"
ME = "/api/v1/users/me"
REFRESH = "/api/v1/auth/refresh"


async def _admin(app: FastAPI, client: httpx.AsyncClient, email: str = "root@example.com"):
    user_id = await add_user(app, email, is_superuser=True)
    return user_id, bearer(await login(client, email))


async def test_a9_admin_deactivation_ends_the_users_tokens_at_once(client, app, caplog) -> None:
    """SECURITY A9, A7: an admin's deactivation makes the user's access and refresh tokens
    fail on their very next use; reactivating revives neither. The change is an audit
    event naming actor and subject."""
    root_id, root = await _admin(app, client)
    alice = await add_user(app, "alice@example.com")
    form = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
    pair = (await client.post("/api/v1/auth/login", data=form)).json()
    caplog.set_level(logging.INFO)
    off = await client.patch(f"{USERS}/{alice}", json={"is_active": False}, headers=root)
    assert off.status_code == 200, off.text
    assert off.json()["is_active"] is False
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 401
    refresh = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    on = await client.patch(f"{USERS}/{alice}", json={"is_active": True}, headers=root)
    assert on.status_code == 200
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 401
    events = [r for r in caplog.records if getattr(r, "event", None) == "users.admin_change"]
    assert [(e.actor_id, e.subject_id) for e in events] == [(str(root_id), str(alice))] * 2


async def test_a10_the_last_active_superuser_stays(client, app) -> None:
    """SECURITY A10: the last active superuser can be neither demoted nor deactivated
    (409, nothing changes); with a second admin the demotion is allowed."""
    root_id, root = await _admin(app, client)
    for change in ({"is_superuser": False}, {"is_active": False}):
        refused = await client.patch(f"{USERS}/{root_id}", json=change, headers=root)
        assert refused.status_code == 409, change
        assert refused.json()["error"]["message"] == LAST_ADMIN
    assert (await client.get(ME, headers=root)).json()["is_superuser"] is True
    bob = await add_user(app, "bob@example.com")
    bobs = bearer(await login(client, "bob@example.com"))
    promoted = await client.patch(f"{USERS}/{bob}", json={"is_superuser": True}, headers=root)
    assert promoted.status_code == 200
    # Only a deactivation ends sessions: bob's token survives his promotion.
    assert (await client.get(ME, headers=bobs)).json()["is_superuser"] is True
    demoted = await client.patch(f"{USERS}/{root_id}", json={"is_superuser": False}, headers=root)
    assert demoted.status_code == 200
    assert demoted.json()["is_superuser"] is False


async def test_a10_two_admins_demoting_each_other_at_once_leave_one(client, app) -> None:
    """SECURITY A10: two admins demoting each other concurrently: exactly one wins, the
    other is a 409, and one active superuser remains (race-free in SQL)."""
    a_id, a = await _admin(app, client, "a@example.com")
    b_id, b = await _admin(app, client, "b@example.com")
    answers = await asyncio.gather(
        client.patch(f"{USERS}/{b_id}", json={"is_superuser": False}, headers=a),
        client.patch(f"{USERS}/{a_id}", json={"is_active": False}, headers=b),
    )
    codes = sorted(r.status_code for r in answers)
    # The loser is refused by the rule (409) or, having been demoted first, by its role (403).
    assert codes[0] == 200, codes
    assert codes[1] in (403, 409), codes
    listed = [(await client.get(ME, headers=headers)) for headers in (a, b)]
    admins = [r for r in listed if r.status_code == 200 and r.json()["is_superuser"]]
    assert len(admins) == 1


async def test_admin_changes_are_admin_only_and_strict(client, app) -> None:
    """SECURITY A3: only admins change users (403, also for unknown ids); unknown fields,
    nulls and wrong types are 422; an unknown id is 404 for admins."""
    _, root = await _admin(app, client)
    alice = await add_user(app, "alice@example.com")
    mine = bearer(await login(client, "alice@example.com"))
    promote = await client.patch(f"{USERS}/{alice}", json={"is_superuser": True}, headers=mine)
    assert promote.status_code == 403
    for body in ({"email": "x@example.com"}, {"is_active": None}, {"is_superuser": "yes"}):
        response = await client.patch(f"{USERS}/{alice}", json=body, headers=root)
        assert response.status_code == 422, body
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.patch(f"{USERS}/{missing}", json={}, headers=root)).status_code == 404


async def test_unknown_ids_are_404_naming_the_user_for_admins(client, app) -> None:
    """An admin reading, changing or deleting an id that does not exist gets the 404
    envelope saying which resource is missing."""
    _, root = await _admin(app, client)
    url = f"{USERS}/00000000-0000-4000-8000-000000000000"
    answers = [
        await client.get(url, headers=root),
        await client.patch(url, json={"is_active": True}, headers=root),
        await client.delete(url, headers=root),
    ]
    assert [(r.status_code, r.json()["error"]["message"]) for r in answers] == [
        (404, "User not found.")
    ] * 3


async def test_r2_admin_list_filters_sorts_and_counts(client, app) -> None:
    """SECURITY R2: the admin list filters by email substring (literal ``%``/``_``),
    ``is_active`` and ``is_superuser``, sorts only by the allow-list, pages with
    ``offset``/``limit``, and counts the filtered total."""
    _, root = await _admin(app, client)
    await add_user(app, "alice@example.com")
    await add_user(app, "al_ex@example.com", is_active=False)
    await add_user(app, "bob@example.org")

    async def emails(**params: object) -> tuple[list[str], int]:
        response = await client.get(USERS, params=params, headers=root)
        assert response.status_code == 200, response.text
        body = response.json()
        return [u["email"] for u in body["items"]], body["total"]

    assert await emails(email="AL", sort="email") == (["al_ex@example.com", "alice@example.com"], 2)
    assert await emails(email="_") == (["al_ex@example.com"], 1)
    assert await emails(is_active=False) == (["al_ex@example.com"], 1)
    assert await emails(is_superuser=True) == (["root@example.com"], 1)
    ordered, total = await emails(sort="-email", limit=2)
    assert (ordered, total) == (["root@example.com", "bob@example.org"], 4)
    page_two = await emails(sort="-email", limit=2, offset=2)
    assert page_two == (["alice@example.com", "al_ex@example.com"], 4)
    bad = await client.get(USERS, params={"sort": "hashed_password"}, headers=root)
    assert bad.status_code == 422


async def test_change_your_email_with_your_password(client, app) -> None:
    """``PATCH /users/me``: the current password is required (403), a taken address in
    any spelling is a 409, and the new address is the login from then on."""
    await add_user(app, "alice@example.com")
    await add_user(app, "bob@example.com")
    mine = bearer(await login(client, "alice@example.com"))
    guess = "not my password"  # pragma: allowlist secret
    wrong = {"email": "new@example.com", "current_password": guess}
    assert (await client.patch(ME, json=wrong, headers=mine)).status_code == 403
    fullwidth_bob = "\uff22\uff2f\uff22@example.com"
    taken = {"email": fullwidth_bob, "current_password": DEFAULT_PASSWORD}
    assert (await client.patch(ME, json=taken, headers=mine)).status_code == 409
    extra = {"email": "new@example.com", "current_password": DEFAULT_PASSWORD, "is_superuser": True}
    assert (await client.patch(ME, json=extra, headers=mine)).status_code == 422
    ok = {"email": "New@Example.com", "current_password": DEFAULT_PASSWORD}
    changed = await client.patch(ME, json=ok, headers=mine)
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "new@example.com"
    await login(client, "new@example.com")
    old = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
    assert (await client.post("/api/v1/auth/login", data=old)).status_code == 401


async def test_deleting_a_user_ends_each_session_with_an_audit_line(client, app, caplog) -> None:
    """One audit line per ended session names the admin as actor and the user as subject,
    before the rows go with the user; the deletion itself is one more line."""
    root_id, root = await _admin(app, client)
    alice = await add_user(app, "alice@example.com")
    form = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
    for _ in range(2):
        assert (await client.post("/api/v1/auth/login", data=form)).status_code == 200
    caplog.set_level(logging.INFO)
    assert (await client.delete(f"{USERS}/{alice}", headers=root)).status_code == 204
    ended = [r for r in caplog.records if r.getMessage() == "session ended"]
    assert [(r.actor_id, r.subject_id) for r in ended] == [(str(root_id), str(alice))] * 2
    deleted = [r for r in caplog.records if getattr(r, "event", None) == "users.delete"]
    assert [(r.actor_id, r.subject_id) for r in deleted] == [(str(root_id), str(alice))]


async def test_email_change_refusals_say_why_and_your_own_address_is_not_taken(client, app) -> None:
    """``PATCH /users/me``: a wrong current password and a taken address are refused with
    messages that say which; re-submitting your own address (in another case) is no
    conflict with yourself."""
    await add_user(app, "alice@example.com")
    await add_user(app, "bob@example.com")
    mine = bearer(await login(client, "alice@example.com"))
    guess = "not my password"  # pragma: allowlist secret
    wrong = {"email": "new@example.com", "current_password": guess}
    taken = {"email": "bob@example.com", "current_password": DEFAULT_PASSWORD}
    own = {"email": "ALICE@example.com", "current_password": DEFAULT_PASSWORD}
    refused = await client.patch(ME, json=wrong, headers=mine)
    conflict = await client.patch(ME, json=taken, headers=mine)
    kept = await client.patch(ME, json=own, headers=mine)
    assert (refused.status_code, refused.json()["error"]["message"]) == (403, WRONG_CURRENT)
    assert (conflict.status_code, conflict.json()["error"]["message"]) == (409, EMAIL_TAKEN)
    assert kept.status_code == 200, kept.text
    assert kept.json()["email"] == "alice@example.com"
