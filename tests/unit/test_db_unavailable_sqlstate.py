"""A statement cancelled by ``statement_timeout`` is "unavailable" (503), however wrapped.

SECURITY D3. SQLAlchemy's asyncpg adapter re-raises asyncpg's ``QueryCanceledError``
as its own ``Error`` class, keeping only the SQLSTATE (57014); the fault suite found
this as a 500 (tests/fault/test_database_faults.py, ADR-0030). This is the same check
without a PostgreSQL server.
"""

from __future__ import annotations

from sqlalchemy import exc

from app.db.errors import is_unavailable


class _AdaptedError(Exception):
    """Stands in for ``sqlalchemy.dialects.postgresql.asyncpg.Error``."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("canceling statement due to statement timeout")
        self.sqlstate = self.pgcode = sqlstate


def test_query_canceled_sqlstate_is_unavailable() -> None:
    error = exc.DBAPIError("SELECT pg_sleep(3)", {}, _AdaptedError("57014"))
    assert is_unavailable(error)


def test_other_sqlstates_are_not_unavailable() -> None:
    # 22012 division_by_zero: a programming error stays a 500, not a hidden 503.
    error = exc.DBAPIError("SELECT 1/0", {}, _AdaptedError("22012"))
    assert not is_unavailable(error)
