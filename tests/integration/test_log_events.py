"""The log events and 429 bodies the CONTRACTs of ``app.users`` and ``app.ratelimit``
document (ADR-0004, ADR-0019, ADR-0028; SECURITY E4, P10): event, outcome and the ids of
each line, and the ``details`` of each 429 envelope. Written to kill the surviving mutants
``make mutation`` listed (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import jwt
import pytest
from fastapi import FastAPI

from app.core.errors import Forbidden
from app.credentials.tokens import create_access_token
from app.ratelimit.login_throttle import TOO_MANY_ATTEMPTS
from app.ratelimit.signup_throttle import TOO_MANY_SIGNUPS
from app.users.dependencies import require_roles
from app.users.models import User
from app.users.repository import UserRepository
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD, add_user, bearer, login, session_token

LOGGERS = ("app.users", "app.auth", "app.ratelimit.login", "app.ratelimit.signup")
LOGIN = "/api/v1/auth/login"
SIGNUP = "/api/v1/users"
ME = "/api/v1/users/me"
LOGOUT = "/api/v1/auth/logout"
WRONG = "wrong password entirely"  # pragma: allowlist secret


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the loggers above, whatever the root logger's configuration."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler.records
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


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


def _details(response) -> dict:
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) == error["details"]["retry_after"] > 0
    return {"message": error["message"], **error["details"]}


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


async def test_login_throttle_logs_who_was_throttled_and_answers_the_429_details(
    make_app: Callable[..., FastAPI], records: list[logging.LogRecord]
) -> None:
    """``auth.login`` throttled ``by`` subject (one account from many IPs), then ``by`` ip
    (one IP across accounts), on the login throttle's logger; each 429 says the budget's
    ``retry_after`` in ``details`` and ``Retry-After``."""
    app = make_app(
        login_max_failures_per_account=2,
        login_max_failures_per_ip=3,
        login_window_seconds=600,
        trusted_proxies=["127.0.0.1/32"],
    )

    async def attempt(email: str, ip: str):
        form = {"username": email, "password": WRONG}
        return await client.post(LOGIN, data=form, headers={"X-Forwarded-For": ip})

    async with serve(app) as client:
        await add_user(app, "victim@example.com")
        by_subject = [await attempt("victim@example.com", f"198.51.100.{i}") for i in range(3)]
        by_ip = [await attempt(f"x{i}@example.com", "203.0.113.7") for i in range(4)]
    assert [r.status_code for r in by_subject] == [401, 401, 429]
    assert [r.status_code for r in by_ip] == [401, 401, 401, 429]
    for refused in (by_subject[-1], by_ip[-1]):
        details = _details(refused)
        assert details["message"] == TOO_MANY_ATTEMPTS
        assert 1 <= details.pop("retry_after") <= 600
        assert details == {"message": TOO_MANY_ATTEMPTS}
    throttled = [r for r in records if getattr(r, "outcome", None) == "throttled"]
    assert [(r.name, r.getMessage(), r.event, r.by) for r in throttled] == [
        ("app.ratelimit.login", "attempts throttled", "auth.login", "subject"),
        ("app.ratelimit.login", "attempts throttled", "auth.login", "ip"),
    ]


async def test_signup_throttle_logs_and_answers_the_429_details(
    make_app: Callable[..., FastAPI], records: list[logging.LogRecord]
) -> None:
    """``users.create`` throttled on the sign-up throttle's logger; the 429 names the sign-up
    budget and its ``retry_after``. The budget is per IP: another address still signs up."""
    app = make_app(signup_max_per_ip=1, signup_window_seconds=600)
    async with serve(app) as client:
        first = await client.post(SIGNUP, json={"email": "a@example.com", "password": WRONG})
        second = await client.post(SIGNUP, json={"email": "b@example.com", "password": WRONG})
    assert first.status_code == 201
    details = _details(second)
    assert 1 <= details.pop("retry_after") <= 600
    assert details == {"message": TOO_MANY_SIGNUPS}
    line = [r for r in records if r.name == "app.ratelimit.signup"]
    assert [(r.getMessage(), r.event, r.outcome) for r in line] == [
        ("sign-ups throttled", "users.create", "throttled")
    ]


async def test_rate_limit_429_details_name_the_limit(make_app: Callable[..., FastAPI]) -> None:
    """The API rate limit's 429 envelope: ``details`` = the limit and ``retry_after``."""
    app = make_app(rate_limit_enabled=True, rate_limit_requests=1, rate_limit_window_seconds=60)
    async with serve(app) as client:
        answers = [await client.get("/api/v1/users/me") for _ in range(2)]
    details = _details(answers[-1])
    assert details.pop("limit") == 1
    assert 1 <= details.pop("retry_after") <= 60
    assert set(details) == {"message"}


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
