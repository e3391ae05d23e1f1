"""Password change and token revocation (SECURITY T9, P12; ADR-0018).

``POST /api/v1/auth/password`` needs the current password; a change, like a
deactivation, bumps the user's token version, and every token issued before is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from app.auth.service import WRONG_CURRENT
from app.users.repository import UserRepository
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login, session_token

PASSWORD = "/api/v1/auth/password"
ME = "/api/v1/users/me"
LOGIN = "/api/v1/auth/login"
NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret
TOO_SHORT = "short"  # pragma: allowlist secret
TOO_COMMON = "password123"  # pragma: allowlist secret


async def _change(
    client: httpx.AsyncClient, token: str, current: str, new: str = NEW_PASSWORD, **extra: object
) -> httpx.Response:
    body = {"current_password": current, "new_password": new, **extra}
    return await client.post(PASSWORD, json=body, headers=bearer(token))


async def _login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post(LOGIN, data={"username": email, "password": password})
    return response.status_code


async def test_t9_a_password_change_revokes_every_earlier_token(client, app) -> None:
    """SECURITY T9: after a change, tokens issued before it (the caller's included) are
    401; the old password fails and the new one logs in to a working token."""
    await add_user(app, "alice@example.com")
    first = await login(client, "alice@example.com")
    second = await login(client, "alice@example.com")
    response = await _change(client, second, DEFAULT_PASSWORD)
    assert response.status_code == 204, response.text
    assert response.content == b""
    for token in (first, second):
        refused = await client.get(ME, headers=bearer(token))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["code"] == "unauthorized"
    assert await _login_status(client, "alice@example.com", DEFAULT_PASSWORD) == 401
    fresh = await login(client, "alice@example.com", NEW_PASSWORD)
    assert (await client.get(ME, headers=bearer(fresh))).status_code == 200


async def test_t9_deactivation_revokes_tokens_for_good(client, app) -> None:
    """SECURITY T9: deactivating revokes existing tokens; reactivating does not bring
    them back, while a new login works."""
    alice = await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")
    async with app.state.container.database.sessionmaker() as session:
        repo = UserRepository(session)
        user = await repo.get(alice)
        assert user is not None
        await repo.change_roles(user, is_active=False, is_superuser=None)
        await repo.change_roles(user, is_active=True, is_superuser=None)
        await session.commit()
    assert (await client.get(ME, headers=bearer(token))).status_code == 401
    fresh = await login(client, "alice@example.com")
    assert (await client.get(ME, headers=bearer(fresh))).status_code == 200


async def test_t9_a_hash_upgrade_at_login_revokes_nothing(client, app) -> None:
    """Rehashing the *same* password (bcrypt -> argon2id at login) is no password change:
    tokens issued before it keep working."""
    import bcrypt

    legacy = bcrypt.hashpw(DEFAULT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    old = await add_user(app, "old@example.com", hashed_password=legacy)
    before = await session_token(app, old)  # issued before the upgrade, not by it
    await login(client, "old@example.com")  # upgrades the hash
    assert (await client.get(ME, headers=bearer(before))).status_code == 200


async def test_p12_a_wrong_current_password_changes_nothing(client, app) -> None:
    """SECURITY P12: the current password is required; a wrong one is a 403 envelope and
    neither the password nor the caller's token changes."""
    await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")
    response = await _change(client, token, "not the password at all")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert error["message"] == WRONG_CURRENT
    assert (await client.get(ME, headers=bearer(token))).status_code == 200
    assert await _login_status(client, "alice@example.com", NEW_PASSWORD) == 401
    assert await _login_status(client, "alice@example.com", DEFAULT_PASSWORD) == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": DEFAULT_PASSWORD, "new_password": TOO_SHORT}, "new_password"),
        ({"current_password": DEFAULT_PASSWORD, "new_password": TOO_COMMON}, "new_password"),
        ({"current_password": DEFAULT_PASSWORD, "new_password": "x" * 129}, "new_password"),
        ({"new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": "", "new_password": NEW_PASSWORD}, "current_password"),
        (
            {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "email": "x"},
            "email",
        ),
    ],
)
async def test_new_password_rules_and_strict_body(client, app, body, field: str) -> None:
    """The new password follows the sign-up rules; the body is strict (422, no echo)."""
    await add_user(app, "alice@example.com")
    token = await login(client, "alice@example.com")
    response = await client.post(PASSWORD, json=body, headers=bearer(token))
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert any(field in d["loc"] for d in details), details
    assert DEFAULT_PASSWORD not in response.text
    assert (await client.get(ME, headers=bearer(token))).status_code == 200


async def test_password_change_needs_a_token(client) -> None:
    """No token, no change: 401 with ``WWW-Authenticate: Bearer``."""
    body = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post(PASSWORD, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_current_passwords_are_throttled_apart_from_logins(
    make_app: Callable[..., FastAPI],
) -> None:
    """Guesses through this route are throttled per account like failed logins (429 +
    Retry-After once spent, even for the right password) on counters of their own: the
    owner can still log in."""
    app = make_app(login_max_failures_per_account=2)
    async with serve(app) as client:
        await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        statuses = [(await _change(client, token, f"guess {n}")).status_code for n in range(2)]
        throttled = await _change(client, token, DEFAULT_PASSWORD)
        assert statuses == [403, 403]
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert throttled.json()["error"]["code"] == "rate_limited"
        assert await _login_status(client, "alice@example.com", DEFAULT_PASSWORD) == 200
        assert (await client.get(ME, headers=bearer(token))).status_code == 200


async def test_wrong_current_passwords_spend_the_guessing_clients_ip_budget_only(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY P10, R6: the per-IP budget of password-change guesses is the client's own:
    one client spending it (429) leaves another client's guesses counted on theirs, and
    its own logins on the login budget."""
    app = make_app(login_max_failures_per_ip=2, trusted_proxies=["127.0.0.1/32"])
    async with serve(app) as client:
        await add_user(app, "alice@example.com")
        await add_user(app, "bob@example.com")
        tokens = [await login(client, email) for email in ("alice@example.com", "bob@example.com")]

        guess_text = "a wrong guess"  # pragma: allowlist secret

        async def guess(token: str, ip: str) -> int:
            body = {"current_password": guess_text, "new_password": NEW_PASSWORD}
            headers = {**bearer(token), "X-Forwarded-For": ip}
            return (await client.post(PASSWORD, json=body, headers=headers)).status_code

        first = [await guess(tokens[0], "198.51.100.1") for _ in range(3)]
        other = await guess(tokens[1], "198.51.100.2")
        form = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
        relogin = await client.post(LOGIN, data=form, headers={"X-Forwarded-For": "198.51.100.1"})
    assert first == [403, 403, 429]
    assert other == 403
    assert relogin.status_code == 200  # the login budget of that IP is a separate one


async def test_a_change_is_per_user(client, app) -> None:
    """Bob's tokens survive Alice's password change."""
    await add_user(app, "alice@example.com")
    bob: uuid.UUID = await add_user(app, "bob@example.com")
    alice_token = await login(client, "alice@example.com")
    bob_token = await login(client, "bob@example.com")
    assert (await _change(client, alice_token, DEFAULT_PASSWORD)).status_code == 204
    me = await client.get(ME, headers=bearer(bob_token))
    assert me.status_code == 200
    assert me.json()["id"] == str(bob)
