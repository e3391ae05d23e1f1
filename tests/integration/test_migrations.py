"""Migrations: upgrade -> downgrade -> upgrade on SQLite and PostgreSQL, and models and
migrations agree (``alembic check``). ADR-0009, ADR-0031."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrations
from app.db.base import NAMING_CONVENTION
from app.db.migrations import MIGRATIONS_DIR, alembic_config

VERSIONS = MIGRATIONS_DIR / "versions"


def _inspect(url: str) -> dict[str, object]:
    async def run() -> dict[str, object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:

                def describe(sync_conn: sa.Connection) -> dict[str, object]:
                    insp = sa.inspect(sync_conn)
                    tables = set(insp.get_table_names())
                    info: dict[str, object] = {"tables": tables}
                    if "users" in tables:
                        info["indexes"] = {
                            ix["name"]: bool(ix["unique"]) for ix in insp.get_indexes("users")
                        }
                        info["pk"] = insp.get_pk_constraint("users")["name"]
                    return info

                return await conn.run_sync(describe)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _round_trip(url: str) -> None:
    migrations.upgrade(url)
    head = _inspect(url)
    assert "users" in head["tables"]
    assert head["indexes"] == {"ix_users_email": True}
    assert head["pk"] in ("pk_users", None)  # SQLite does not reflect PK names
    migrations.downgrade(url, "base")
    assert "users" not in _inspect(url)["tables"]
    migrations.upgrade(url)
    assert _inspect(url) == head
    command.check(alembic_config(url))


def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path: Path) -> None:
    """Every migration reverses cleanly on a fresh SQLite file (D6)."""
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}")


def test_upgrade_downgrade_upgrade_on_the_suite_database(database_url: str) -> None:
    """The same round trip on the suite's database: PostgreSQL when DATABASE_URL points at
    one (``.ci/run``), else SQLite. Leaves the schema at head for the remaining tests."""
    try:
        _round_trip(database_url)
    finally:
        migrations.upgrade(database_url)


_USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String(254)),
    sa.column("hashed_password", sa.String(255)),
)


def _fullwidth(ascii_text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in ascii_text)


def _emails_after_0003(url: str, stored: list[str]) -> dict[str, str]:
    """Store ``stored`` at revision 0002, upgrade to head; stored email -> email now."""
    migrations.downgrade(url, "0002")
    ids = {email: uuid.uuid4() for email in stored}

    async def run(insert: bool) -> dict[uuid.UUID, str]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                if insert:
                    await conn.execute(
                        sa.insert(_USERS),
                        [{"id": i, "email": e, "hashed_password": "x"} for e, i in ids.items()],
                    )
                rows = await conn.execute(sa.select(_USERS.c.id, _USERS.c.email))
                return {row.id: row.email for row in rows}
        finally:
            await engine.dispose()

    asyncio.run(run(insert=True))
    migrations.upgrade(url)
    now = asyncio.run(run(insert=False))
    return {email: now[i] for email, i in ids.items()}


@pytest.mark.parametrize("where", ["sqlite_file", "suite_database"])
def test_0003_rewrites_stored_emails_to_nfkc_and_leaves_conflicts(
    where: str, tmp_path: Path, database_url: str
) -> None:
    """ADR-0031: rows stored before NFKC (a fullwidth address) take the canonical form, so
    their owners can log in and the plain spelling cannot sign up again; a row whose
    canonical form another row already holds is left for an operator (both unchanged)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'nfkc.db'}" if where == "sqlite_file" else database_url
    if where == "sqlite_file":
        migrations.upgrade(url)
    kate, ann = _fullwidth("kate") + "@example.com", _fullwidth("ann") + "@example.com"
    try:
        after = _emails_after_0003(url, [kate, "bob@example.com", ann, "ann@example.com"])
        assert after == {
            kate: "kate@example.com",
            "bob@example.com": "bob@example.com",
            ann: ann,  # conflict: left as it was
            "ann@example.com": "ann@example.com",
        }
    finally:
        migrations.upgrade(url)  # the suite's database stays at head


def test_alembic_check_models_and_migrations_agree(database_url: str) -> None:
    """``alembic check``: autogenerate finds nothing to add, so models == migrations."""
    command.check(alembic_config(database_url))


def test_history_is_linear_and_every_revision_reversible() -> None:
    """One head, and every revision has a downgrade (no ``pass``-only downgrades)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        source = Path(revision.path).read_text()
        body = source.split("def downgrade()", 1)[1]
        assert "op." in body, revision.revision


def test_constraint_names_follow_the_convention() -> None:
    """Migrations name constraints as the metadata naming convention does (ADR-0009)."""
    assert NAMING_CONVENTION["pk"] == "pk_%(table_name)s"
    text = "".join(p.read_text() for p in VERSIONS.glob("*.py"))
    assert 'op.f("pk_users")' in text
    assert 'op.f("ix_users_email")' in text
