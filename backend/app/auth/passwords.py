"""Password hashing through passlib's API (the maintained ``libpass`` fork), ADR-0017.

* New hashes are argon2id with :data:`ARGON2_PARAMS` (above OWASP's floor of
  m=19 MiB, t=2, p=1). bcrypt hashes still verify, are marked deprecated, and are
  replaced by argon2id on the next successful login (``verify`` returns the new hash).
* Hashing and verifying run in a worker thread, at most
  ``PASSWORD_HASH_MAX_CONCURRENCY`` at once, so the event loop never stalls and
  memory stays bounded (threads x m). SECURITY P4, P11.
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

logger = logging.getLogger("app.auth")


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
    """Hash and verify off the event loop, with bounded concurrency."""

    def __init__(self, context: CryptContext, max_concurrency: int) -> None:
        self.context = context
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self._dummy_hash: str | None = None

    async def _run(self, func: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(func, *args, limiter=self.limiter)

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
        """Check ``password`` against ``hashed``; never raises for bad input."""
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
