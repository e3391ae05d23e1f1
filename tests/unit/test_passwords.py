"""Password hashing and policy (SECURITY P1, P2, P3, P4, P5, P6, P8, P11; ADR-0017)."""

from __future__ import annotations

import threading
import time

import anyio
import bcrypt
import pytest
from passlib.context import CryptContext
from pydantic import ValidationError

from app.credentials import password_policy, passwords
from app.credentials.passwords import ARGON2_PARAMS, OWASP_FLOOR, PasswordHasher, build_context
from app.users.schemas import UserCreate
from tests.fixtures.auth import CHEAP_PARAMS

GOOD = "correct horse battery staple"  # pragma: allowlist secret


def _cheap() -> PasswordHasher:
    return PasswordHasher(build_context(CHEAP_PARAMS), max_concurrency=2)


def _legacy_bcrypt(password: bytes) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=4)).decode()


def _params(hashed: str) -> dict[str, int]:
    # $argon2id$v=19$m=19456,t=3,p=1$salt$hash
    return {k: int(v) for k, v in (kv.split("=") for kv in hashed.split("$")[3].split(","))}


def test_adr_parameters_are_at_or_above_the_owasp_floor() -> None:
    """SECURITY P4: the chosen argon2id parameters meet m>=19 MiB, t>=2, p>=1."""
    assert ARGON2_PARAMS.memory_kib >= OWASP_FLOOR.memory_kib == 19 * 1024
    assert ARGON2_PARAMS.time_cost >= OWASP_FLOOR.time_cost == 2
    assert ARGON2_PARAMS.parallelism >= OWASP_FLOOR.parallelism == 1


async def test_new_hashes_are_argon2id_with_the_adr_parameters(real_password_hashing) -> None:
    """SECURITY P4: the application's context (real parameters) writes argon2id hashes."""
    hasher = PasswordHasher(passwords.default_context(), max_concurrency=1)
    hashed = await hasher.hash(GOOD)
    assert hashed.startswith("$argon2id$v=19$")
    assert _params(hashed) == {
        "m": ARGON2_PARAMS.memory_kib,
        "t": ARGON2_PARAMS.time_cost,
        "p": ARGON2_PARAMS.parallelism,
    }
    assert (await hasher.verify(GOOD, hashed)).ok
    assert not (await hasher.verify(GOOD + "x", hashed)).ok
    assert not hasher.needs_update(hashed)


async def test_bcrypt_hash_verifies_and_yields_an_argon2id_replacement() -> None:
    """SECURITY P4: legacy bcrypt hashes still verify and are upgraded (new hash returned)."""
    hasher = _cheap()
    legacy = _legacy_bcrypt(GOOD.encode())
    assert hasher.needs_update(legacy)
    result = await hasher.verify(GOOD, legacy)
    assert result.ok
    assert result.new_hash is not None
    assert result.new_hash.startswith("$argon2id$")
    assert not (await hasher.verify("wrong password", legacy)).ok


async def test_weaker_argon2_hash_is_upgraded_to_current_parameters() -> None:
    """SECURITY P4: hashes below the configured cost are re-hashed on the next login."""
    weak = build_context(CHEAP_PARAMS).hash(GOOD)
    strong = PasswordHasher(build_context(ARGON2_PARAMS), max_concurrency=1)
    result = await strong.verify(GOOD, weak)
    assert result.ok
    assert result.new_hash is not None
    assert _params(result.new_hash)["m"] == ARGON2_PARAMS.memory_kib


@pytest.mark.parametrize(
    "password",
    ["x" * 73, "é" * 37, "a" * 128, "long passphrase " * 8, "x" * 5000],
    ids=["73-ascii", "74-bytes-utf8", "128-chars", "128-spaces", "5000"],
)
async def test_over_72_bytes_against_bcrypt_is_a_failed_verify_not_an_error(password: str) -> None:
    """SECURITY P3: bcrypt 5 raises for > 72 bytes; we get a clean False (-> 401), not 500."""
    hasher = _cheap()
    result = await hasher.verify(password, _legacy_bcrypt(b"short password"))
    assert result.ok is False
    assert result.new_hash is None


@pytest.mark.parametrize(
    "stored", ["", "garbage", "$argon2id$v=19$m=1,t=1,p=1$AAAA$BBBB", "$2b$04$short"]
)
async def test_corrupt_or_unknown_stored_hash_is_a_failed_verify(stored: str) -> None:
    """SECURITY P3/E6: a broken hash in the database never turns into a 500."""
    hasher = _cheap()
    assert (await hasher.verify(GOOD, stored)).ok is False
    assert hasher.needs_update(stored)


async def test_dummy_verify_does_real_hashing_work() -> None:
    """SECURITY P8: unknown emails cost one real verify against a fixed argon2id hash."""
    calls: list[str] = []
    context = build_context(CHEAP_PARAMS)
    original = context.verify_and_update

    def spy(secret: str, hashed: str) -> tuple[bool, str | None]:
        calls.append(hashed)
        return original(secret, hashed)

    context.verify_and_update = spy  # type: ignore[method-assign]
    hasher = PasswordHasher(context, max_concurrency=1)
    await hasher.dummy_verify("anything at all")
    await hasher.dummy_verify("something else")
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert calls[0].startswith("$argon2id$")


