"""OpenTelemetry end to end: a real uvicorn process exporting spans over OTLP/HTTP
(ADR-0026).

``OPENTELEMETRY_ENABLED`` and the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` alone make the
process build its exporter and ship spans (route template, status, request id) to a
collector; a collector that is down never fails or holds a request, and
``OTEL_EXPORTER_OTLP_TIMEOUT`` bounds the flush at shutdown. The in-process switch
(opt-in, probes untraced, no log export) is test_opentelemetry.py.
"""

from __future__ import annotations

import http.server
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.core.middleware import SPAN_REQUEST_ID
from tests.support.processes import (
    app_server_env,
    closed_port,
    free_port,
    stop,
    uvicorn_command,
    wait_until_serving,
)
from tests.support.repo import REPO_ROOT

SOME_USER = "/api/v1/users/00000000-0000-0000-0000-000000000001"


class _OtlpSink(http.server.BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP receiver: keeps every exported trace request."""

    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/v1/traces":
            self.received.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


def _serve_app(
    tmp_path: Path, otlp_endpoint: str, **otel: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = app_server_env(
        tmp_path,
        OPENTELEMETRY_ENABLED="true",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
        OTEL_SERVICE_NAME="otel-test",
        OTEL_BSP_SCHEDULE_DELAY="50",  # export batches every 50 ms
        OTEL_METRICS_EXPORTER="none",
        **otel,
    )
    command = uvicorn_command(port=port, options=["--no-access-log", "--log-level=warning"])
    process = subprocess.Popen(command, cwd=REPO_ROOT / "backend", env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base_url}/health", process=process)
    except RuntimeError:
        stop(process, sig=signal.SIGKILL)
        raise
    return process, base_url


def _server_spans(requests: list[ExportTraceServiceRequest]) -> dict[str, dict[str, object]]:
    """Attributes of every exported server span, by the request id it carries."""
    spans: dict[str, dict[str, object]] = {}
    for request in requests:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attrs: dict[str, object] = {}
                    for kv in span.attributes:
                        value = kv.value
                        if value.HasField("array_value"):
                            attrs[kv.key] = [v.string_value for v in value.array_value.values]
                        elif value.HasField("int_value"):
                            attrs[kv.key] = value.int_value
                        else:
                            attrs[kv.key] = value.string_value
                    ids = attrs.get(SPAN_REQUEST_ID)
                    if isinstance(ids, list) and ids:
                        spans[ids[0]] = attrs
    return spans


@pytest.mark.no_cover
@pytest.mark.timing
def test_opentelemetry_exports_over_otlp_from_the_standard_environment(tmp_path: Path) -> None:
    """OPENTELEMETRY_ENABLED + OTEL_EXPORTER_OTLP_ENDPOINT, nothing else: the process
    builds its own exporter (the `otel` extra) and ships spans with route template,
    status and request id to the collector."""
    _OtlpSink.received = []
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OtlpSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    process, base_url = _serve_app(tmp_path, f"http://127.0.0.1:{sink.server_address[1]}")
    try:
        response = httpx.get(base_url + SOME_USER)
        assert response.status_code == 401
        request_id = response.headers["x-request-id"]
        deadline = time.monotonic() + 15
        while request_id not in _server_spans(_OtlpSink.received):
            assert time.monotonic() < deadline, "no span with the request id reached the sink"
            time.sleep(0.05)
    finally:
        stop(process)
        sink.shutdown()
    attrs = _server_spans(_OtlpSink.received)[request_id]
    assert attrs["http.route"] == "/api/v1/users/{user_id}"
    assert attrs["http.response.status_code"] == 401


@pytest.mark.no_cover
@pytest.mark.timing
def test_opentelemetry_export_fails_open_when_the_collector_is_down(tmp_path: Path) -> None:
    """Spans leave from the SDK's background thread: a collector that refuses connections
    never fails a request, nor holds it for the exporter's timeout (10 s by default). The
    flush at exit waits for it, so OTEL_EXPORTER_OTLP_TIMEOUT bounds the shutdown
    (deploy/k8s/configmap.yaml sets it inside the pod's grace period)."""
    process, base_url = _serve_app(
        tmp_path, f"http://127.0.0.1:{closed_port()}", OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for _ in range(20):  # ~20 export attempts at OTEL_BSP_SCHEDULE_DELAY=50 ms
                started = time.monotonic()
                assert client.get(SOME_USER).status_code == 401
                assert time.monotonic() - started < 5  # an export in the request path: >= 10 s
                time.sleep(0.05)
            assert client.get("/api/v1/health/ready").status_code == 200
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        # Unbounded, the flush would take ~13 s (10 s timeout plus retries) after SIGTERM.
        assert time.monotonic() - started < 8
    finally:
        stop(process, sig=signal.SIGKILL)
