"""FastAPI's native OpenTelemetry: explicit opt-in, probes untraced, no log export
(ADR-0026).

FastAPI >= 0.142 traces every request as soon as any OpenTelemetry provider exists in
the process. These tests register real SDK providers with in-memory exporters, the way a
deployment (or a library it imports) would, and check that only
``OPENTELEMETRY_ENABLED=true`` makes the app use them. A real process exporting over
OTLP is test_opentelemetry_otlp.py.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core.middleware import SPAN_REQUEST_ID
from tests.fixtures.app import serve
from tests.fixtures.auth import DEFAULT_PASSWORD

#: Standard variables that would make FastAPI's auto-configuration export over the network.
OTEL_EXPORT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
)
SOME_USER = "/api/v1/users/00000000-0000-0000-0000-000000000001"


@dataclass
class Exported:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def clear(self) -> None:
        self.spans.clear()
        self.logs.clear()
        self.metrics.get_metrics_data()  # delta temporality: reading drains the histogram

    def request_durations(self) -> int:
        data = self.metrics.get_metrics_data()
        if data is None:
            return 0
        return sum(
            point.count
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "http.server.request.duration"
            for point in metric.data.data_points
            if isinstance(point, HistogramDataPoint)
        )


_PROVIDERS: Exported | None = None


def _global_providers() -> Exported:
    """Register SDK providers once per process (OpenTelemetry allows setting them once)."""
    global _PROVIDERS
    if _PROVIDERS is None:
        spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        reader = InMemoryMetricReader(
            preferred_temporality={Histogram: AggregationTemporality.DELTA}
        )
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        _logs.set_logger_provider(logger_provider)
        _PROVIDERS = Exported(spans, reader, logs)
    return _PROVIDERS


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[Exported]:
    for name in OTEL_EXPORT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    providers = _global_providers()
    providers.clear()
    yield providers
    providers.clear()


async def _traffic(app: FastAPI) -> list[str]:
    """A protected route (401), a login whose body fails validation (422, carries a
    password), and the three health probes. Returns the two API requests' ids."""
    async with serve(app) as client:
        denied = await client.get(SOME_USER)
        assert denied.status_code == 401
        bad_login = {"username": "", "password": DEFAULT_PASSWORD}
        rejected = await client.post("/api/v1/auth/login", data=bad_login)
        assert rejected.status_code == 422
        for probe in ("/health", "/api/v1/health/live", "/api/v1/health/ready"):
            assert (await client.get(probe)).status_code == 200
    return [denied.headers["x-request-id"], rejected.headers["x-request-id"]]


async def test_opentelemetry_off_by_default_even_with_providers_registered(
    make_app: Callable[..., FastAPI], exported: Exported
) -> None:
    """A registered provider alone turns nothing on: no spans, metrics or logs."""
    await _traffic(make_app())
    assert exported.spans.get_finished_spans() == ()
    assert exported.request_durations() == 0
    assert exported.logs.get_finished_logs() == ()


async def test_opentelemetry_enabled_traces_route_templates_not_probes(
    make_app: Callable[..., FastAPI], exported: Exported
) -> None:
    """One server span per API request, named by route template and carrying the
    request id of its log lines; the probes are neither traced nor measured."""
    request_ids = await _traffic(make_app(opentelemetry_enabled=True))
    servers = [s for s in exported.spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    routes = sorted(str((s.attributes or {}).get("http.route", "")) for s in servers)
    assert routes == ["/api/v1/auth/login", "/api/v1/users/{user_id}"], routes
    statuses = {
        (s.attributes or {}).get("http.route"): (s.attributes or {}).get(
            "http.response.status_code"
        )
        for s in servers
    }
    assert statuses == {"/api/v1/users/{user_id}": 401, "/api/v1/auth/login": 422}
    # Each server span carries the response's X-Request-ID: the key into the logs.
    span_ids = [(s.attributes or {}).get(SPAN_REQUEST_ID) for s in servers]
    assert sorted(str(ids[0]) for ids in span_ids if isinstance(ids, tuple)) == sorted(request_ids)
    assert exported.request_durations() == 2  # the probes are not measured either


async def test_opentelemetry_log_lines_carry_the_trace_id_of_their_request(
    make_app: Callable[..., FastAPI], exported: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a log line to its trace: the access line and the 401's warning of a traced
    request carry its server span's trace id; probes' lines carry none."""
    app = make_app(opentelemetry_enabled=True, log_json=True)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_app_handler", False))
    lines = io.StringIO()
    monkeypatch.setattr(handler, "stream", lines)
    request_ids = await _traffic(app)
    servers = [s for s in exported.spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    trace_of = {
        str((s.attributes or {})[SPAN_REQUEST_ID][0]): format(s.context.trace_id, "032x")  # type: ignore[index]
        for s in servers
    }
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    denied = [r for r in records if r.get("request_id") == request_ids[0]]
    assert {r["msg"] for r in denied} >= {"request", "authentication rejected"}
    assert {r.get("trace_id") for r in denied} == {trace_of[request_ids[0]]}
    probes = [r for r in records if r.get("route", "").startswith(("/health", "/api/v1/health"))]
    assert probes
    assert all("trace_id" not in r for r in probes)


async def test_opentelemetry_never_exports_logs_or_secrets(
    make_app: Callable[..., FastAPI], exported: Exported
) -> None:
    """Log export stays off (it would ship exception text past ADR-0004's redaction), and
    no span carries the password from the rejected login body."""
    await _traffic(make_app(opentelemetry_enabled=True))
    assert exported.logs.get_finished_logs() == ()
    spans = exported.spans.get_finished_spans()
    assert spans
    for span in spans:
        texts = [str(v) for v in (span.attributes or {}).values()]
        texts += [str(v) for event in span.events for v in (event.attributes or {}).values()]
        assert not any(DEFAULT_PASSWORD in text for text in texts), span.name
