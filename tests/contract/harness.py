"""Run schemathesis' engine in-process over an ASGI app and collect what it reports.

The same engine the ``schemathesis run`` CLI drives (``make fuzz``), so the in-process
suite runs every phase (examples, coverage, fuzzing, stateful) and every check,
including ``ignored_auth`` and ``object_level_authorization`` (which needs several
identities: a Web Fuzzing Commons auth document with ``peers``).

Schemathesis runs the app's lifespan itself, in its own event-loop thread, the first
time it sends a request (``schemathesis.python.asgi``); :func:`stop_lifespans` ends it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# schemathesis is imported where it is used: collecting the suite (every xdist worker
# does) then costs no schemathesis import; only a worker that runs a contract test
# pays for it. ``hooks`` registers the generation filters.

#: The login operation (OAuth2 password flow, form-encoded; ADR-0018).
LOGIN_PATH = "/api/v1/auth/login"
SIGNUP_PATH = "/api/v1/users"


@dataclass(frozen=True)
class Identity:
    """A user the fuzzer logs in as."""

    name: str
    email: str
    password: str


#: Two ordinary users: ``object_level_authorization`` replays one's reads as the other.
PEERS = (
    Identity(
        "alice", "alice@contract.example.com", "alice-Contract-pass-1"
    ),  # pragma: allowlist secret
    Identity("bob", "bob@contract.example.com", "bob-Contract-pass-2"),  # pragma: allowlist secret
)

#: Operations only a superuser gets past 403: fuzzed in a second pass as ``admin``.
ADMIN_ONLY_OPERATION_IDS = ("users_list", "users_delete")
#: The admin pass: the admin-only operations plus what their links need, so the stateful
#: phase can create -> read -> delete -> read again (``use_after_free``). It runs after
#: the peers' pass: it may delete any user but itself.
ADMIN_PASS_OPERATION_IDS = (*ADMIN_ONLY_OPERATION_IDS, "users_create", "users_get")
#: Statuses a schema-valid request may still get (``positive_data_acceptance``): the
#: default list plus the precondition statuses of conditional writes (ADR-0033): a
#: well-formed but stale ``If-Match`` is 412, a missing one 428 when required, exactly as
#: a well-formed duplicate is 409. ``schemathesis.toml`` lists the same (a test checks).
POSITIVE_DATA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "412", "428", "429", "5xx"]
#: Operations taking a mailed token: a schema-valid token that was never issued is 400
#: ``invalid_token`` (ADR-0038); only these accept 400 for valid data (schemathesis.toml too).
TOKEN_OPERATIONS = ["auth_password_reset_confirm", "auth_verify_email"]
TOKEN_OPERATION_STATUSES = ["2xx", "3xx", "400", *POSITIVE_DATA_STATUSES[2:]]
#: A superuser, for the admin-only operations; never a peer (it may read everyone).
ADMIN = Identity(
    "admin", "admin@contract.example.com", "admin-Contract-pass-3"
)  # pragma: allowlist secret


def wfc_document(identities: tuple[Identity, ...], login_path: str = LOGIN_PATH) -> dict[str, Any]:
    """A Web Fuzzing Commons auth document: log in through the API, send ``Bearer <token>``."""
    return {
        "schemaVersion": "0.2.0",
        "auth": [
            {
                "name": identity.name,
                "loginEndpointAuth": {
                    "endpoint": login_path,
                    "verb": "POST",
                    "contentType": "application/x-www-form-urlencoded",
                    "payloadUserPwd": {
                        "username": identity.email,
                        "password": identity.password,  # pragma: allowlist secret
                        "usernameField": "username",
                        "passwordField": "password",  # pragma: allowlist secret
                    },
                    "token": {
                        "extractFrom": "body",
                        "extractSelector": "/access_token",
                        "sendIn": "header",
                        "sendName": "Authorization",
                        "sendTemplate": "Bearer {token}",
                    },
                },
            }
            for identity in identities
        ],
    }


def write_wfc(path: Path, identities: tuple[Identity, ...] = PEERS) -> Path:
    path.write_text(json.dumps(wfc_document(identities), indent=2), encoding="utf-8")
    return path


def sign_up(app: Any, identities: tuple[Identity, ...] = PEERS) -> None:
    """Create ``identities`` through the public sign-up endpoint (starts the app's lifespan)."""
    from schemathesis.python import asgi

    with asgi.get_client(app) as client:
        for identity in identities:
            response = client.post(
                SIGNUP_PATH, json={"email": identity.email, "password": identity.password}
            )
            assert response.status_code == 201, response.text


def create_superuser(settings: Any, identity: Identity = ADMIN) -> None:
    """Create ``identity`` as a superuser directly in the database (no API can)."""
    from app.credentials.passwords import PasswordHasher, default_context
    from app.db.engine import Database
    from app.users.service import UserService

    async def create() -> None:
        db = Database(settings)
        try:
            async with db.sessionmaker() as session:
                service = UserService(session, PasswordHasher(default_context(), 1))
                await service.create_superuser(identity.email, identity.password)
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(create())


def delete_users_except_peers(database_url: str, keep: tuple[Identity, ...] = PEERS) -> None:
    """Reset state between examples: every owned resource (any table with an ``owner_id``,
    so a scaffolded domain is covered the day it exists) and every user the fuzzer
    created, keeping ``keep``."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.models import Base
    from app.users.models import User

    owned = [table for table in Base.metadata.sorted_tables if "owner_id" in table.c]

    async def delete() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                for table in owned:
                    await conn.execute(sa.delete(table))
                await conn.execute(
                    sa.delete(User).where(User.email.not_in([i.email for i in keep]))
                )
        finally:
            await engine.dispose()

    asyncio.run(delete())


def stop_lifespans() -> None:
    """End the lifespans schemathesis started, while the test's fixtures still exist."""
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


@dataclass
class Report:
    """What one run found: check failures (by class name) and errors."""

    failures: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    scenarios: int = 0

    @property
    def failure_types(self) -> set[str]:
        return {kind for kind, _, _ in self.failures}

    def describe(self) -> str:
        lines = [f"{kind} on {label}\n{sample}" for kind, label, sample in self.failures]
        return "\n\n".join([*lines, *self.errors]) or "no failures"


def load_schema(app: Any, config: dict[str, Any]) -> Any:
    """The app's live ``/openapi.json`` as a schemathesis schema, with ``config`` applied."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    from tests.contract import hooks  # noqa: F401 - registers the generation filters

    return schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=SchemathesisConfig.from_dict(config)
    )


def run(
    app: Any,
    config: dict[str, Any],
    *,
    path_regex: str | None = None,
    operation_ids: tuple[str, ...] | None = None,
) -> Report:
    """Run every configured phase and check over ``app``; never raises on check failures.

    ``path_regex`` / ``operation_ids`` limit the run to the matching operations.
    """
    from schemathesis.engine import Status, events, from_schema

    report = Report()
    seen: set[tuple[str, str, str]] = set()

    def collect(recorder: Any) -> None:
        report.scenarios += 1
        for case_id, checks in recorder.checks.items():
            for node in checks:
                if node.status == Status.FAILURE and node.failure_info is not None:
                    failure = node.failure_info.failure
                    interaction = recorder.interactions.get(case_id)
                    response = getattr(interaction, "response", None)
                    body = getattr(response, "content", None) or b""
                    answer = f"-> {getattr(response, 'status_code', '?')} {body[:300]!r}"
                    item = (
                        type(failure).__name__,
                        failure.operation,
                        f"{failure.title}: {failure.message}\n"
                        f"{node.failure_info.code_sample}\n{answer}",
                    )
                    if item not in seen:
                        seen.add(item)
                        report.failures.append(item)

    schema = load_schema(app, config)
    if path_regex is not None:
        schema = schema.include(path_regex=path_regex)
    if operation_ids is not None:
        schema = schema.include(operation_id=list(operation_ids))
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            collect(event.recorder)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"error in {event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                report.failures.append((type(failure).__name__, failure.operation, failure.title))
    return report
