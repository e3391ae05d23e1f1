"""Database outages become a 503 envelope, never a raw 500 (ADR-0008).

Connectivity failures (refused or dropped connections, pool exhaustion, a
statement cancelled by ``statement_timeout``) are mapped here. Constraint
violations are *not*: services translate ``IntegrityError`` into domain errors
(e.g. 409).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc
from starlette.responses import Response

from app.core.errors import error_response

logger = logging.getLogger("app.db")

#: Exceptions that mean "the database is unavailable right now".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # pool exhausted
    OSError,  # asyncpg raises raw ConnectionRefusedError / TimeoutError on connect
)


def is_unavailable(exc: BaseException) -> bool:
    """True if ``exc`` means the database cannot serve the request now."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or "QueryCanceled" in type(exc.orig).__name__
    return False


async def _unavailable(_: Request, exc: Exception) -> Response:
    if not is_unavailable(exc):
        raise exc
    logger.warning("database unavailable", extra={"error_type": type(exc).__name__})
    return error_response(503, "The database is temporarily unavailable.")


def install_db_error_handlers(app: FastAPI) -> None:
    """Map database connectivity errors to the 503 envelope."""
    for exc_type in (*UNAVAILABLE_ERRORS, sa_exc.DBAPIError):
        app.add_exception_handler(exc_type, _unavailable)
