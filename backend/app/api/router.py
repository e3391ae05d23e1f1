"""Router assembly: the legacy (unversioned) surface and ``/api/v1`` (ADR-0002).

Each domain router carries its full prefix (``API_V1_PREFIX`` + its own), so
this module only lists routers and adds no prefixes: FastAPI then records the
full route template in ``scope["route"].path_format`` for logs and metrics. A future
``/api/v2`` is a second list next to ``V1_ROUTERS``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from app.auth import account_routes as me
from app.auth import recovery_routes as recovery
from app.auth import routes as auth
from app.health import routes as health
from app.items import routes as items
from app.users import routes as users

#: Unversioned routes kept for compatibility (``/health``; legacy auth aliases).
LEGACY_ROUTERS: list[APIRouter] = [health.legacy_router, auth.legacy_router]
#: The public ``/api/v1`` surface (``me``: self-service on ``/users/me``, app.auth).
V1_ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    recovery.router,
    me.router,
    users.router,
    items.router,
]


def include_routers(app: FastAPI) -> None:
    """Include every router directly on ``app``.

    Directly, not through one umbrella router: FastAPI resolves included routers per
    request, so each extra level of nesting costs every request (docs/performance.md).
    """
    for router in (*LEGACY_ROUTERS, *V1_ROUTERS):
        app.include_router(router)
