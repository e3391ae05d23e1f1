"""Route constants: the versioned prefix and the probe paths (ADR-0002, ADR-0001).

Every router, the rate limit's scope (ADR-0024) and the tracing exclusion (ADR-0026)
take their paths from here, so a probe is the same path everywhere.
"""

from __future__ import annotations

#: The versioned public surface. Domain routers put it in their own ``prefix`` so
#: ``scope["route"].path_format`` is the full route template (ADR-0002); ``/api/v2``
#: would be a second constant next to it.
API_V1_PREFIX = "/api/v1"
#: The probes: legacy ``/health`` and ``/api/v1/health/{live,ready}`` (ADR-0001).
LEGACY_HEALTH_PATH = "/health"
HEALTH_PREFIX = f"{API_V1_PREFIX}/health"
#: Prometheus scrape endpoint (``METRICS_ENABLED``), outside the versioned surface.
METRICS_PATH = "/metrics"


def is_probe_path(path: str) -> bool:
    """``/health`` or ``/api/v1/health/...``: the probes, the only paths outside the rate
    limit (ADR-0024) and never traced (ADR-0026). ``/api/v1/healthz`` is not one."""
    return path in (LEGACY_HEALTH_PATH, HEALTH_PREFIX) or path.startswith(f"{HEALTH_PREFIX}/")
