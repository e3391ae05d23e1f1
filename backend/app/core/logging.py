"""Logging setup: JSON or text, one line per event, request id on every line (ADR-0004).

Every record carries ``service``, ``env`` and ``request_id``. Formatters never
print a password, token or hash: :class:`RedactingFilter` masks them in the
message and in extra fields as a second line of defence (E3).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from app.core.request_context import request_id_var

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
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

    def __init__(self, service: str, env: str) -> None:
        super().__init__()
        self.service = service
        self.env = env

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
        return True


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


def configure_logging(*, level: str, json_logs: bool, service: str, env: str) -> None:
    """Install one stdout handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    handler.addFilter(ContextFilter(service, env))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_app_handler", False):
            root.removeHandler(old)
    handler._app_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Record fields no formatter prints; skipping them is the logging HOWTO's
    # "Optimization" advice and saves a stack walk and lookups on every line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # uvicorn's own access log duplicates our summary line and costs ~30 % throughput.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
