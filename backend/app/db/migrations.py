"""Run Alembic programmatically (the CLI, ``make run`` and tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

#: ``backend/migrations`` (next to the ``app`` package).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for ``database_url`` that needs no ini or toml file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``. Must not be called from a running event loop."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)
