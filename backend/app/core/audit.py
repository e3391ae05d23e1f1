"""Security audit events: one structured log line per event (ADR-0035).

Each line carries ``event``, ``outcome``, ``actor_id`` (who acted), ``subject_id`` (whose
account it concerns), ``session_id`` and, stamped by :mod:`app.core.logging`, the request
id. Callers pass ids only: never a password, token, digest or hash (E3); the logging
filter masks such fields anyway.
"""

from __future__ import annotations

import logging
import uuid

Id = uuid.UUID | str | None


def _text(value: Id) -> str | None:
    return None if value is None else str(value)


def audit(
    logger: logging.Logger,
    message: str,
    *,
    event: str,
    outcome: str,
    actor: Id = None,
    subject: Id = None,
    session: Id = None,
    level: int = logging.INFO,
    **fields: object,
) -> None:
    """Write one audit line on ``logger``. ``user_id`` repeats the actor for the log
    queries that predate the audit fields."""
    logger.log(
        level,
        message,
        stacklevel=2,
        extra={
            "event": event,
            "outcome": outcome,
            "user_id": _text(actor),
            "actor_id": _text(actor),
            "subject_id": _text(subject),
            "session_id": _text(session),
            **fields,
        },
    )
