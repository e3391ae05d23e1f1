"""Docs drift of the API: the committed OpenAPI snapshot and the API page (ADR-0015).

The snapshot equals the schema the app serves, sorted and newline-terminated; every
operation has a description and a declared tag and the API page renders the snapshot.
Each check runs on the repository and on planted drift, to prove it fires and that its
message says how to fix it. The checkers live in :mod:`tests.docs.drift`.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI

from tests.docs import drift
from tests.docs.conftest import fail, read
from tests.docs.drift import REPO


def test_openapi_snapshot_matches_the_app(app: FastAPI) -> None:
    snapshot = REPO / drift.SNAPSHOT
    committed = snapshot.read_text(encoding="utf-8") if snapshot.is_file() else None
    problems = drift.check_openapi_snapshot(app.openapi(), committed)
    assert not problems, fail(problems)


def test_stale_snapshot_is_reported_with_the_fix(app: FastAPI) -> None:
    """Planted drift: a route added to the app but not to the snapshot."""
    committed = drift.render_schema(app.openapi())
    extra = APIRouter()

    @extra.get("/api/v1/planted", summary="Planted")
    async def planted() -> dict[str, str]:
        """Planted."""
        return {}

    app.include_router(extra)
    app.openapi_schema = None
    problems = drift.check_openapi_snapshot(app.openapi(), committed)
    assert len(problems) == 1
    assert "is stale" in problems[0]
    assert "+ GET /api/v1/planted" in problems[0]
    assert "run `make openapi`" in problems[0]
    assert "is missing" in drift.check_openapi_snapshot(app.openapi(), None)[0]


def test_every_operation_is_documented(app: FastAPI) -> None:
    problems = drift.check_api_docs(app.openapi(), read(drift.API_PAGE))
    assert not problems, fail(problems)


def test_undocumented_route_is_reported(app: FastAPI) -> None:
    """Planted drift: a route with no docstring, an undeclared tag, and an API page that
    no longer renders the snapshot."""
    extra = APIRouter()

    @extra.get("/api/v1/undocumented", tags=["nowhere"])
    async def undocumented() -> dict[str, str]:
        return {}

    app.include_router(extra)
    app.openapi_schema = None
    problems = drift.check_api_docs(app.openapi(), "# API\n")
    joined = "\n".join(problems)
    assert "GET /api/v1/undocumented has no description" in joined
    assert "give its route function a docstring" in joined
    assert "GET /api/v1/undocumented has tags ['nowhere']" in joined
    assert "[OAD(./openapi.json)]" in joined
    assert not any("/health" in p for p in problems)


def test_snapshot_is_sorted_and_newline_terminated() -> None:
    text = read(drift.SNAPSHOT)
    assert text.endswith("}\n")
    assert text == drift.render_schema(json.loads(text)), "run `make openapi`"
