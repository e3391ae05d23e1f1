"""Password writes race each other: a password write is compare-and-set and token
versions are incremented in SQL, so a login rehash never undoes a change, of concurrent
changes one wins, and a stale deactivation still revokes the newer token
(ADR-0018; SECURITY T9, A7).

Each test reproduces a defect found by probing the running service with two flows racing
on one row; the races are held open by blocking the password check in its worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from app.auth.service import CHANGED_CONCURRENTLY
from app.credentials.passwords import PasswordHasher, VerifyResult
from app.users.repository import UserRepository
from app.users.service import UserService
from tests.fixtures.app import serve
from tests.fixtures.auth import (
    DEFAULT_PASSWORD,
    add_user,
    bearer,
    legacy_hash,
    login,
    session_token,
    stored_user,
)

LOGIN = "/api/v1/auth/login"
PASSWORD = "/api/v1/auth/password"
ME = "/api/v1/users/me"
NEW_PASSWORD = "a brand new passphrase 7"  # pragma: allowlist secret

VerifySync = Callable[[PasswordHasher, str, str], VerifyResult]


@pytest.fixture
def hold_first_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first password check, once done, blocks in its worker thread until ``release``
    is set; ``holding`` is set when it has got there."""
    holding, release = threading.Event(), threading.Event()
    calls: list[str] = []
    original: VerifySync = PasswordHasher._verify_sync

    def held(self: PasswordHasher, password: str, hashed: str) -> VerifyResult:
        calls.append(hashed)
        first = len(calls) == 1  # decided on entry: later calls may append meanwhile
        result = original(self, password, hashed)
        if first:
            holding.set()
            release.wait(timeout=30)
        return result

    monkeypatch.setattr(PasswordHasher, "_verify_sync", held)
    yield holding, release
    release.set()


@pytest.mark.slow
@pytest.mark.timing
async def test_t9_a_login_rehash_never_undoes_a_password_change(
    make_app: Callable[..., FastAPI], hold_first_verify: tuple[threading.Event, threading.Event]
) -> None:
    """SECURITY T9: a login that verified the old (legacy bcrypt) password just before a
    change must not write its upgraded hash of the old password over the new one, and the
    token it was issued does not survive the change."""
    holding, release = hold_first_verify
    app = make_app(password_hash_max_concurrency=2)
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com", hashed_password=legacy_hash())
        token = await session_token(app, alice)
        racing_login = asyncio.create_task(
            client.post(LOGIN, data={"username": "alice@example.com", "password": DEFAULT_PASSWORD})
        )
        # The login has verified the old password and holds it (bounded wait).
        assert await asyncio.to_thread(holding.wait, 30)
        change = await client.post(
            PASSWORD,
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(token),
        )
        assert change.status_code == 204, change.text
        release.set()
        raced = await racing_login
        if raced.status_code == 200:  # issued, but at the version before the change
            stale = raced.json()["access_token"]
            assert (await client.get(ME, headers=bearer(stale))).status_code == 401
        old = {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
        assert (await client.post(LOGIN, data=old)).status_code == 401
        await login(client, "alice@example.com", NEW_PASSWORD)


@pytest.fixture
def barrier_on_verify(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``arm(n)``: the next ``n`` password checks wait for each other before returning, so
    ``n`` requests have all read the same stored hash before any of them writes. Later
    checks run as usual."""

    def arm(n: int) -> None:
        barrier = threading.Barrier(n, timeout=30)
        entered: list[str] = []
        original: VerifySync = PasswordHasher._verify_sync

        def gathered(self: PasswordHasher, password: str, hashed: str) -> VerifyResult:
            entered.append(hashed)
            gate = len(entered) <= n
            result = original(self, password, hashed)
            if gate:
                barrier.wait()
            return result

        monkeypatch.setattr(PasswordHasher, "_verify_sync", gathered)

    return arm


@pytest.mark.slow
@pytest.mark.timing
async def test_t9_five_concurrent_changes_one_wins(
    make_app: Callable[..., FastAPI], barrier_on_verify: Callable[[int], None]
) -> None:
    """SECURITY T9: five concurrent changes from the same current password: exactly one
    204, four 409 envelopes; only the winner's new password logs in; the token version went
    up exactly once and the token they used is revoked."""
    app = make_app(password_hash_max_concurrency=5)
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        barrier_on_verify(5)
        answers = await asyncio.gather(
            *(
                client.post(
                    PASSWORD,
                    json={
                        "current_password": DEFAULT_PASSWORD,
                        "new_password": f"{NEW_PASSWORD} {i}",
                    },
                    headers=bearer(token),
                )
                for i in range(5)
            )
        )
        codes = [r.status_code for r in answers]
        assert sorted(codes) == [204, 409, 409, 409, 409], codes
        for refused in (r for r in answers if r.status_code == 409):
            error = refused.json()["error"]
            assert error["code"] == "conflict"
            assert error["message"] == CHANGED_CONCURRENTLY
        assert (await stored_user(app, alice)).token_version == 1
        assert (await client.get(ME, headers=bearer(token))).status_code == 401
        candidates = [f"{NEW_PASSWORD} {i}" for i in range(5)]
        winner = candidates[codes.index(204)]
        for candidate in candidates:
            data = {"username": "alice@example.com", "password": candidate}
            expected = 200 if candidate == winner else 401
            assert (await client.post(LOGIN, data=data)).status_code == expected


async def test_t9_a7_a_deactivation_racing_a_change_revokes_the_newer_token(
    make_app: Callable[..., FastAPI],
) -> None:
    """SECURITY T9/A7: an admin deactivation that read the user *before* a password change
    committed still revokes the token issued *after* it (token versions are incremented in
    SQL, never written back from a stale read), and reactivation does not revive it."""
    app = make_app()
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        token = await login(client, "alice@example.com")
        async with app.state.container.database.sessionmaker() as admin_session:
            stale = await UserRepository(admin_session).get(alice)  # version 0
            assert stale is not None
            change = await client.post(
                PASSWORD,
                json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
                headers=bearer(token),
            )
            assert change.status_code == 204
            fresh = await login(client, "alice@example.com", NEW_PASSWORD)  # version 1
            admin = UserService(admin_session, None)  # type: ignore[arg-type]
            await admin.change_roles(stale, alice, is_active=False, is_superuser=None)
            await admin_session.commit()
        async with app.state.container.database.sessionmaker() as admin_session:
            service = UserService(admin_session, None)  # type: ignore[arg-type]
            user = await UserRepository(admin_session).get(alice)
            assert user is not None
            await service.change_roles(user, alice, is_active=True, is_superuser=None)
            await admin_session.commit()
        assert (await stored_user(app, alice)).token_version == 2
        assert (await client.get(ME, headers=bearer(fresh))).status_code == 401
