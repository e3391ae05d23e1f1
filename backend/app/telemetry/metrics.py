"""Request and event metrics behind one protocol: ``noop`` (default), ``log``, plus
optional Prometheus (ADR-0026).

The outermost guard (:class:`app.core.middleware.RequestGuardMiddleware`) calls an
*observer* once per request with ``(method, route template, status, seconds)``.
With ``TELEMETRY_MODE=noop`` and ``METRICS_ENABLED=false`` no observer is installed at
all, so telemetry costs nothing on the hot path. Features report counters through
:meth:`Telemetry.event` (e.g. ``cache`` hit/miss/error).

* ``log``: in-process counters (count and total seconds per method + route template +
  status) and one ``telemetry`` log line for a ``TELEMETRY_SAMPLE_RATE`` share of requests.
* Prometheus (``METRICS_ENABLED=true``): ``http_requests_total``,
  ``http_request_duration_seconds`` and ``app_events_total`` in the app's own registry,
  served at ``GET /metrics`` (outside ``/api/v1``; expose it on an internal network only).
* OpenTelemetry is configured apart, in :mod:`app.telemetry.tracing`.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram as PromHistogram
from starlette.requests import Request
from starlette.responses import Response

from app.core.middleware import RequestObserver
from app.core.settings import Settings

logger = logging.getLogger("app.telemetry")


class Telemetry(Protocol):
    """What every telemetry backend implements."""

    def request(self, method: str, route: str, status: int, seconds: float) -> None: ...

    def event(self, name: str, result: str) -> None: ...


class NoopTelemetry:
    """Records nothing."""

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        return None

    def event(self, name: str, result: str) -> None:
        return None


class LogTelemetry:
    """In-process counters plus sampled log lines."""

    def __init__(self, sample_rate: float = 1.0, rng: Callable[[], float] = random.random) -> None:
        self.sample_rate = sample_rate
        self.rng = rng
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.seconds: dict[tuple[str, str, int], float] = {}
        self.events: Counter[tuple[str, str]] = Counter()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] += 1
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        if self.sample_rate >= 1.0 or self.rng() < self.sample_rate:
            logger.info(
                "telemetry",
                extra={
                    "event": "http.request",
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )

    def event(self, name: str, result: str) -> None:
        self.events[(name, result)] += 1


class PrometheusTelemetry:
    """Counters and a latency histogram in a registry owned by one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = PromCounter(
            "http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = PromHistogram(
            "http_request_duration_seconds",
            "Request duration by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.events = PromCounter(
            "app_events",
            "Feature events (e.g. cache hit/miss).",
            ["name", "result"],
            registry=self.registry,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def event(self, name: str, result: str) -> None:
        self.events.labels(name, result).inc()

    async def scrape(self, _: Request) -> Response:
        """``GET /metrics``: this registry in the Prometheus text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class FanOut:
    """Several backends as one."""

    def __init__(self, *backends: Telemetry) -> None:
        self.backends = backends

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        for backend in self.backends:
            backend.request(method, route, status, seconds)

    def event(self, name: str, result: str) -> None:
        for backend in self.backends:
            backend.event(name, result)


def build_telemetry(settings: Settings) -> tuple[Telemetry, PrometheusTelemetry | None]:
    """The app's telemetry and, when ``METRICS_ENABLED``, its Prometheus backend."""
    backends: list[Telemetry] = []
    if settings.telemetry_mode == "log":
        backends.append(LogTelemetry(settings.telemetry_sample_rate))
    prometheus = PrometheusTelemetry() if settings.metrics_enabled else None
    if prometheus is not None:
        backends.append(prometheus)
    if not backends:
        return NoopTelemetry(), None
    return (backends[0] if len(backends) == 1 else FanOut(*backends)), prometheus


def observer_for(telemetry: Telemetry) -> RequestObserver | None:
    """The guard's per-request hook, or ``None`` (nothing to call) for noop."""
    return None if isinstance(telemetry, NoopTelemetry) else telemetry.request
