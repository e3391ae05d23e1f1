"""FastAPI's native OpenTelemetry traces and metrics, explicit and opt-in (ADR-0026).

With ``OPENTELEMETRY_ENABLED=false`` (the default) FastAPI does no per-request work for
OpenTelemetry at all; with ``true`` it exports through the standard ``OTEL_*``
variables. Health probes are never traced.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig

from app.core.paths import is_probe_path
from app.core.settings import Settings


def is_health_probe(scope: MutableMapping[str, Any]) -> bool:
    """``/health`` and ``/api/v1/health/*``: polled every few seconds, never traced."""
    return is_probe_path(scope.get("path", ""))


def native_telemetry_config(settings: Settings) -> TelemetryConfig:
    """``FastAPI(telemetry=...)`` for ``settings`` (ADR-0026).

    FastAPI >= 0.142 traces every request as soon as *any* OpenTelemetry provider is
    registered in the process, and checks for one on every request. Here it is explicit:
    ``OPENTELEMETRY_ENABLED=false`` turns every signal off (no per-request check);
    ``true`` turns on traces and metrics with exporters from the standard ``OTEL_*``
    variables (``auto_configure``) or the providers the process registered. Log export
    stays off either way: it would ship exception messages and stack traces past the
    redaction of ADR-0004.
    """
    enabled = settings.opentelemetry_enabled
    return {
        "tracing": enabled,
        "metrics": enabled,
        "logs": False,
        "auto_configure": enabled,
        "exclude": is_health_probe,
    }
