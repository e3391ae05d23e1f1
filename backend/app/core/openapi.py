"""OpenAPI metadata (title, description, tags) and the app-wide error declarations.

:func:`declare_implicit_errors` makes the schema list every status an operation can
return, not only the ones its author thought of (ADR-0021, tests/contract/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.core.errors import DEFAULT_MESSAGES, ERROR_CODES, RETRY_AFTER_HEADER, ErrorEnvelope

DESCRIPTION = """\
A documentation-first, production-minded FastAPI backend.

* Every error uses one envelope: `{"error": {"code", "message", "request_id", "details"}}`.
* Every response carries `X-Request-ID`; send your own (1-128 chars of `[A-Za-z0-9._-]`)
  to correlate logs.
* Authenticated operations take `Authorization: Bearer <access_token>`, the token from
  `POST /api/v1/auth/login` (a form: `username=<email>&password=<password>&grant_type=password`).
* The public surface is `/api/v1`; `/health`, `/auth/login` and `/auth/me` are legacy aliases.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "auth", "description": "Login (OAuth2 password flow) and the current user."},
    {"name": "users", "description": "Sign-up and user lookup."},
    {"name": "items", "description": "Your items: the example owned resource."},
]

#: ``request_id`` of the error examples: what ``X-Request-ID`` carries when none was sent.
EXAMPLE_REQUEST_ID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#: ``details`` of the 422 example: the shape of ``app.core.errors.validation_details``.
VALIDATION_DETAILS_EXAMPLE = [
    {"loc": ["body", "email"], "msg": "value is not a valid email address", "type": "value_error"}
]


def error_example(status: int) -> dict[str, Any]:
    """The envelope as ``status`` returns it: its own code and default message."""
    return {
        "error": {
            "code": ERROR_CODES[status],
            "message": DEFAULT_MESSAGES[status],
            "request_id": EXAMPLE_REQUEST_ID,
            "details": VALIDATION_DETAILS_EXAMPLE if status == 422 else None,
        }
    }


def add_examples(schema: dict[str, Any]) -> None:
    """Give every request and response body without one an ``example``: an error's
    envelope for its status (:func:`error_example`), else the first of its model's
    ``examples`` (``model_config = ConfigDict(json_schema_extra={"examples": [...]})``).

    Swagger UI and the site's HTTP reference show these; ``tests/contract/
    test_schema_examples.py`` validates each against its schema (ADR-0040).
    """
    components = schema.get("components", {}).get("schemas", {})
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            bodies: list[tuple[str | None, Any]] = [(None, operation.get("requestBody", {}))]
            bodies += [(status, r) for status, r in operation.get("responses", {}).items()]
            for status, body in bodies:
                for media in body.get("content", {}).values():
                    if "example" in media or "examples" in media:
                        continue
                    ref = str(media.get("schema", {}).get("$ref", ""))
                    name = ref.rpartition("/")[2]
                    if name == "ErrorEnvelope" and status and int(status) in ERROR_CODES:
                        media["example"] = error_example(int(status))
                    elif components.get(name, {}).get("examples"):
                        media["example"] = components[name]["examples"][0]


# --- Errors every operation can return, whatever its author declared (ADR-0021) --------------
#: Returned by layers outside any route: the body limit (413) and the outermost guard (500).
ALWAYS_POSSIBLE: tuple[int, ...] = (413, 500)


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


#: An API route as the schema generator sees it (FastAPI >= 0.16x wraps included routes).
RouteLike = APIRoute | RouteContext


def api_routes(app: FastAPI) -> Iterator[RouteLike]:
    """Every API route of ``app``, including those of included routers."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def route_calls(route: RouteLike, call: Callable[..., Any]) -> bool:
    """True if ``call`` is among ``route``'s (transitive) dependencies."""
    return any(dep.call is call for dep in _walk(route.dependant))


def implicit_error_statuses(
    route: RouteLike,
    operation: Mapping[str, Any],
    *,
    uses_database: bool,
    rate_limited: bool = False,
) -> list[int]:
    """Statuses the framework and app-wide layers can give ``route``, derived from its shape.

    * 400 + 422: it has a body (malformed JSON / form -> 400, invalid -> 422);
    * 422: it has query, path, header or cookie parameters;
    * 401: it declares a security requirement (the auth dependency rejects);
    * 429: its path is in the general rate limit's scope (ADR-0024);
    * 503: it uses the database (outage -> ADR-0008's envelope);
    * 413 + 500: always (body-size limit, outermost error guard).
    """
    statuses = list(ALWAYS_POSSIBLE)
    params = [
        p
        for dep in _walk(route.dependant)
        for p in (*dep.path_params, *dep.query_params, *dep.header_params, *dep.cookie_params)
    ]
    if route.body_field is not None:
        statuses += [400, 422]
    elif params:
        statuses.append(422)
    if operation.get("security"):
        statuses.append(401)
    if rate_limited:
        statuses.append(429)
    if uses_database:
        statuses.append(503)
    return sorted(set(statuses))


def _envelope_ref(schema: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref`` to the envelope, adding it (and its parts) to ``components`` if absent."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorEnvelope" not in components:
        generated = ErrorEnvelope.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, definition in generated.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["ErrorEnvelope"] = generated
    return {"$ref": "#/components/schemas/ErrorEnvelope"}


def declare_implicit_errors(
    app: FastAPI,
    *,
    uses_database: Callable[[RouteLike], bool] = lambda _: False,
    rate_limited: Callable[[str], bool] = lambda _: False,
) -> None:
    """The one customisation of ``app.openapi()``: declare the envelope for every status an
    operation can return, derived from each route (see :func:`implicit_error_statuses`).

    Route authors declare their domain errors (403, 404, 409, ...) with
    :func:`app.core.errors.error_responses`; this adds the ones no route author
    controls. ``rate_limited(path_template)`` says whether the general rate limit covers
    a path; its 429 also declares ``Retry-After``. The schema does not depend on
    whether the limit is switched on: one schema for every deployment. Entries a route
    already declares are left untouched. Schemathesis' ``status_code_conformance`` fails
    on any status that is returned but not declared (tests/contract/).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        ref = _envelope_ref(schema)
        for route in api_routes(app):
            path = route.path_format
            if not route.include_in_schema or path is None:
                continue
            for method in route.methods or ():
                operation = schema.get("paths", {}).get(path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in implicit_error_statuses(
                    route,
                    operation,
                    uses_database=uses_database(route),
                    rate_limited=rate_limited(path),
                ):
                    entry = responses.setdefault(
                        str(status),
                        {
                            "description": DEFAULT_MESSAGES[status],
                            "content": {"application/json": {"schema": dict(ref)}},
                        },
                    )
                    if status == 429:
                        entry.setdefault("headers", {}).setdefault(
                            "Retry-After", RETRY_AFTER_HEADER
                        )
                operation["responses"] = dict(sorted(responses.items()))
        add_examples(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
