"""Declarative base: constraint naming convention and UTC timestamps (ADR-0009)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.db.base import NAMING_CONVENTION, Base, UTCDateTime
from app.models import Base as RegistryBase


def test_model_registry_exports_the_one_base() -> None:
    assert RegistryBase is Base


def test_constraint_names_follow_the_convention() -> None:
    metadata = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    table = sa.Table(
        "widget",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(8), unique=True),
    )
    names = {c.name for c in table.constraints}
    assert Base.metadata.naming_convention == NAMING_CONVENTION | {
        k: v for k, v in Base.metadata.naming_convention.items() if k not in NAMING_CONVENTION
    }
    assert {"pk_widget", "uq_widget_code"} <= names


def test_utc_datetime_rejects_naive_and_returns_aware() -> None:
    column = UTCDateTime()
    dialect = sa.create_engine("sqlite://").dialect
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 1), dialect)
    value = column.process_result_value(datetime(2026, 1, 1), dialect)
    assert value is not None
    assert value.tzinfo is UTC
