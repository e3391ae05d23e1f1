"""The shape of the application: entrypoint, versioned surface, middleware stack, the one
application container (ADR-0002, ADR-0006, ADR-0010, ADR-0032)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from uvicorn.importer import import_from_string

from app.container import Container
from app.core.middleware import RequestGuardMiddleware
from app.core.paths import API_V1_PREFIX

#: Unversioned paths allowed next to /api/v1 (ADR-0002).
LEGACY_PATHS = {"/health", "/auth/login", "/auth/me"}
#: Framework-served paths (docs UI and schema).
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def test_uvicorn_entrypoint_is_app_main_app() -> None:
    """`uvicorn app.main:app` resolves to a FastAPI application (ADR-0010)."""
    app = import_from_string("app.main:app")
    assert isinstance(app, FastAPI)


def _api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """``(public path, route)`` for every API route, included routers too."""
    return [
        (context.path, context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def test_every_route_is_versioned_or_a_declared_legacy_alias(app: FastAPI) -> None:
    """Every API route lives under /api/v1 unless it is one of the legacy aliases (ADR-0002)."""
    routes = _api_routes(app)
    assert routes, "no API routes found"
    stray = [
        path
        for path, _ in routes
        if not path.startswith(f"{API_V1_PREFIX}/") and path not in LEGACY_PATHS
    ]
    assert stray == [], f"routes outside {API_V1_PREFIX}: {stray}"


def test_legacy_auth_aliases_are_deprecated_in_openapi(app: FastAPI) -> None:
    """The unversioned /auth/* aliases, where present, are marked deprecated (ADR-0002)."""
    paths = app.openapi()["paths"]
    for path in LEGACY_PATHS - {"/health"}:
        for operation in paths.get(path, {}).values():
            assert operation.get("deprecated") is True, path


def test_route_paths_are_full_templates(app: FastAPI) -> None:
    """Routers carry their full prefix: each route's own path is the public template, so
    ``scope["route"].path_format`` in logs and metrics (the path without convertors such
    as ``:not_me``) equals what clients call and the schema says (ADR-0002)."""
    routes = _api_routes(app)
    assert routes, "no API routes found"
    for public_path, route in routes:
        assert route.path == public_path, f"{public_path}: prefix added at include time"
    schema_paths = set(app.openapi()["paths"])
    assert {route.path_format for _, route in routes if route.include_in_schema} == schema_paths


def test_middleware_is_pure_asgi_and_the_guard_is_outermost(app: FastAPI) -> None:
    """No BaseHTTPMiddleware anywhere; the request guard wraps everything (ADR-0006)."""
    classes = [m.cls for m in app.user_middleware]
    assert classes, "the app has no middleware"
    for cls in classes:
        # By module, not by importing the class: nothing in the repo imports it at all.
        bases = {f"{c.__module__}.{c.__qualname__}" for c in inspect.getmro(cls)}
        assert "starlette.middleware.base.BaseHTTPMiddleware" not in bases, cls
    assert classes[0] is RequestGuardMiddleware


def _runs_on_the_event_loop(call: object) -> bool:
    """``async def`` (or an object with an ``async def __call__``): FastAPI awaits it
    instead of handing it to the threadpool."""
    for candidate in (call, getattr(call, "__call__", None)):  # noqa: B004 - instances too
        if inspect.iscoroutinefunction(candidate) or inspect.isasyncgenfunction(candidate):
            return True
    return False


def test_every_endpoint_and_dependency_is_async(app: FastAPI) -> None:
    """A plain ``def`` dependency runs in the threadpool on every request (a thread
    hand-off per call, ~1/3 of ``/users/me``'s cost before ADR-0030's fix), so every
    endpoint and dependency is ``async def``; blocking work goes to an explicit worker
    thread (password hashing, ADR-0017)."""
    sync: list[str] = []
    for path, route in _api_routes(app):
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            if dependant.call is not None and not _runs_on_the_event_loop(dependant.call):
                sync.append(f"{path}: {getattr(dependant.call, '__qualname__', dependant.call)}")
            pending.extend(dependant.dependencies)
    assert sync == [], f"sync endpoints/dependencies (make them async def): {sync}"


def test_app_state_holds_only_the_typed_container(app: FastAPI) -> None:
    """ADR-0032: ``app.state`` has exactly one key, the typed :class:`Container`, and the
    container is frozen (nothing is attached to it later, lazily or elsewhere)."""
    assert set(vars(app.state)["_state"]) == {"container"}
    container = app.state.container
    assert isinstance(container, Container)
    assert Container.__dataclass_params__.frozen  # type: ignore[attr-defined]


#: The modules that may read ``app.state``: the container's dependency, and the two
#: lowest layers, which read their own field because they cannot import ``app.container``.
STATE_READERS = {"container.py", "core/settings.py", "db/session.py", "main.py"}


def test_only_the_container_dependencies_touch_app_state() -> None:
    """ADR-0032: every other module reaches per-application objects through
    ``ContainerDep`` (or ``SettingsDep``/``SessionDep``), never ``request.app.state``."""
    app_dir = Path(__file__).resolve().parents[2] / "backend" / "app"
    offenders = []
    for path in sorted(app_dir.rglob("*.py")):
        name = path.relative_to(app_dir).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "state"
                and name not in STATE_READERS
            ):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == [], f"app.state read outside the container dependencies: {offenders}"
