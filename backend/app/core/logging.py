"""Logging setup: JSON or text, one line per event, request id on every line (ADR-0004).

Every record carries ``service``, ``env`` and ``request_id``; with ``trace_ids`` on
(OpenTelemetry enabled, ADR-0026) a record made inside a traced request also carries
the active span's ``trace_id`` and ``span_id``. Formatters never
print a password, token or hash: :class:`ContextFilter` masks them in the
message and in extra fields as a second line of defence (E3).

:class:`AccessLog` writes the one summary line per request. When the app's own
handler is the only place the line can go, it formats the line directly (the
same bytes the handler would write, a third of the cost, ADR-0030); otherwise
(another handler or filter anywhere on the way, e.g. pytest's capture or a
fork's shipper) it is an ordinary ``logging`` call.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from opentelemetry import trace

from app.core.request_context import request_id_var

#: Record attributes that are not fields of the line: the standard ones, and uvicorn's
#: ``color_message`` (the same text with terminal colour codes).
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}
_SENSITIVE_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|hash|cookie|api[_-]?key", re.I
)
_SENSITIVE_TEXT = (
    # JWTs (three base64url segments), bearer credentials, argon2/bcrypt hashes.
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/-]+=*"),
    re.compile(r"\$argon2(id|i|d)\$[^\s\"']+"),
    re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"),
)
#: One cheap search that every pattern above needs to match first (the hot path:
#: most log text holds no secret, so it skips the four substitutions).
_MAYBE_SENSITIVE = re.compile(r"eyJ|\$|(?i:bearer)")
REDACTED = "[REDACTED]"


def redact_text(text: str) -> str:
    """Mask tokens and password hashes inside free text."""
    if _MAYBE_SENSITIVE.search(text) is None:
        return text
    for pattern in _SENSITIVE_TEXT:
        text = pattern.sub(REDACTED, text)
    return text


class ContextFilter(logging.Filter):
    """Stamp service, environment and request id on every record; redact secrets."""

    def __init__(self, service: str, env: str, *, trace_ids: bool = False) -> None:
        super().__init__()
        self.service = service
        self.env = env
        #: Stamp the active span's ids (off: not even a span lookup).
        self.trace_ids = trace_ids

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        attrs = vars(record)
        for key in attrs.keys() - _STANDARD_ATTRS:
            if _is_sensitive_key(key):
                attrs[key] = REDACTED
            elif isinstance(value := attrs[key], str):
                attrs[key] = redact_text(value)
        # Set after the scan: our own values hold no secrets (the id is sanitized).
        record.service = self.service
        record.env = self.env
        record.request_id = request_id_var.get()
        if self.trace_ids and (ids := active_trace_ids()) is not None:
            record.trace_id, record.span_id = ids
        return True


def active_trace_ids() -> tuple[str, str] | None:
    """The active OpenTelemetry span's ``(trace_id, span_id)`` in W3C hex, or ``None``."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@lru_cache(maxsize=512)
def _is_sensitive_key(key: str) -> bool:
    return _SENSITIVE_KEYS.search(key) is not None


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


@lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def utc_timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-22T07:00:00.123+00:00``."""
    second = int(created)
    return f"{_utc_second(second)}.{int((created - second) * 1000):03d}+00:00"


_encode_json = json.JSONEncoder(default=str).encode
_quote = json.encoder.encode_basestring_ascii  # what _encode_json uses for every str


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc_info"] = redact_text(self.formatException(record.exc_info))
        return _encode_json(payload)


class TextFormatter(logging.Formatter):
    """Human-readable line: time level logger [request_id] message key=value..."""

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        rid = extras.pop("request_id", None) or "-"
        fields = " ".join(f"{k}={v}" for k, v in extras.items() if k not in ("service", "env"))
        line = (
            f"{utc_timestamp(record.created)} {record.levelname:<7} {record.name} [{rid}] "
            f"{record.getMessage()} {fields}".rstrip()
        )
        if record.exc_info:
            line += "\n" + redact_text(self.formatException(record.exc_info))
        return line


class AppHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The app's one stdout handler: its formatter plus the :class:`ContextFilter`."""

    _app_handler = True

    def __init__(self, *, json_logs: bool, service: str, env: str, trace_ids: bool = False) -> None:
        super().__init__(sys.stdout)
        self.json_logs = json_logs
        self.context = ContextFilter(service, env, trace_ids=trace_ids)
        self.setFormatter(JsonFormatter() if json_logs else TextFormatter())
        self.addFilter(self.context)


