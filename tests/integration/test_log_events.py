"""The log events the CONTRACTs of ``app.users`` and ``app.auth`` document (ADR-0004,
ADR-0019; SECURITY E4): ``users.create``/``users.delete``, ``authz.user_read`` and
``authz.role`` denials, every refused bearer token, and the admin-change, e-mail-change
and session-end audit lines, each with its event, outcome and ids. The throttles' lines and
429 bodies are in tests/integration/test_log_events_throttles.py. Written to kill the
surviving mutants ``make mutation`` listed (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import logging
import uuid

import jwt
import pytest
from fastapi import FastAPI

from app.core.errors import Forbidden
from app.credentials.tokens import create_access_token
from app.users.dependencies import require_roles
from app.users.models import User
from app.users.repository import UserRepository
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login, session_token

SIGNUP = "/api/v1/users"
ME = "/api/v1/users/me"
LOGOUT = "/api/v1/auth/logout"
WRONG = "wrong password entirely"  # pragma: allowlist secret


def _event(records: list[logging.LogRecord], logger: str, event: str, outcome: str) -> dict:
    """The one line of ``event``/``outcome`` on ``logger``: its message and fields."""
    found = [
        r
        for r in records
        if r.name == logger
        and getattr(r, "event", None) == event
        and getattr(r, "outcome", None) == outcome
    ]
    assert len(found) == 1, (logger, event, outcome, [vars(r) for r in records])
    fields = {k: v for k, v in vars(found[0]).items() if k in {"user_id", "target_id", "by"}}
    return {"message": found[0].getMessage(), **fields}


async def test_users_create_delete_and_read_denied_are_logged(
    app: FastAPI, records: list[logging.LogRecord]
) -> None:
    """``users.create`` (created), ``users.delete`` (deleted) and ``authz.user_read``
    (denied) on ``app.users``, with the acting user and the target."""
    async with serve(app) as client:
        created = await client.post(SIGNUP, json={"email": "new@example.com", "password": WRONG})
        new_id = created.json()["id"]
        admin = await add_user(app, "admin@example.com", is_superuser=True)
        nosy = await add_user(app, "nosy@example.com")
        nosy_token = await login(client, "nosy@example.com")
        denied = await client.get(f"/api/v1/users/{new_id}", headers=bearer(nosy_token))
        admin_token = await login(client, "admin@example.com")
        deleted = await client.delete(f"/api/v1/users/{new_id}", headers=bearer(admin_token))
    assert (created.status_code, denied.status_code, deleted.status_code) == (201, 403, 204)
    assert _event(records, "app.users", "users.create", "created") == {
        "message": "user created",
        "user_id": new_id,
    }
    assert _event(records, "app.users", "authz.user_read", "denied") == {
        "message": "authorization denied",
        "user_id": str(nosy),
        "target_id": new_id,
    }
    assert _event(records, "app.users", "users.delete", "deleted") == {
        "message": "user deleted",
        "user_id": str(admin),
        "target_id": new_id,
    }


async def test_require_roles_passes_admins_and_logs_a_denied_role(
    records: list[logging.LogRecord],
) -> None:
    """``require_roles`` (the check behind ``AdminUser``), called as FastAPI calls it:
    an admin passes, anyone else is a 403 logged as ``authz.role`` denied on ``app.auth``
    with the roles required. Unknown role names fail when declared, naming them."""
    admin_only = require_roles("admin")
    admin = User(id=uuid.uuid4(), email="a@example.com", hashed_password="-", is_superuser=True)
    user = User(id=uuid.uuid4(), email="u@example.com", hashed_password="-", is_superuser=False)
    assert await admin_only(admin) is admin
    with pytest.raises(Forbidden):
        await admin_only(user)
    line = [r for r in records if getattr(r, "event", None) == "authz.role"]
    assert len(line) == 1
    assert (line[0].name, line[0].getMessage(), line[0].outcome) == (
        "app.auth",
        "authorization denied",
        "denied",
    )
    assert (line[0].user_id, line[0].required) == (str(user.id), "admin")
    with pytest.raises(ValueError, match=r"^unknown roles: \['root'\]$"):
        require_roles("admin", "root")
    with pytest.raises(ValueError, match=r"^unknown roles: none given$"):
        require_roles()


async def test_every_refused_token_is_logged_with_its_reason_and_ids(
    app: FastAPI, records: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auth.token`` on ``app.auth`` (SECURITY E4): each way a bearer token is refused is
    one warning with its ``outcome`` and the ids it names (never the token), and a failed
    lookup one error; the client sees only the 401 (or the 503)."""
    settings = app.state.container.settings
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        idle = await add_user(app, "idle@example.com", is_active=False)
        token = await session_token(app, alice)
        sid = uuid.UUID(jwt.decode(token, options={"verify_signature": False})["sid"])
        ghost, ghost_sid = uuid.uuid4(), uuid.uuid4()
        cases = {
            "missing_token": None,
            "invalid_token": "not-a-token",
            "unknown_user": create_access_token(ghost, settings, session_id=ghost_sid).token,
            "inactive_user": await session_token(app, idle),
            "revoked_token": create_access_token(alice, settings, version=1, session_id=sid).token,
        }
        statuses = [
            (await client.get(ME, headers=bearer(t) if t else {})).status_code
            for t in cases.values()
        ]
        ended = await session_token(app, alice)
        assert (await client.post(LOGOUT, headers=bearer(ended))).status_code == 204
        statuses.append((await client.get(ME, headers=bearer(ended))).status_code)

        async def broken(*_: object) -> None:
            raise OSError("database unreachable")

        monkeypatch.setattr(UserRepository, "get_with_session", broken)
        failed = await client.get(ME, headers=bearer(token))
    assert statuses == [401] * 6
    assert failed.status_code == 503
    lines = [r for r in records if getattr(r, "event", None) == "auth.token"]
    ended_sid = jwt.decode(ended, options={"verify_signature": False})["sid"]
    assert [
        (r.name, r.levelname, r.getMessage(), r.outcome, getattr(r, "user_id", None)) for r in lines
    ] == [
        ("app.auth", "WARNING", "authentication rejected", "missing_token", None),
        ("app.auth", "WARNING", "authentication rejected", "invalid_token", None),
        ("app.auth", "WARNING", "authentication rejected", "unknown_user", str(ghost)),
        ("app.auth", "WARNING", "authentication rejected", "inactive_user", str(idle)),
        ("app.auth", "WARNING", "authentication rejected", "revoked_token", str(alice)),
        ("app.auth", "WARNING", "authentication rejected", "session_ended", str(alice)),
        ("app.auth", "ERROR", "authorization lookup failed; denying", "lookup_failed", str(alice)),
    ]
    by_outcome = {r.outcome: r for r in lines}
    assert by_outcome["invalid_token"].detail == "DecodeError"  # why, never the token
    assert by_outcome["unknown_user"].session_id == str(ghost_sid)
    assert by_outcome["session_ended"].session_id == ended_sid


