"""Health endpoints: legacy ``/health`` and ``/api/v1/health/{live,ready}`` (ADR-0001).

Every probe answers ``HEAD`` as well as ``GET`` (uptime monitors and load balancers
probe with ``HEAD``): the same endpoint, so the same status and headers, with the body
dropped by the outermost guard. The ``HEAD`` routes stay out of the OpenAPI schema:
``HEAD`` is implicit in HTTP for any ``GET`` (RFC 9110), a second operation per probe
would only duplicate it, and schemathesis treats ``HEAD`` as implicit too.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.container import ContainerDep
from app.core.paths import HEALTH_PREFIX, LEGACY_HEALTH_PATH
from app.health.checks import readiness
from app.health.schemas import HealthStatus, Readiness

#: Mounted at the root: the legacy probe whose body is a contract (ADR-0001).
legacy_router = APIRouter(tags=["health"])
#: Mounted under ``/api/v1``.
router = APIRouter(prefix=HEALTH_PREFIX, tags=["health"])

_OK = HealthStatus()


@legacy_router.get(
    LEGACY_HEALTH_PATH, operation_id="health_legacy", summary="Legacy liveness probe"
)
async def health() -> HealthStatus:
    """Always ``{"status": "ok"}`` while the process serves requests."""
    return _OK


@router.get("/live", operation_id="health_live", summary="Liveness probe")
async def live() -> HealthStatus:
    """The process is up. Checks no dependency, so a database outage never restarts pods."""
    return _OK


@router.get(
    "/ready",
    operation_id="health_ready",
    summary="Readiness probe",
    responses={503: {"model": Readiness, "description": "The database is unavailable."}},
)
async def ready(app: ContainerDep, response: Response) -> Readiness:
    """Database and (if configured) Redis reachable within the check timeout.

    200 ``ok``; 200 ``degraded`` when only Redis fails; 503 ``error`` when the database fails.
    """
    timeout = app.settings.health_check_timeout_seconds
    result = await readiness(app.database, app.redis.client, timeout)
    if result.status == "error":
        response.status_code = 503
    return result


# HEAD on every probe: the GET endpoint itself, outside the schema (see the module docstring).
legacy_router.add_api_route(LEGACY_HEALTH_PATH, health, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/live", live, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/ready", ready, methods=["HEAD"], include_in_schema=False)
