"""UserRepository and the generic Repository on the real schema (ADR-0031; SECURITY R2, D6).

Runs on SQLite by default and on PostgreSQL when DATABASE_URL points at one: the
uniqueness and error behaviour must be the same on both (D6).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy.exc import IntegrityError

from app.db.repository import MAX_PAGE_SIZE
from app.users.models import User, normalize_email
from app.users.repository import UserRepository
from tests.fixtures.app import serve

HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"  # pragma: allowlist secret


@pytest.fixture
async def session(app):
    async with serve(app), app.state.container.database.sessionmaker() as session:
        yield session


async def test_create_get_by_id_and_email_case_insensitively(session) -> None:
    """Emails are stored lower-cased and found whatever the case (ADR-0031)."""
    repo = UserRepository(session)
    user = await repo.create(email="  Grace.Hopper@Navy.MIL ", hashed_password=HASH)
    await session.commit()
    assert user.email == "grace.hopper@navy.mil"
    assert isinstance(user.id, uuid.UUID)
    assert (await repo.get(user.id)) is user
    assert (await repo.get_by_email("GRACE.HOPPER@navy.mil")).id == user.id
    assert await repo.get_by_email("nobody@navy.mil") is None
    assert await repo.get(uuid.uuid4()) is None
    assert user.is_active is True
    assert user.is_superuser is False
    assert "argon2" not in repr(user)


async def test_timestamps_are_timezone_aware(session) -> None:
    """created_at/updated_at come back aware (UTC) on SQLite and PostgreSQL alike."""
    repo = UserRepository(session)
    user = await repo.create(email="t@example.com", hashed_password=HASH)
    await session.commit()
    session.expunge_all()
    fresh = await UserRepository(session).get(user.id)
    assert fresh is not None
    for moment in (fresh.created_at, fresh.updated_at):
        assert isinstance(moment, datetime)
        assert moment.utcoffset() is not None
        assert moment.utcoffset().total_seconds() == 0


async def test_d6_duplicate_email_any_case_violates_the_unique_index(session) -> None:
    """SECURITY D6: the database itself refuses a second row for the same address."""
    repo = UserRepository(session)
    await repo.create(email="dup@example.com", hashed_password=HASH)
    await session.commit()
    with pytest.raises(IntegrityError):
        await repo.create(email="DUP@Example.com", hashed_password=HASH)
    await session.rollback()


async def test_deactivation_and_password_hash(session) -> None:
    """Flag and hash updates are single UPDATEs that bump updated_at and reload the object;
    deactivation and a password change increment the token version in SQL (T9)."""
    repo = UserRepository(session)
    user = await repo.create(email="flags@example.com", hashed_password=HASH)
    await session.commit()
    before = user.updated_at
    assert await repo.change_roles(user, is_active=False, is_superuser=None)
    assert user.token_version == 1  # the object shows what the database computed
    rehash = {"expected": HASH, "new": HASH + "x", "revoke_tokens": False}
    assert await repo.replace_password_hash(user, **rehash)
    assert not await repo.replace_password_hash(user, **rehash)  # HASH is no longer stored
    change = {"expected": HASH + "x", "new": HASH + "y", "revoke_tokens": True}
    assert await repo.replace_password_hash(user, **change)
    await session.commit()
    session.expunge_all()
    fresh = await repo.get(user.id)
    assert fresh is not None
    assert (fresh.is_active, fresh.hashed_password) == (False, HASH + "y")
    assert fresh.token_version == 2
    assert fresh.updated_at > before


async def test_r2_pagination_is_ordered_and_capped(session) -> None:
    """SECURITY R2: page sizes are capped at MAX_PAGE_SIZE whatever the caller asks."""
    repo = UserRepository(session)
    for i in range(MAX_PAGE_SIZE + 5):
        session.add(User(email=f"user{i:03d}@example.com", hashed_password=HASH))
    await session.commit()
    assert await repo.count() == MAX_PAGE_SIZE + 5
    assert len(await repo.list(limit=10_000)) == MAX_PAGE_SIZE
    assert len(await repo.list(offset=MAX_PAGE_SIZE, limit=50)) == 5
    assert len(await repo.list(offset=-5, limit=-1)) == 0
    first = await repo.list(limit=3)
    again = await repo.list(limit=3)
    assert [u.id for u in first] == [u.id for u in again]


def test_normalize_email_is_the_one_canonical_form() -> None:
    """One place decides the stored form: stripped and lower-cased."""
    assert normalize_email(" MiXeD@Example.COM\t") == "mixed@example.com"
    assert normalize_email(normalize_email("A@B.C")) == "a@b.c"