AUDIT_IDS = ("outcome", "actor_id", "subject_id")


def _audit(records: list[logging.LogRecord], event: str) -> list[tuple[object, ...]]:
    """``(logger, level, message, outcome, actor_id, subject_id)`` of each ``event`` line."""
    return [
        (r.name, r.levelname, r.getMessage(), *(vars(r)[k] for k in AUDIT_IDS))
        for r in records
        if getattr(r, "event", None) == event
    ]


async def test_admin_changes_and_the_session_ends_they_cause_are_audited(
    app: FastAPI, records: list[logging.LogRecord]
) -> None:
    """The audit lines the users CONTRACT lists (through ``app.core.audit``):
    ``users.admin_change`` by the admin on the user, with the roles set, and the
    ``auth.session_end`` of each session a deactivation or a deletion ended, with the
    admin as actor."""
    async with serve(app) as client:
        admin = await add_user(app, "admin@example.com", is_superuser=True)
        alice = await add_user(app, "alice@example.com")
        bob = await add_user(app, "bob@example.com")
        root = bearer(await login(client, "admin@example.com"))
        await login(client, "alice@example.com")
        await login(client, "bob@example.com")
        records.clear()
        change = {"is_active": False, "is_superuser": False}
        off = await client.patch(f"{SIGNUP}/{alice}", json=change, headers=root)
        gone = await client.delete(f"{SIGNUP}/{bob}", headers=root)
    assert (off.status_code, gone.status_code) == (200, 204)
    changed = [vars(r) for r in records if getattr(r, "event", None) == "users.admin_change"]
    assert [(r["is_active"], r["is_superuser"]) for r in changed] == [(False, False)]
    assert _audit(records, "users.admin_change") == [
        ("app.users", "INFO", "user changed by an admin", "changed", str(admin), str(alice))
    ]
    assert _audit(records, "auth.session_end") == [
        ("app.auth", "INFO", "session ended", "ended", str(admin), str(alice)),
        ("app.auth", "INFO", "session ended", "ended", str(admin), str(bob)),
    ]


async def test_email_changes_are_audited(app: FastAPI, records: list[logging.LogRecord]) -> None:
    """``users.email_change`` on ``app.users``: a wrong current password is a warning
    (``wrong_password``), a change is ``changed``; both by the user on themselves."""
    async with serve(app) as client:
        alice = await add_user(app, "alice@example.com")
        mine = bearer(await login(client, "alice@example.com"))
        wrong = {"email": "new@example.com", "current_password": WRONG}
        right = {"email": "new@example.com", "current_password": DEFAULT_PASSWORD}
        assert (await client.patch(ME, json=wrong, headers=mine)).status_code == 403
        assert (await client.patch(ME, json=right, headers=mine)).status_code == 200
    assert _audit(records, "users.email_change") == [
        ("app.users", "WARNING", "email change refused", "wrong_password", str(alice), str(alice)),
        ("app.users", "INFO", "email changed", "changed", str(alice), str(alice)),
    ]
