"""Database access for items. Every query is scoped to the caller here, in SQL: a row
of another owner is never loaded, so it cannot leak by a forgotten check (ADR-0033).
The read queries are built once, with the caller and the page as bound parameters, and a
page is read as rows, not ORM objects (ADR-0042). Routes never import this module
(import-linter contract)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Row, Select, bindparam, func, select, update

from app.db.repository import MAX_PAGE_SIZE, Repository
from app.items.models import Item
from app.users.models import User

_ITEMS = Item.__table__
#: One row of a page: read like an :class:`Item` (``row.name``), columns only.
ItemRow = Row[Any]

#: ``sort`` value -> ORDER BY; the id breaks ties so pages never overlap.
ORDERS: dict[str, tuple[Any, ...]] = {
    "created_at": (_ITEMS.c.created_at.asc(), _ITEMS.c.id.asc()),
    "-created_at": (_ITEMS.c.created_at.desc(), _ITEMS.c.id.desc()),
    "name": (_ITEMS.c.name.asc(), _ITEMS.c.id.asc()),
    "-name": (_ITEMS.c.name.desc(), _ITEMS.c.id.desc()),
}


def visible_to(everyone: bool) -> list[ColumnElement[bool]]:
    """The WHERE conditions that limit a query to the rows its caller may see: every row
    for a superuser (``everyone``), else the rows of the owner bound as ``owner`` (the
    caller's id, :func:`as_caller`). Bound, so one statement serves every caller."""
    return [] if everyone else [_ITEMS.c.owner_id == bindparam("owner")]


def as_caller(user: User) -> dict[str, Any]:
    """The parameters :func:`visible_to` binds, for ``user``."""
    return {"owner": user.id}


@cache
def _one(everyone: bool) -> Select[Item]:
    return select(Item).where(Item.id == bindparam("item_id"), *visible_to(everyone))


@cache
def _page(sort: str, everyone: bool) -> tuple[Select[Any], Select[Any]]:
    """A page (``offset``, ``limit`` bound) and its count, built once per shape."""
    conditions = visible_to(everyone)
    page = select(_ITEMS).where(*conditions).order_by(*ORDERS[sort])
    page = page.offset(bindparam("offset")).limit(bindparam("limit"))
    return page, select(func.count()).select_from(_ITEMS).where(*conditions)


class ItemRepository(Repository[Item]):
    """Queries on the ``items`` table, always on behalf of a caller."""

    model = Item

    async def get_visible(self, caller: User, item_id: uuid.UUID) -> Item | None:
        """The item if it exists *and* ``caller`` may see it, else ``None``."""
        params = {**as_caller(caller), "item_id": item_id}
        return cast(Item | None, await self.session.scalar(_one(caller.is_superuser), params))

    async def page(
        self, caller: User, *, offset: int, limit: int, name_contains: str | None, sort: str
    ) -> tuple[Sequence[ItemRow], int]:
        """One page of the items ``caller`` may see, and their total; ``limit`` is capped
        at :data:`MAX_PAGE_SIZE` (SECURITY R2)."""
        page, count = _page(sort, caller.is_superuser)
        if name_contains:
            match = func.lower(_ITEMS.c.name).contains(name_contains.lower(), autoescape=True)
            page, count = page.where(match), count.where(match)
        limit = max(0, min(limit, MAX_PAGE_SIZE))
        params = {**as_caller(caller), "offset": max(0, offset), "limit": limit}
        rows = (await self.session.execute(page, params)).all()
        total = await self.session.scalar(count, params)
        return rows, int(total or 0)

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
