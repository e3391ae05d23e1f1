"""Rendering the error envelope, called directly (ADR-0005, ADR-0021; SECURITY E2).

The helpers behind every error answer, on inputs the app's own paths rarely produce: an
error dict of any shape, a status without its own code, headers the caller passed, a
value JSON cannot carry; and the OpenAPI declaration of the envelope. The same
envelope through the running app: tests/integration/test_error_contract.py.
"""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI

from app.core.errors import (
    RETRY_AFTER_HEADER,
    error_response,
    error_responses,
    validation_details,
)


def test_error_responses_declare_the_envelope_and_retry_after() -> None:
    """``error_responses(...)`` declares the envelope for each status with its default
    message, and ``Retry-After`` only on the statuses named in ``retry_after`` (called
    here, at test time, rather than by a route declared at import)."""
    demo = FastAPI()

    @demo.get("/missing", responses=error_responses(404, 429, retry_after=[429]))
    async def lookup() -> None:
        """A lookup."""

    responses = demo.openapi()["paths"]["/missing"]["get"]["responses"]
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    assert responses["404"] == {
        "description": "The requested resource was not found.",
        "content": envelope,
    }
    assert responses["429"] == {
        "description": "Too many requests.",
        "content": envelope,
        "headers": {"Retry-After": RETRY_AFTER_HEADER},
    }


def test_validation_details_keep_loc_msg_and_type_of_any_error_shape() -> None:
    """Only ``loc``, ``msg`` and ``type`` leave (E2), as JSON-safe values, whatever the
    error dict holds: a location part that is not a string or index becomes text, and a
    missing field is empty rather than a 500."""
    odd = [
        {"loc": ("body", 0, b"raw"), "msg": "bad", "type": "t", "input": "s3cret", "ctx": {}},
        {"msg": 3},
        {"type": 4},
    ]
    assert validation_details(odd) == [
        {"loc": ["body", 0, "b'raw'"], "msg": "bad", "type": "t"},
        {"loc": [], "msg": "3", "type": ""},
        {"loc": [], "msg": "", "type": "4"},
    ]


def test_an_unmapped_status_still_gets_a_whole_envelope() -> None:
    """A status without its own code or message (418 here) answers ``error`` / ``Error.``;
    a caller's ``Content-Length`` is dropped (the body's own is sent); and a value JSON
    cannot carry (NaN) is refused while rendering, never sent as invalid JSON."""
    response = error_response(418, headers={"Content-Length": "5", "X-Extra": "kept"})
    error = json.loads(response.body)["error"]
    assert (error["code"], error["message"]) == ("error", "Error.")
    assert response.headers["x-extra"] == "kept"
    assert response.headers["content-length"] == str(len(response.body))
    with pytest.raises(ValueError):
        error_response(422, details=[{"value": float("nan")}])
