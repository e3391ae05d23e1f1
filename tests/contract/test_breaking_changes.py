"""The breaking-change guard and schema validity (ADR-0021).

* the app's schema is valid OpenAPI (``openapi-spec-validator``);
* the app's schema has no unrecorded breaking change against the release snapshot;
* the checker catches each kind of breaking change planted in a schema, ignores
  additive changes, and honours ``breaking:`` lines of accepted ADRs only.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.contract import breaking
from tests.contract.breaking import Change, find_breaking_changes

Schema = dict[str, Any]


def _base() -> Schema:
    """A small release: read (path + query params, nested 2xx body) and create (JSON body)."""
    user = {
        "type": "object",
        "required": ["id", "email"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string"},
            "profile": {"$ref": "#/components/schemas/Profile"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/users/{user_id}": {
                "get": {
                    "operationId": "users_get",
                    "parameters": [
                        {"name": "user_id", "in": "path", "required": True, "schema": {}},
                        {"name": "fields", "in": "query", "required": False, "schema": {}},
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/User"}
                                }
                            },
                        },
                        "404": {"description": "missing"},
                    },
                }
            },
            "/users": {
                "post": {
                    "operationId": "users_create",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/UserCreate"}
                            }
                        },
                    },
                    "responses": {"201": {"description": "created"}},
                }
            },
        },
        "components": {
            "schemas": {
                "User": user,
                "Profile": {"type": "object", "properties": {"name": {"type": "string"}}},
                "UserCreate": {
                    "type": "object",
                    "required": ["email"],
                    "properties": {"email": {"type": "string"}, "nickname": {"type": "string"}},
                },
            }
        },
    }


def _remove_operation(s: Schema) -> None:
    del s["paths"]["/users"]["post"]


def _remove_response(s: Schema) -> None:
    del s["paths"]["/users/{user_id}"]["get"]["responses"]["404"]


def _new_required_param(s: Schema) -> None:
    s["paths"]["/users/{user_id}"]["get"]["parameters"].append(
        {"name": "X-Tenant", "in": "header", "required": True, "schema": {}}
    )


def _param_becomes_required(s: Schema) -> None:
    s["paths"]["/users/{user_id}"]["get"]["parameters"][1]["required"] = True


def _new_required_body_field(s: Schema) -> None:
    s["components"]["schemas"]["UserCreate"]["required"].append("nickname")


def _remove_response_field(s: Schema) -> None:
    del s["components"]["schemas"]["User"]["properties"]["email"]


def _remove_nested_response_field(s: Schema) -> None:
    del s["components"]["schemas"]["Profile"]["properties"]["name"]


PLANTED: list[tuple[Callable[[Schema], None], Change]] = [
    (_remove_operation, Change("users_create", "removed-operation", "POST /users")),
    (_remove_response, Change("users_get", "removed-response", "404")),
    (_new_required_param, Change("users_get", "new-required-parameter", "header:X-Tenant")),
    (_param_becomes_required, Change("users_get", "new-required-parameter", "query:fields")),
    (_new_required_body_field, Change("users_create", "new-required-body-field", "nickname")),
    (_remove_response_field, Change("users_get", "removed-response-field", "email")),
    (_remove_nested_response_field, Change("users_get", "removed-response-field", "profile.name")),
]


def _changed(mutate: Callable[[Schema], None]) -> Schema:
    schema = copy.deepcopy(_base())
    mutate(schema)
    return schema


@pytest.mark.parametrize(("mutate", "expected"), PLANTED, ids=[c.kind for _, c in PLANTED])
def test_each_kind_of_breaking_change_is_caught(
    mutate: Callable[[Schema], None], expected: Change
) -> None:
    assert find_breaking_changes(_base(), _changed(mutate)) == [expected]


def _additive(s: Schema) -> None:
    op = s["paths"]["/users/{user_id}"]["get"]
    op["parameters"].append({"name": "page", "in": "query", "required": False, "schema": {}})
    op["responses"]["401"] = {"description": "auth"}
    s["components"]["schemas"]["User"]["properties"]["created_at"] = {"type": "string"}
    s["components"]["schemas"]["UserCreate"]["properties"]["bio"] = {"type": "string"}
    s["components"]["schemas"]["UserCreate"]["required"] = []  # relaxing is fine
    s["paths"]["/users"]["get"] = {"operationId": "users_list", "responses": {}}


def test_additive_changes_are_not_breaking() -> None:
    assert find_breaking_changes(_base(), _base()) == []
    assert find_breaking_changes(_base(), _changed(_additive)) == []


def _adr(folder: Path, name: str, status: str, lines: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(
        f"---\nstatus: {status}\ndate: 2026-11-22\n---\n# Title\n\n{lines}\n", encoding="utf-8"
    )


def test_only_breaks_recorded_in_accepted_adrs_are_allowed(tmp_path: Path) -> None:
    adrs = tmp_path / "adr"
    _adr(
        adrs,
        "0100-drop-email.md",
        "accepted",
        "- `breaking: users_get removed-response-field email`",
    )
    _adr(adrs, "0101-drop-create.md", "proposed", "breaking: users_create removed-operation")
    _adr(adrs, "0102-any-change.md", "accepted", "breaking: users_other *")
    records = breaking.recorded_breaks(adrs)
    assert set(records) == {
        Change("users_get", "removed-response-field", "email"),
        Change("users_other", "*"),
    }
    email = Change("users_get", "removed-response-field", "email")
    other_field = Change("users_get", "removed-response-field", "id")
    create = Change("users_create", "removed-operation", "POST /users")
    anything = Change("users_other", "removed-response", "200")
    assert breaking.unrecorded([email, other_field, create, anything], records) == [
        other_field,
        create,
    ]


def test_command_line_fails_on_unrecorded_and_passes_once_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release, current = tmp_path / "release.json", tmp_path / "current.json"
    release.write_text(json.dumps(_base()))
    current.write_text(json.dumps(_changed(_remove_response_field)))
    args = ["--release", str(release), "--current", str(current), "--adr-dir", str(tmp_path)]
    assert breaking.main(args) == 1
    assert "breaking: users_get removed-response-field email" in capsys.readouterr().out
    _adr(tmp_path, "0100-x.md", "accepted", "breaking: users_get removed-response-field email")
    assert breaking.main(args) == 0


def test_app_schema_is_valid_openapi(app: FastAPI) -> None:
    from openapi_spec_validator import validate  # a heavy import, only here

    validate(app.openapi())


def test_no_unrecorded_breaking_change_since_the_release(app: FastAPI) -> None:
    """The committed release snapshot vs what the app serves now."""
    release = json.loads((breaking.REPO / breaking.RELEASE_SNAPSHOT).read_text(encoding="utf-8"))
    changes = find_breaking_changes(release, app.openapi())
    missing = breaking.unrecorded(changes, breaking.recorded_breaks(breaking.REPO / "adr"))
    assert missing == [], "\n".join(f"breaking: {change}" for change in missing)