@pytest.mark.timing
async def test_hashing_runs_in_worker_threads_with_bounded_concurrency() -> None:
    """SECURITY P11: hashing leaves the event-loop thread and at most N run at once."""
    loop_thread = threading.get_ident()
    active = 0
    peak = 0
    threads: set[int] = set()
    changed = threading.Condition()

    class SlowContext(CryptContext):
        def hash(self, secret: str, **kwargs: object) -> str:  # type: ignore[override]
            nonlocal active, peak
            with changed:
                active += 1
                peak = max(peak, active)
                threads.add(threading.get_ident())
                changed.notify_all()
                # Wait (bounded) for a second hash to run alongside: a sleep alone cannot
                # promise the overlap when a busy machine starts the second thread late.
                changed.wait_for(lambda: peak >= 2, timeout=10)
            time.sleep(0.05)  # room for a third hash to slip in, if the bound let it
            with changed:
                active -= 1
            return "$argon2id$fake"

    hasher = PasswordHasher(SlowContext(schemes=["argon2"]), max_concurrency=2)
    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(hasher.hash, GOOD)
    assert peak == 2
    assert loop_thread not in threads


async def test_p11_the_hashing_backlog_is_bounded_and_refuses_at_once() -> None:
    """SECURITY P11: at most ``max_queue`` hashes run or wait; one more raises
    ``HashingBusy`` (503 + ``Retry-After``) without waiting, while the admitted ones are
    still held; once they finish the backlog is free again."""
    gate = threading.Event()

    class HeldContext(CryptContext):
        def hash(self, secret: str | bytes, **kwargs: object) -> str:  # type: ignore[override]
            assert gate.wait(timeout=10), "gate never opened"
            return "$argon2id$fake"

    hasher = PasswordHasher(HeldContext(schemes=["argon2"]), max_concurrency=1, max_queue=3)
    outcomes: list[object] = []

    async def one() -> None:
        try:
            outcomes.append(await hasher.hash(GOOD))
        except passwords.HashingBusy as busy:
            outcomes.append(busy)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(one)
        for _ in range(2000):  # bounded: until the two refusals are in
            if len(outcomes) == 2:
                break
            await anyio.sleep(0.005)
        assert hasher.pending == 3
        assert not gate.is_set()  # refused while the admitted hashes were held
        assert all(isinstance(o, passwords.HashingBusy) for o in outcomes)
        busy = outcomes[0]
        assert isinstance(busy, passwords.HashingBusy)
        assert (busy.status_code, busy.headers["Retry-After"]) == (503, "1")
        gate.set()
    assert outcomes.count("$argon2id$fake") == 3
    assert hasher.pending == 0
    assert await hasher.hash(GOOD) == "$argon2id$fake"


async def test_a_cancelled_waiting_hash_leaves_the_backlog() -> None:
    """A request that goes away while its hash waits for a thread frees its place."""
    gate = threading.Event()

    class HeldContext(CryptContext):
        def hash(self, secret: str | bytes, **kwargs: object) -> str:  # type: ignore[override]
            assert gate.wait(timeout=10), "gate never opened"
            return "$argon2id$fake"

    hasher = PasswordHasher(HeldContext(schemes=["argon2"]), max_concurrency=1, max_queue=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(hasher.hash, GOOD)
        for _ in range(2000):  # bounded: until the first hash holds the only thread
            if hasher.pending:
                break
            await anyio.sleep(0.005)
        with anyio.move_on_after(0.2):
            await hasher.hash(GOOD)  # waits behind the held one, then is cancelled
        assert hasher.pending == 1
        gate.set()
    assert hasher.pending == 0


# --- Policy (the sign-up schema) ---------------------------------------------------


def _signup(password: str) -> UserCreate:
    return UserCreate.model_validate({"email": "p@example.com", "password": password})


@pytest.mark.parametrize(
    "password",
    [
        "eightch!",  # 8 characters: the minimum (P1)
        "x7" * 32,  # 64 characters (P2)
        "q" * 128,  # the maximum
        "with spaces in it",  # P5
        "   leading and trailing   ",  # spaces are kept, not stripped
        "пароль-надёжный",  # Cyrillic
        "密码很长的一句话啊",  # 9 CJK characters
        "emoji 🔐🔐🔐 pass",
    ],
)
def test_accepted_passwords(password: str) -> None:
    """SECURITY P1, P2, P5: 8-128 characters of any Unicode, spaces included, kept verbatim."""
    assert _signup(password).password == password


@pytest.mark.parametrize("password", ["", "1234567", "seven77", "q" * 129, "x" * 10_000])
def test_rejected_lengths(password: str) -> None:
    """SECURITY P1, P2: fewer than 8 or more than 128 characters is a validation error."""
    with pytest.raises(ValidationError):
        _signup(password)


@pytest.mark.parametrize("password", ["password123", "PASSWORD123", "12345678", "Qwertyuiop"])
def test_common_passwords_are_rejected(password: str) -> None:
    """SECURITY P6: the shipped common-password list is enforced, case-insensitively."""
    assert password_policy.is_common(password)
    with pytest.raises(ValidationError) as info:
        _signup(password)
    assert "too common" in str(info.value)


def test_common_password_list_ships_with_the_package() -> None:
    """SECURITY P6: the list is a package data file with a useful number of entries."""
    listed = password_policy.common_passwords()
    assert len(listed) >= 100
    assert all(entry == entry.lower() for entry in listed)
    assert not password_policy.is_common(GOOD)
