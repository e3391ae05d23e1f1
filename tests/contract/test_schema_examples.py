"""No example in the OpenAPI schema fails its schema; every body has one (ADR-0040)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from fastapi import FastAPI

from tests.contract.examples import check_examples

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs/reference/openapi.json"


def test_every_schema_example_is_valid_and_errors_show_their_own_code(app: FastAPI) -> None:
    assert check_examples(app.openapi()) == []
    assert check_examples(json.loads(SNAPSHOT.read_text(encoding="utf-8"))) == []


def test_the_reference_examples_are_the_documented_ones(app: FastAPI) -> None:
    """``GET /health`` shows ``{"status":"ok"}``, login a password-grant form, each error
    its own code (the HTTP reference and Swagger UI render these)."""
    paths = app.openapi()["paths"]
    health = paths["/health"]["get"]["responses"]["200"]["content"]["application/json"]
    assert health["example"] == {"status": "ok"}
    login = paths["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert list(login) == ["application/x-www-form-urlencoded"]
    assert login["application/x-www-form-urlencoded"]["example"]["grant_type"] == "password"
    me = paths["/api/v1/users/me"]["get"]["responses"]
    codes = {
        s: r["content"]["application/json"]["example"]["error"]["code"]
        for s, r in me.items()
        if s != "200"
    }
    assert codes["401"] == "unauthorized"
    assert codes["413"] == "payload_too_large"
    assert codes["503"] == "service_unavailable"
    scheme = app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert "Authorization: Bearer <access_token>" in scheme["description"]


def test_planted_bad_examples_are_reported(app: FastAPI) -> None:
    """Planted drift: a wrong type in a model example, an error example with another
    status's code, a response without an example, a bad parameter example."""
    schema = copy.deepcopy(app.openapi())
    schema["components"]["schemas"]["HealthStatus"]["examples"] = [{"status": "string"}]
    me = schema["paths"]["/api/v1/users/me"]["get"]["responses"]
    me["401"]["content"]["application/json"]["example"]["error"]["code"] = "not_found"
    del me["200"]["content"]["application/json"]["example"]
    items = schema["paths"]["/api/v1/items"]["get"]
    limit = next(p for p in items["parameters"] if p["name"] == "limit")
    limit["schema"]["examples"] = [0]

    problems = check_examples(schema)

    assert any(
        p.startswith("components.schemas.HealthStatus.examples[0] fails its schema: status:")
        for p in problems
    ), problems
    assert (
        "GET /api/v1/users/me 401 response (application/json) example shows code "
        "'not_found'; a 401 is 'unauthorized'" in problems
    )
    assert any(
        p.startswith("GET /api/v1/users/me 200 response (application/json) has no example")
        for p in problems
    )
    assert any(p.startswith("GET /api/v1/items parameters[") for p in problems), problems
    assert len(problems) == 4, problems
