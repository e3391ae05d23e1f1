"""Database access for items. Every query is scoped to the caller here, in SQL: a row
of another owner is never loaded, so it cannot leak by a forgotten check (ADR-0033).
Routes never import this module (import-linter contract)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, func, select, update

from app.db.repository import MAX_PAGE_SIZE, Repository
from app.items.models import Item
from app.users.models import User

#: ``sort`` value -> ORDER BY; the id breaks ties so pages never overlap.
ORDERS: dict[str, tuple[Any, ...]] = {
    "created_at": (Item.created_at.asc(), Item.id.asc()),
    "-created_at": (Item.created_at.desc(), Item.id.desc()),
    "name": (Item.name.asc(), Item.id.asc()),
    "-name": (Item.name.desc(), Item.id.desc()),
}


def visible_to(caller: User) -> list[ColumnElement[bool]]:
    """The WHERE conditions that limit a query to the rows ``caller`` may see: their
    own, or every row for a superuser."""
    return [] if caller.is_superuser else [Item.owner_id == caller.id]


class ItemRepository(Repository[Item]):
    """Queries on the ``items`` table, always on behalf of a caller."""

    model = Item

    async def get_visible(self, caller: User, item_id: uuid.UUID) -> Item | None:
        """The item if it exists *and* ``caller`` may see it, else ``None``."""
        statement = select(Item).where(Item.id == item_id, *visible_to(caller))
        return cast(Item | None, await self.session.scalar(statement))

    async def page(
        self, caller: User, *, offset: int, limit: int, name_contains: str | None, sort: str
    ) -> tuple[Sequence[Item], int]:
        """One page of the items ``caller`` may see, and their total; ``limit`` is capped
        at :data:`MAX_PAGE_SIZE` (SECURITY R2)."""
        conditions = visible_to(caller)
        if name_contains:
            needle = name_contains.lower()
            conditions.append(func.lower(Item.name).contains(needle, autoescape=True))
        query: Select[Item] = select(Item).where(*conditions)
        limit = max(0, min(limit, MAX_PAGE_SIZE))
        rows = await self.session.scalars(
            query.order_by(*ORDERS[sort]).offset(max(0, offset)).limit(limit)
        )
        total = await self.session.scalar(select(func.count()).select_from(Item).where(*conditions))
        return rows.all(), int(total or 0)

    async def create(self, owner: User, *, name: str, description: str | None) -> Item:
        """Insert an item for ``owner``. Raises ``IntegrityError`` on a taken name."""
        return await self.add(Item(owner_id=owner.id, name=name, description=description))

    async def change(self, item: Item, expected_version: int | None, **values: Any) -> bool:
        """One ``UPDATE ... SET ..., version = version + 1``; with ``expected_version``, only
        if the row is still at that version (compare-and-set). Reloads ``item`` and returns
        ``True`` when the row matched. Raises ``IntegrityError`` on a taken name."""
        conditions = [Item.id == item.id]
        if expected_version is not None:
            conditions.append(Item.version == expected_version)
        statement = (
            update(Item)
            .where(*conditions)
            .values(**values, version=Item.version + 1)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        if cast("CursorResult[Any]", result).rowcount != 1:
            return False
        await self.session.refresh(item)
        return True
