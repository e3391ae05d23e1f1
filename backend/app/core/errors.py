"""The one error envelope and the handlers that produce it (ADR-0005).

Every error response on every route has the body
``{"error": {"code", "message", "request_id", "details"}}`` and the
``X-Request-ID`` header. Domain code raises :class:`AppError` subclasses;
the handlers here turn them, framework errors and validation errors into the
envelope. Unexpected exceptions are caught by the outermost guard
(:mod:`app.core.middleware`) and become a 500 that leaks nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from app.core.request_context import get_request_id, new_request_id

logger = logging.getLogger("app.errors")

#: Stable machine-readable codes, by HTTP status.
ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

DEFAULT_MESSAGES: dict[int, str] = {
    400: "The request could not be parsed.",
    401: "Not authenticated.",
    403: "You do not have permission to perform this action.",
    404: "The requested resource was not found.",
    405: "Method not allowed.",
    409: "The request conflicts with the current state of the resource.",
    412: "The resource has changed since you read it: read it again.",
    413: "The request body is too large.",
    415: "Unsupported media type.",
    422: "The request is invalid.",
    428: "This request must be conditional: send If-Match with the ETag you read.",
    429: "Too many requests.",
    500: "An internal error occurred.",
    503: "The service is temporarily unavailable.",
}


class ErrorBody(BaseModel):
    """The inner object of the error envelope."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    code: str = Field(description="Stable machine-readable error code.", examples=["not_found"])
    message: str = Field(description="Human-readable summary; never contains internals.")
    request_id: str = Field(description="Equals the X-Request-ID response header.")
    details: Any = Field(
        default=None, description="Optional structured details (e.g. field errors)."
    )


class ErrorEnvelope(BaseModel):
    """Every error response body."""

    error: ErrorBody


class AppError(Exception):
    """Base class for errors that map onto the envelope. Subclasses set ``status_code``."""

    status_code: int = 500

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or DEFAULT_MESSAGES[self.status_code]
        self.details = details
        self.headers = dict(headers or {})
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return ERROR_CODES[self.status_code]


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PreconditionFailed(AppError):
    """``If-Match`` named a version that is no longer current (a lost update avoided)."""

    status_code = 412


class PreconditionRequired(AppError):
    """A write that must be conditional came without ``If-Match``."""

    status_code = 428


class PayloadTooLarge(AppError):
    status_code = 413


class RateLimited(AppError):
    status_code = 429


class ServiceUnavailable(AppError):
    status_code = 503


def error_response(
    status_code: int,
    message: str | None = None,
    *,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> Response:
    """Render the envelope. The body's ``request_id`` always equals the header's."""
    request_id = get_request_id() or new_request_id()
    body = {
        "error": {
            "code": code or ERROR_CODES.get(status_code, "error"),
            "message": message or DEFAULT_MESSAGES.get(status_code, "Error."),
            "request_id": request_id,
            "details": details,
        }
    }
    # X-Request-ID is added by the outermost guard (app.core.middleware), one place only.
    out_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-length"}
    return Response(
        json.dumps(body, separators=(",", ":"), default=str, allow_nan=False),
        status_code=status_code,
        headers=out_headers,
        media_type="application/json",
    )


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Field errors without the submitted input (E2): only ``loc``, ``msg`` and ``type``."""
    return [
        {
            "loc": [
                part if isinstance(part, int | str) else str(part) for part in err.get("loc", ())
            ],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]


def render_exception(exc: Exception) -> Response:
    """The envelope for an :class:`AppError` or HTTP exception; anything else is a bare 500."""
    if isinstance(exc, AppError):
        return error_response(
            exc.status_code, exc.message, details=exc.details, headers=exc.headers, code=exc.code
        )
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code if exc.status_code in ERROR_CODES else 500
        return error_response(status, headers=exc.headers)
    return error_response(500)


class RequestBodyTooLarge(StarletteHTTPException):
    """Raised while reading a body over the limit. An ``HTTPException`` so FastAPI's body
    parser re-raises it instead of turning it into a generic 400."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


def allowed_methods(request: Request) -> str:
    """Every method the request's path supports, over *all* routes of that path.

    Starlette's 405 lists only the methods of the first route whose path matched, so
    ``GET`` + ``POST`` on one path defined as two routes would answer ``Allow: POST``
    (schemathesis ``allow_header_conformance``, ADR-0021).
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _render(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
        allow = allowed_methods(request)
        if allow:
            exc.headers = {**(exc.headers or {}), "Allow": allow}
    return render_exception(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(400, "The request body is not valid JSON.")
    return error_response(422, details=validation_details(errors))


def install_error_handlers(app: FastAPI) -> None:
    """Register the envelope handlers on ``app``."""
    app.add_exception_handler(AppError, _render)
    app.add_exception_handler(StarletteHTTPException, _render)
    app.add_exception_handler(RequestValidationError, _validation_error)


#: The OpenAPI header object for ``Retry-After`` (seconds), on 429 and busy 503 answers.
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer"},
}


def error_responses(
    *statuses: int, retry_after: Sequence[int] = ()
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring the envelope for ``statuses``; those in
    ``retry_after`` also declare the ``Retry-After`` header."""
    return {
        status: {
            "model": ErrorEnvelope,
            "description": DEFAULT_MESSAGES[status],
            **({"headers": {"Retry-After": RETRY_AFTER_HEADER}} if status in retry_after else {}),
        }
        for status in statuses
    }
