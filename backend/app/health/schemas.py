"""Response bodies of the health endpoints (ADR-0001)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CheckStatus = Literal["ok", "error"]


class HealthStatus(BaseModel):
    """Liveness: the process is up. Always exactly ``{"status": "ok"}``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Readiness: each dependency's state. ``redis`` appears only when Redis is configured."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "checks": {"db": "ok", "redis": "ok"}}]}
    )

    status: Literal["ok", "degraded", "error"] = Field(
        description=(
            "ok: all checks pass; degraded: only the optional Redis fails; "
            "error: the database fails."
        )
    )
    checks: dict[str, CheckStatus] = Field(examples=[{"db": "ok", "redis": "ok"}])
