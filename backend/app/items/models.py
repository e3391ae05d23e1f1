"""The ``items`` table: a user's items, unique by name per owner (ADR-0033)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, UUIDPrimaryKeyMixin

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000


class Item(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An item owned by one user. Deleting the user deletes their items (the database
    cascades, so no request can see an orphan)."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_items_owner_id_name"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), nullable=False)
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX_LENGTH))
    #: Incremented by every change; the ``ETag`` that ``If-Match`` compares (ADR-0033).
    version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default=text("1")
    )

    def __repr__(self) -> str:
        return f"Item(id={self.id!s}, owner_id={self.owner_id!s}, version={self.version})"
