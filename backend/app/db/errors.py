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

#: PostgreSQL SQLSTATE of a statement cancelled by ``statement_timeout``.
_QUERY_CANCELED = "57014"

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
        # asyncpg's QueryCanceledError reaches us wrapped by SQLAlchemy's adapter, which keeps
        # the SQLSTATE: 57014 = query_canceled (statement_timeout), found by tests/fault (D3).
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return (
            exc.connection_invalidated
            or code == _QUERY_CANCELED
            or "QueryCanceled" in type(exc.orig).__name__
        )
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
