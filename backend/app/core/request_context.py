"""Per-request context (request id) carried in a ``contextvars.ContextVar`` (ADR-0003)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    """A fresh, random request id."""
    return uuid.uuid4().hex


def sanitize_request_id(raw: bytes | str | None) -> str:
    """Return ``raw`` if it is a sane token (1-128 chars of ``[A-Za-z0-9._-]``), else a fresh id.

    Never reflect arbitrary bytes into headers or logs (log/header injection, E5).
    """
    if raw is None:
        return new_request_id()
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            return new_request_id()
    return raw if _SANE_REQUEST_ID.fullmatch(raw) else new_request_id()


def get_request_id() -> str | None:
    """The current request's id, or ``None`` outside a request."""
    return request_id_var.get()
