"""The contract fuzzing has teeth: a deliberately broken variant of the app fails it (ADR-0021).

The real app plus three routes that lie about themselves, each caught by a different
schemathesis check of the same in-process run the contract suite uses:

* an undocumented status code -> ``status_code_conformance`` (``UndefinedStatusCode``);
* a body that violates its declared schema -> ``response_schema_conformance``
  (``JsonSchemaError``);
* a server error on some valid input -> ``not_a_server_error`` (``ServerError``);
* a read that checks authentication but not ownership (BOLA/IDOR) ->
  ``object_level_authorization`` (``ObjectLevelAuthorizationViolation``): alice reads
  her own user, bob gets the same object with his token (SECURITY A1).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.core.errors import NotFound, error_responses
from app.db.session import SessionDep
from app.users.dependencies import CurrentUser
from app.users.repository import UserRepository
from app.users.schemas import UserPublic
from tests.contract import harness

# no_cover (pytest-cov): no line tracing, which doubles the cost of a fuzzing run;
# what these prove is about the checks, not the app's lines.
pytestmark = [pytest.mark.slow, pytest.mark.no_cover]

BROKEN = "/api/v1/broken"


class Count(BaseModel):
    count: int


def break_app(app: FastAPI) -> FastAPI:
    """Add three lying operations to ``app`` (before its schema is first generated)."""

    @app.get(f"{BROKEN}/undocumented", operation_id="broken_undocumented_status")
    async def undocumented() -> JSONResponse:
        # 418 is declared nowhere: status_code_conformance must notice.
        return JSONResponse({"ok": True}, status_code=418)

    @app.get(f"{BROKEN}/schema", operation_id="broken_response_schema")
    async def wrong_shape() -> Count:
        # A raw response skips FastAPI's validation: the body breaks the declared model.
        return JSONResponse({"count": "not a number"})  # type: ignore[return-value]

    @app.get(f"{BROKEN}/crash", operation_id="broken_server_error")
    async def crash(n: Annotated[int, Query(ge=0, le=10)] = 0) -> Count:
        if n >= 0:  # every valid input
            raise RuntimeError("deliberate bug")
        return Count(count=n)

    @app.get(
        f"{BROKEN}/users/{{user_id}}",
        operation_id="broken_object_level_authorization",
        responses=error_responses(404),
    )
    async def leaky_read(user_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> UserPublic:
        # Authenticated, but never asks whether the caller may see this user.
        user = await UserRepository(session).get(user_id)
        if user is None:
            raise NotFound()
        return UserPublic.model_validate(user)

    return app


@pytest.fixture
def broken_app(make_app: Callable[..., FastAPI]) -> Iterator[FastAPI]:
    app = break_app(make_app(with_redis=False))
    yield app
    harness.stop_lifespans()


def test_broken_app_fails_the_contract_run(broken_app: FastAPI) -> None:
    """Each kind of lie is reported by its own check."""
    report = harness.run(
        broken_app,
        {"seed": 1, "generation": {"max-examples": 5}},
        path_regex=f"^{BROKEN}/(undocumented|schema|crash)$",
    )
    by_operation = {(kind, label) for kind, label, _ in report.failures}
    assert ("UndefinedStatusCode", f"GET {BROKEN}/undocumented") in by_operation, report.describe()
    assert ("JsonSchemaError", f"GET {BROKEN}/schema") in by_operation, report.describe()
    assert ("ServerError", f"GET {BROKEN}/crash") in by_operation, report.describe()


def test_a_leaky_read_fails_object_level_authorization(broken_app: FastAPI, tmp_path: Path) -> None:
    """Two peers, the same run as the real app's: bob reading alice's user is reported."""
    harness.sign_up(broken_app)
    wfc = harness.write_wfc(tmp_path / "wfc.json")
    report = harness.run(
        broken_app,
        {
            "seed": 1,
            "generation": {"max-examples": 8, "database": "none"},
            "phases": {"stateful": {"max-steps": 6}},
            "auth": {"wfc": {"path": str(wfc), "peers": ["alice", "bob"]}},
        },
        path_regex=f"^(/api/v1/users|{BROKEN}/users/)",
    )
    kinds = {(kind, label) for kind, label, _ in report.failures}
    assert (
        "ObjectLevelAuthorizationViolation",
        f"GET {BROKEN}/users/{{user_id}}",
    ) in kinds, report.describe()
