"""Logging: one summary line per request, context on every line, no secrets (ADR-0004; E3, E5)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry import trace

from app.core.logging import (
    AccessLog,
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    redact_text,
    utc_timestamp,
)
from app.core.request_context import request_id_var
from tests.fixtures.app import serve

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"  # pragma: allowlist secret
ARGON = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
BCRYPT = "$2b$12$" + "a" * 53


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Capture what the app's root handler writes, as JSON lines."""
    configure_logging(level="INFO", json_logs=True, service="svc-under-test", env="test")
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_app_handler", False))
    buffer = io.StringIO()
    original = handler.stream  # type: ignore[attr-defined]
    handler.stream = buffer  # type: ignore[attr-defined]
    yield buffer
    handler.stream = original  # type: ignore[attr-defined]


def _records(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _app_handler() -> logging.StreamHandler:  # type: ignore[type-arg]
    return next(h for h in logging.getLogger().handlers if getattr(h, "_app_handler", False))


@pytest.fixture(params=["direct", "through logging"])
def access_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test both ways the access line is written (ADR-0030): "direct", with the app
    handler as the only root handler (as in production), and "through logging", with
    pytest's capture handlers on the root logger as usual."""
    if request.param == "direct":
        root = logging.getLogger()
        monkeypatch.setattr(root, "handlers", [h for h in root.handlers if h is _app_handler()])
    return str(request.param)


async def test_one_summary_line_per_request_with_route_template(
    make_app, json_lines, access_path
) -> None:
    app = make_app(log_json=True, service_name="svc-under-test")
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_app_handler", False))
    handler.stream = json_lines  # type: ignore[attr-defined]  # create_app reconfigured logging
    async with serve(app) as client:
        await client.get("/api/v1/health/live", headers={"X-Request-ID": "log-1"})
        await client.get("/nope", headers={"X-Request-ID": "log-2"})
    access = [r for r in _records(json_lines) if r["logger"] == "app.access"]
    assert len(access) == 2
    first, second = access
    assert first["request_id"] == "log-1"
    assert first["method"] == "GET"
    assert first["route"] == "/api/v1/health/live"
    assert first["status"] == 200
    assert isinstance(first["duration_ms"], float)
    assert second["route"] == "<unmatched>"
    assert second["status"] == 404
    for record in _records(json_lines):
        assert record["service"] == "svc-under-test"
        assert record["env"] == "test"


def test_secrets_are_redacted_in_message_and_extras(json_lines) -> None:
    log = logging.getLogger("app.test")
    log.info("login with token %s and hash %s / %s", JWT, ARGON, BCRYPT)
    creds = {
        "authorization": f"Bearer {JWT}",
        "password": "hunter2hunter2",  # pragma: allowlist secret
    }
    log.info("auth header", extra=creds)
    log.info("free text Bearer abc.def.ghi here", extra={"note": f"hash={ARGON}"})
    out = json_lines.getvalue()
    for secret in (JWT, ARGON, BCRYPT, "hunter2hunter2", "abc.def.ghi"):
        assert secret not in out
    assert "[REDACTED]" in out


def test_exception_text_is_redacted(json_lines) -> None:
    try:
        raise ValueError(f"failed for {JWT}")
    except ValueError:
        logging.getLogger("app.test").exception("oops")
    assert JWT not in json_lines.getvalue()
    assert "ValueError" in json_lines.getvalue()


def test_text_formatter_has_request_id_slot_and_fields() -> None:
    record = logging.makeLogRecord(
        {"msg": "hello", "levelname": "INFO", "name": "x", "status": 200}
    )
    ContextFilter("svc", "local").filter(record)
    line = TextFormatter().format(record)
    assert "[-] hello status=200" in line
    assert "svc" not in line  # service/env are JSON fields, not noise in text mode


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_uvicorn_colour_codes_never_reach_a_line(formatter: logging.Formatter) -> None:
    """uvicorn's ``color_message`` extra (ANSI escapes) is not printed as a field."""
    record = logging.makeLogRecord(
        {"msg": "Finished server process [%d]", "args": (7,), "levelname": "INFO", "name": "x"}
    )
    record.color_message = "Finished server process [\x1b[36m%d\x1b[0m]"
    ContextFilter("svc", "local").filter(record)
    line = formatter.format(record)
    assert "Finished server process [7]" in line
    assert "color_message" not in line
    assert "\x1b" not in line
    assert "\\u001b" not in line


def test_json_formatter_is_one_line() -> None:
    record = logging.makeLogRecord({"msg": "a\nb", "levelname": "INFO", "name": "x"})
    ContextFilter("svc", "local").filter(record)
    assert "\n" not in JsonFormatter().format(record)


async def test_request_id_from_header_cannot_inject_log_lines(make_app, json_lines) -> None:
    app = make_app(log_json=True)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_app_handler", False))
    handler.stream = json_lines  # type: ignore[attr-defined]
    async with serve(app) as client:
        await client.get("/health", headers={"X-Request-ID": "x" * 5000})
    lines = json_lines.getvalue().splitlines()
    assert all(len(line) < 1000 for line in lines)
    assert all("x" * 200 not in line for line in lines)


def test_uvicorn_access_log_is_disabled(json_lines) -> None:
    assert logging.getLogger("uvicorn.access").disabled is True


def test_configuring_leaves_process_wide_logging_switches_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ADR-0030: the app's fast path is its own (the access line); it never flips the
    switches every other library shares, so their records keep their file and line."""
    switches = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
    before = {name: getattr(logging, name) for name in switches}
    configure_logging(level="INFO", json_logs=False, service="svc", env="test")
    assert {name: getattr(logging, name) for name in switches} == before
    with caplog.at_level(logging.INFO, logger="some.library"):
        logging.getLogger("some.library").info("hello")
    record = next(r for r in caplog.records if r.name == "some.library")
    assert record.filename == "test_logging.py"
    assert record.lineno > 0


async def test_requests_log_no_credentials(make_app, json_lines) -> None:
    app = make_app(log_json=True)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_app_handler", False))
    handler.stream = json_lines  # type: ignore[attr-defined]
    async with serve(app) as client:
        await client.get("/health", headers={"Authorization": f"Bearer {JWT}"})
        await client.get("/health?token=" + JWT)
    assert JWT not in json_lines.getvalue()


@pytest.mark.parametrize(
    "created", [0.0, 1_795_000_000.0, 1_795_000_000.0005, 1_795_000_000.9999, 1_795_000_059.5]
)
def test_cached_timestamp_equals_isoformat(created: float) -> None:
    """The per-second cached timestamp (ADR-0030 hot path) is exactly ISO 8601 UTC in ms."""
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert utc_timestamp(created) == expected


@pytest.mark.parametrize(
    "text", [f"token {JWT}", "Authorization: Bearer abc.def", "BEARER xyz", ARGON, BCRYPT]
)
def test_the_cheap_pre_check_never_skips_a_secret(text: str) -> None:
    """Redaction's one-search pre-check (ADR-0030) lets every secret pattern through."""
    assert redact_text(text) != text
    assert redact_text("GET /api/v1/users/me 200") == "GET /api/v1/users/me 200"


def _line_without_ts(line: str, json_logs: bool) -> tuple[str, str]:
    if json_logs:
        record = json.loads(line)
        return record.pop("ts"), json.dumps(record)
    ts, _, rest = line.partition(" ")
    return ts, rest


#: A span context as OpenTelemetry would make active inside a traced request.
SPAN = trace.NonRecordingSpan(
    trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
)


@pytest.mark.parametrize("json_logs", [True, False])
@pytest.mark.parametrize("request_id", ["rid-1", None])
@pytest.mark.parametrize("in_span", [False, True], ids=["no-span", "in-span"])
def test_direct_access_line_is_exactly_what_logging_writes(
    monkeypatch: pytest.MonkeyPatch, json_logs: bool, request_id: str | None, in_span: bool
) -> None:
    """ADR-0030: the access line written straight to the app handler's stream is the line
    the handler would format from the log record: same fields, order, quoting and text,
    trace ids included when a span is active (ADR-0026)."""
    configure_logging(level="INFO", json_logs=json_logs, service="svc", env="test", trace_ids=True)
    handler = _app_handler()
    buffer = io.StringIO()
    monkeypatch.setattr(handler, "stream", buffer)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    access = AccessLog()
    token = request_id_var.set(request_id)
    span = trace.use_span(SPAN) if in_span else contextlib.nullcontext()
    try:
        with span:
            with monkeypatch.context() as direct:
                direct.setattr(access.logger, "info", lambda *a, **k: pytest.fail("not direct"))
                access("GET", '/api/v1/Users/{user_id}/"é"', 404, 1.25)
            access.logger.addFilter(lambda record: True)  # any filter: through logging
            try:
                access("GET", '/api/v1/Users/{user_id}/"é"', 404, 1.25)
            finally:
                access.logger.filters.clear()
    finally:
        request_id_var.reset(token)
    direct_line, logged_line = buffer.getvalue().splitlines()
    (ts1, rest1), (ts2, rest2) = (
        _line_without_ts(x, json_logs) for x in buffer.getvalue().splitlines()
    )
    assert rest1 == rest2, (direct_line, logged_line)
    assert direct_line.replace(ts1, ts2, 1) == logged_line
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", ts1)
    context = SPAN.get_span_context()
    ids = (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    assert all(f'{i}"' in direct_line or f"={i}" in direct_line for i in ids) is in_span


def test_access_line_reaches_every_other_handler(
    monkeypatch: pytest.MonkeyPatch, json_lines: io.StringIO
) -> None:
    """A handler a fork adds (a log shipper, pytest's capture) gets the access record too."""
    seen: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    monkeypatch.setattr(logging.getLogger(), "handlers", [_app_handler(), ListHandler()])
    AccessLog()("POST", "/api/v1/users", 201, 3.5)
    assert [(r.name, r.method, r.route, r.status) for r in seen] == [  # type: ignore[attr-defined]
        ("app.access", "POST", "/api/v1/users", 201)
    ]
    assert json.loads(json_lines.getvalue())["route"] == "/api/v1/users"


def test_direct_access_line_redacts_and_respects_the_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The direct line masks secrets like every other line (E3) and obeys LOG_LEVEL."""
    configure_logging(level="INFO", json_logs=True, service="svc", env="test")
    handler = _app_handler()
    buffer = io.StringIO()
    monkeypatch.setattr(handler, "stream", buffer)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    AccessLog()("GET", f"/x/{JWT}", 200, 0.5)
    assert JWT not in buffer.getvalue()
    assert json.loads(buffer.getvalue())["route"] == "/x/[REDACTED]"
    configure_logging(level="WARNING", json_logs=True, service="svc", env="test")
    handler = _app_handler()
    monkeypatch.setattr(handler, "stream", buffer)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    AccessLog()("GET", "/y", 200, 0.5)
    assert "/y" not in buffer.getvalue()
