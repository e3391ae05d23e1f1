"""Sign-up and user lookup over HTTP (SECURITY A1, A3, A4, A8, R2, D6;
ADR-0019, ADR-0031)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.users.models import User
from app.users.service import EMAIL_TAKEN
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, json_keys, login

PUBLIC_FIELDS = {
    "id", "email", "is_active", "is_superuser", "is_verified", "created_at", "updated_at",
}  # fmt: skip


async def _count_users(app: FastAPI) -> int:
    async with app.state.container.database.sessionmaker() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(User)) or 0)


async def _signup(client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD, **extra):
    return await client.post("/api/v1/users", json={"email": email, "password": password, **extra})


async def test_signup_returns_201_public_user_with_normalised_email(client) -> None:
    """Sign-up: 201 with exactly the public fields, email lower-cased (ADR-0031)."""
    response = await _signup(client, "  Ada.Lovelace@Example.COM ")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["email"] == "ada.lovelace@example.com"
    assert body["is_active"] is True
    assert body["is_superuser"] is False
    assert uuid.UUID(body["id"])
    assert body["created_at"].endswith("Z") or "+00:00" in body["created_at"]


@pytest.mark.parametrize("variant", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.Com"])
async def test_duplicate_email_any_case_is_409_envelope(client, variant: str) -> None:
    """Email uniqueness is case-insensitive: 409 conflict envelope (ADR-0031, D6)."""
    assert (await _signup(client, "ada@example.com")).status_code == 201
    response = await _signup(client, variant)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["request_id"] == response.headers["x-request-id"]


TOO_SHORT = "short"  # pragma: allowlist secret


async def test_p9_signup_reveals_only_that_an_email_is_taken_and_is_rate_limited(
    make_app,
) -> None:
    """SECURITY P9 (documented, ADR-0031): a taken email answers the one generic 409 --
    no id, no dates, no echo of the address -- and sign-up attempts count against the
    rate limit like every /api/v1 request (ADR-0024), so probing is bounded per client."""
    app = make_app(rate_limit_enabled=True, rate_limit_requests=3, rate_limit_window_seconds=60)
    async with serve(app) as client:
        assert (await _signup(client, "ada@example.com")).status_code == 201
        taken = await _signup(client, "ADA@example.com")
        other = await _signup(client, "grace@example.com", password=TOO_SHORT)
        probe = await _signup(client, "linus@example.com")
    assert taken.status_code == 409
    assert taken.json()["error"] == {
        "code": "conflict",
        "message": EMAIL_TAKEN,
        "request_id": taken.headers["x-request-id"],
        "details": None,
    }
    assert "ada" not in taken.text.lower()
    assert other.status_code == 422
    assert probe.status_code == 429
    assert probe.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize(
    "extra",
    [{"is_superuser": True}, {"is_active": False}, {"id": str(uuid.uuid4())}, {"role": "admin"}],
)
async def test_a3_mass_assignment_is_rejected_and_never_grants(client, app, extra) -> None:
    """SECURITY A3: sign-up never accepts is_superuser/is_active or any unknown field (422)."""
    response = await _signup(client, "mallory@example.com", **extra)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert await _count_users(app) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email", "password": DEFAULT_PASSWORD},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": 12345678},
        {"email": ["a@example.com"], "password": DEFAULT_PASSWORD},
        {"email": "a@example.com", "password": "short"},  # pragma: allowlist secret
        {"email": "a@example.com", "password": "p" * 129},
        {"email": "a" * 250 + "@example.com", "password": DEFAULT_PASSWORD},
        {"email": "a@example.com", "password": "password123"},  # pragma: allowlist secret
        [],
        "string",
    ],
    ids=[
        "empty",
        "bad-email",
        "no-password",
        "int-password",
        "list-email",
        "short",
        "long",
        "long-email",
        "common",
        "array",
        "string",
    ],
)
async def test_invalid_signup_is_422_without_echo(client, body) -> None:
    """P1, P2, P6, R2, E2: invalid bodies -> 422 envelope that never echoes the password."""
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert DEFAULT_PASSWORD not in response.text
    assert "p" * 129 not in response.text


@pytest.mark.timing
async def test_a8_twenty_concurrent_duplicate_signups_one_201_rest_409_one_row(make_app) -> None:
    """SECURITY A8 (and D6 on both backends): exactly one 201, the rest 409, one row.
    The per-IP sign-up throttle (10 by default) and the hashing backlog (8) would answer
    some of the 20 with 429/503 first; they have their own tests, so this app lifts them."""
    app = make_app(signup_throttle_enabled=False, password_hash_max_queue=64)
    emails = [f"{'RACE' if i % 2 else 'race'}@example.com" for i in range(20)]
    async with serve(app) as client:
        responses = await asyncio.gather(*(_signup(client, email) for email in emails))
        assert await _count_users(app) == 1
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses


async def test_a1_authorization_matrix_without_existence_oracle(client, app) -> None:
    """SECURITY A1: self -> 200; another user's id and a random id -> the *same* 403;
    a superuser gets 200 for others and 404 only for ids that do not exist."""
    alice = await add_user(app, "alice@example.com")
    bob = await add_user(app, "bob@example.com")
    await add_user(app, "root@example.com", is_superuser=True)
    random_id = uuid.uuid4()
    alice_h = bearer(await login(client, "alice@example.com"))
    root_h = bearer(await login(client, "root@example.com"))

    own = await client.get(f"/api/v1/users/{alice}", headers=alice_h)
    assert own.status_code == 200
    assert own.json()["id"] == str(alice)

    other = await client.get(f"/api/v1/users/{bob}", headers=alice_h)
    missing = await client.get(f"/api/v1/users/{random_id}", headers=alice_h)
    assert other.status_code == missing.status_code == 403
    strip = lambda r: {**r.json()["error"], "request_id": None}  # noqa: E731
    assert strip(other) == strip(missing)

    assert (await client.get(f"/api/v1/users/{bob}", headers=root_h)).json()["id"] == str(bob)
    not_found = await client.get(f"/api/v1/users/{random_id}", headers=root_h)
    assert not_found.status_code == 404
    assert not_found.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("user_id", ["not-a-uuid", "1", "x" * 300])
async def test_malformed_user_id_is_422(client, app, user_id: str) -> None:
    """A path id that is not a UUID is a 422 envelope (ADR-0031: ids are UUIDs)."""
    await add_user(app, "alice@example.com")
    headers = bearer(await login(client, "alice@example.com"))
    response = await client.get(f"/api/v1/users/{user_id}", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_me_returns_the_caller_on_v1_and_legacy(client, app) -> None:
    """/api/v1/users/me and the legacy /auth/me return the caller's public user."""
    alice = await add_user(app, "alice@example.com")
    headers = bearer(await login(client, "alice@example.com"))
    for path in ("/api/v1/users/me", "/auth/me"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200
        assert set(response.json()) == PUBLIC_FIELDS
        assert response.json()["id"] == str(alice)


async def test_admin_listing_requires_admin_and_caps_page_size(client, app) -> None:
    """require_roles("admin") -> 403 for others; page sizes capped (SECURITY R2)."""
    await add_user(app, "alice@example.com")
    await add_user(app, "root@example.com", is_superuser=True)
    alice_h = bearer(await login(client, "alice@example.com"))
    root_h = bearer(await login(client, "root@example.com"))
    assert (await client.get("/api/v1/users")).status_code == 401
    denied = await client.get("/api/v1/users", headers=alice_h)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    page = await client.get("/api/v1/users", params={"limit": 1}, headers=root_h)
    assert page.status_code == 200
    assert page.json()["total"] == 2
    assert len(page.json()["items"]) == 1
    for limit in (0, 101, 10**9):
        assert (
            await client.get("/api/v1/users", params={"limit": limit}, headers=root_h)
        ).status_code == 422


async def test_a4_no_response_anywhere_carries_a_hash_or_password(client, app) -> None:
    """SECURITY A4 / ADR-0014: walk the identity surface, errors included; no key or
    value reveals a password hash."""
    await add_user(app, "root@example.com", is_superuser=True)
    responses = [
        await _signup(client, "alice@example.com"),
        await _signup(client, "alice@example.com"),
        await _signup(client, "x@example.com", password="short"),  # pragma: allowlist secret
    ]
    token = await login(client, "alice@example.com")
    root = bearer(await login(client, "root@example.com"))
    alice_id = responses[0].json()["id"]
    responses += [
        await client.post(
            "/api/v1/auth/login",
            data={"username": "alice@example.com", "password": "nope"},  # pragma: allowlist secret
        ),
        await client.get("/api/v1/users/me", headers=bearer(token)),
        await client.get("/auth/me", headers=bearer(token)),
        await client.get(f"/api/v1/users/{alice_id}", headers=bearer(token)),
        await client.get(f"/api/v1/users/{alice_id}", headers=root),
        await client.get("/api/v1/users", headers=root),
        await client.get("/openapi.json"),
    ]
    for response in responses:
        assert "$argon2" not in response.text
        assert "$2b$" not in response.text
        keys = {key.lower() for key in json_keys(response.json())}
        leaked = {k for k in keys if "hash" in k or k in {"password", "secret", "hashed_password"}}
        # The OpenAPI document legitimately names the sign-up/login "password" *input*.
        if response.url.path == "/openapi.json":
            leaked -= {"password"}
        assert leaked == set(), (response.url, leaked)
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert set(schema["UserPublic"]["properties"]) == PUBLIC_FIELDS