ACCESS_LOGGER = "app.access"
ACCESS_MESSAGE = "request"


class AccessLog:
    """The one summary line per request (ADR-0004): ``request`` with method, route
    template, status and duration, plus service, env and request id like every line."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self._path = (self.logger, logging.getLogger("app"), logging.getLogger())

    def _direct_handler(self) -> AppHandler | None:
        """The app handler, when it is the only handler and filter the line would meet."""
        access, parent, root = self._path
        handlers = root.handlers
        if (
            len(handlers) != 1
            or access.handlers
            or parent.handlers
            or access.filters
            or parent.filters
            or root.filters
            or not (access.propagate and parent.propagate)
        ):
            return None
        handler = handlers[0]
        if type(handler) is not AppHandler or handler.filters != [handler.context]:
            return None
        return handler if handler.level <= logging.INFO else None

    def __call__(self, method: str, route: str, status: int, duration_ms: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        handler = self._direct_handler()
        if handler is not None and _write_direct(handler, method, route, status, duration_ms):
            return
        self.logger.info(
            ACCESS_MESSAGE,
            extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
        )


def _write_direct(
    handler: AppHandler, method: str, route: str, status: int, duration_ms: float
) -> bool:
    """Write the access line straight to ``handler``'s stream; ``False`` if that failed
    (the caller then logs it the ordinary way, which reports the failure its own way)."""
    try:
        line = _access_line(handler, method, route, status, duration_ms)
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(line + handler.terminator)
            handler.flush()
    except Exception:  # noqa: BLE001 - any failure: fall back to the logging call
        return False
    return True


def _access_line(
    handler: AppHandler, method: str, route: str, status: int, duration_ms: float
) -> str:
    """Exactly what ``handler`` would write for the access record (fields in record order)."""
    ts = utc_timestamp(time.time())
    request_id = request_id_var.get()
    method, route = redact_text(method), redact_text(route)
    context = handler.context
    ids = active_trace_ids() if context.trace_ids else None
    if handler.json_logs:
        # JSONEncoder's own string quoting, int and float reprs, in the record's field order.
        rid = "null" if request_id is None else _quote(request_id)
        spans = f', "trace_id": "{ids[0]}", "span_id": "{ids[1]}"' if ids else ""
        return (
            f'{{"ts": "{ts}", "level": "INFO", "logger": "{ACCESS_LOGGER}", '
            f'"msg": "{ACCESS_MESSAGE}", "method": {_quote(method)}, "route": {_quote(route)}, '
            f'"status": {int(status)!r}, "duration_ms": {float(duration_ms)!r}, '
            f'"service": {_quote(context.service)}, "env": {_quote(context.env)}, '
            f'"request_id": {rid}{spans}}}'
        )
    spans = f" trace_id={ids[0]} span_id={ids[1]}" if ids else ""
    return (
        f"{ts} INFO    {ACCESS_LOGGER} [{request_id or '-'}] {ACCESS_MESSAGE} method={method} "
        f"route={route} status={status} duration_ms={duration_ms}{spans}"
    ).rstrip()


def configure_logging(
    *, level: str, json_logs: bool, service: str, env: str, trace_ids: bool = False
) -> None:
    """Install one stdout handler on the root logger (idempotent). ``trace_ids`` adds the
    active OpenTelemetry span's ``trace_id``/``span_id`` to lines made inside a trace."""
    handler = AppHandler(json_logs=json_logs, service=service, env=env, trace_ids=trace_ids)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_app_handler", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Process-wide logging switches (``logging._srcfile``, ``logThreads`` ...) stay as they
    # are: they belong to every library in the process, pytest's caplog included. The hot
    # path, the access line, never builds a LogRecord at all (AccessLog above).
    # uvicorn's own access log duplicates our summary line and costs ~30 % throughput.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
