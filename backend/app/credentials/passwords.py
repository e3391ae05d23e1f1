"""Password hashing through passlib's API (the maintained ``libpass`` fork), ADR-0017.

* New hashes are argon2id with :data:`ARGON2_PARAMS` (above OWASP's floor of
  m=19 MiB, t=2, p=1). bcrypt hashes still verify, are marked deprecated, and are
  replaced by argon2id on the next successful login (``verify`` returns the new hash).
* Hashing and verifying run in a worker thread, at most
  ``PASSWORD_HASH_MAX_CONCURRENCY`` at once, so the event loop never stalls and
  memory stays bounded (threads x m). SECURITY P4, P11.
* The backlog is bounded too: at most ``PASSWORD_HASH_MAX_QUEUE`` hashes running or
  waiting. One more raises :class:`HashingBusy` (a 503 envelope with ``Retry-After``) at
  once, so a flood of sign-ups can delay a login by at most a queue's worth of hashes.
* Anything a hash or a password can make the backend raise (bcrypt 5 refuses
  more than 72 bytes, passlib refuses over-long secrets and unknown hash formats)
  is a failed verification, never an exception (P3).
* :meth:`PasswordHasher.dummy_verify` costs what a real verify costs, so a login
  for an unknown email takes as long as one with a wrong password (P8).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from passlib.context import CryptContext

from app.core.errors import ServiceUnavailable

logger = logging.getLogger("app.auth")

#: ``Retry-After`` of a refused hash: a full queue drains in well under a second here.
BUSY_RETRY_AFTER_SECONDS = 1
BUSY_MESSAGE = "The server is busy. Try again shortly."


class HashingBusy(ServiceUnavailable):
    """The password-hashing backlog is full: 503 with ``Retry-After`` (never queued)."""

    def __init__(self) -> None:
        super().__init__(
            BUSY_MESSAGE,
            details={"retry_after": BUSY_RETRY_AFTER_SECONDS},
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost parameters (memory in KiB)."""

    memory_kib: int
    time_cost: int
    parallelism: int


#: OWASP Password Storage Cheat Sheet minimum for argon2id.
OWASP_FLOOR = Argon2Params(memory_kib=19 * 1024, time_cost=2, parallelism=1)
#: The parameters new hashes use (ADR-0017): the floor's memory, one more pass.
ARGON2_PARAMS = Argon2Params(memory_kib=19 * 1024, time_cost=3, parallelism=1)

#: A fixed password whose hash :meth:`PasswordHasher.dummy_verify` checks against.
_DUMMY_PASSWORD = "dummy-password-for-constant-time-login"  # noqa: S105  # nosec B105  # pragma: allowlist secret


def build_context(params: Argon2Params = ARGON2_PARAMS) -> CryptContext:
    """A context that hashes with argon2id at ``params`` and still verifies bcrypt.

    bcrypt is deprecated, and so is any argon2 hash weaker than ``params``:
    ``verify_and_update`` returns a fresh hash for both.
    """
    return CryptContext(
        schemes=["argon2", "bcrypt"],
        deprecated=["bcrypt"],
        argon2__type="ID",
        argon2__memory_cost=params.memory_kib,
        argon2__time_cost=params.time_cost,
        argon2__parallelism=params.parallelism,
    )


def default_context() -> CryptContext:
    """The context the application uses (the test suite swaps it for a cheap one)."""
    return build_context(ARGON2_PARAMS)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :meth:`PasswordHasher.verify`. ``new_hash`` is set when the stored
    hash should be replaced (deprecated scheme or weaker parameters)."""

    ok: bool
    new_hash: str | None = None


class PasswordHasher:
    """Hash and verify off the event loop, with bounded concurrency and a bounded backlog.

    ``max_queue`` counts hashes running and waiting for a thread (``None``: unbounded,
    for one-off tools such as the CLI); over it :class:`HashingBusy` is raised at once.
    """

    def __init__(
        self, context: CryptContext, max_concurrency: int, max_queue: int | None = None
    ) -> None:
        self.context = context
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self.max_queue = max_queue
        #: Hashes running or waiting right now (one event loop: no lock needed).
        self.pending = 0
        self._dummy_hash: str | None = None

    async def _run(self, func: Any, *args: Any) -> Any:
        if self.max_queue is not None and self.pending >= self.max_queue:
            logger.warning(
                "password hashing busy; refused",
                extra={"event": "auth.hash", "outcome": "busy", "pending": self.pending},
            )
            raise HashingBusy
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(func, *args, limiter=self.limiter)
        finally:
            self.pending -= 1

    async def hash(self, password: str) -> str:
        """A new argon2id hash of ``password``."""
        hashed: str = await self._run(self.context.hash, password)
        return hashed

    def _verify_sync(self, password: str, hashed: str) -> VerifyResult:
        try:
            ok, new_hash = self.context.verify_and_update(password, hashed)
        except (ValueError, TypeError) as exc:
            # bcrypt > 72 bytes, passlib's PasswordSizeError, unknown or corrupt hash.
            logger.info("password verify rejected input", extra={"reason": type(exc).__name__})
            return VerifyResult(ok=False)
        return VerifyResult(ok=bool(ok), new_hash=new_hash if ok else None)

    async def verify(self, password: str, hashed: str) -> VerifyResult:
        """Check ``password`` against ``hashed``; never raises for bad input (only
        :class:`HashingBusy` when the backlog is full)."""
        result: VerifyResult = await self._run(self._verify_sync, password, hashed)
        return result

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verify, against a fixed hash (unknown emails, P8)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(_DUMMY_PASSWORD)
        await self.verify(password, self._dummy_hash)

    def needs_update(self, hashed: str) -> bool:
        """True if ``hashed`` uses a deprecated scheme or weaker parameters."""
        try:
            return bool(self.context.needs_update(hashed))
        except (ValueError, TypeError):
            return True
