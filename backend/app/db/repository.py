"""Generic async repository: the only place that turns ORM models into SQL (ADR-0007).

A domain repository subclasses :class:`Repository` with its model and adds its own
queries. Repositories ``flush`` but never ``commit``: the request's session
(:data:`app.db.session.SessionDep`) commits once, after the handler succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base

ModelT = TypeVar("ModelT", bound=Base)

#: Hard cap on any page size, whatever the caller asks for (SECURITY R2).
MAX_PAGE_SIZE = 100

ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list and the total it was cut from. Subclass it per resource
    (``class UserPage(Page[UserPublic])``) so the schema names the page after it."""

    items: list[ItemT]
    total: int = Field(ge=0)
    offset: int = Field(ge=0)
    limit: int = Field(ge=0, le=MAX_PAGE_SIZE)


class Repository(Generic[ModelT]):
    """CRUD helpers for one model. Subclasses set ``model``."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: uuid.UUID) -> ModelT | None:
        """The row with primary key ``id_``, or ``None``."""
        instance: ModelT | None = await self.session.get(self.model, id_)
        return instance

    async def add(self, instance: ModelT) -> ModelT:
        """Insert ``instance`` and flush, so constraint violations surface here."""
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def delete(self, instance: ModelT) -> None:
        """Delete ``instance`` and flush."""
        await self.session.delete(instance)
        await self.session.flush()

    async def list(self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE) -> Sequence[ModelT]:
        """One page ordered by creation time then id; ``limit`` is capped at
        :data:`MAX_PAGE_SIZE` and ``offset`` floored at 0."""
        limit = max(0, min(limit, MAX_PAGE_SIZE))
        offset = max(0, offset)
        order = [
            getattr(self.model, name) for name in ("created_at", "id") if hasattr(self.model, name)
        ]
        result = await self.session.scalars(
            select(self.model).order_by(*order).offset(offset).limit(limit)
        )
        return result.all()

    async def count(self) -> int:
        """Number of rows."""
        total = await self.session.scalar(select(func.count()).select_from(self.model))
        return int(total or 0)
