"""The rules for items: owner scoping, one name per owner, conditional writes (ADR-0033).

Every read and write goes through :class:`ItemRepository` with the caller, so another
owner's item is indistinguishable from a missing one: the same 404, body and all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired
from app.db.repository import MAX_PAGE_SIZE
from app.items.models import Item
from app.items.repository import ItemRepository, ItemRow
from app.users.models import User

logger = logging.getLogger("app.items")

__all__ = ["MAX_PAGE_SIZE", "ItemService", "etag", "matches"]

NOT_FOUND = "Item not found."
NAME_TAKEN = "You already have an item with this name."


def etag(item: Item) -> str:
    """The strong entity tag of ``item``'s current version: ``"<version>"``."""
    return f'"{item.version}"'


def matches(if_match: str, item: Item) -> bool:
    """RFC 9110 ``If-Match``: ``*``, or a list of entity tags one of which equals the
    item's, compared strongly (a weak ``W/"..."`` tag never matches)."""
    if if_match.strip() == "*":
        return True
    return etag(item) in (tag.strip() for tag in if_match.split(","))


class ItemService:
    """Items on behalf of one caller."""

    def __init__(self, session: AsyncSession, *, require_if_match: bool = False) -> None:
        self.repo = ItemRepository(session)
        self.require_if_match = require_if_match

    async def get(self, caller: User, item_id: uuid.UUID) -> Item:
        """The item, or :class:`NotFound` if it is missing *or* not the caller's."""
        item = await self.repo.get_visible(caller, item_id)
        if item is None:
            raise NotFound(NOT_FOUND)
        return item

    async def page(
        self, caller: User, *, offset: int, limit: int, name_contains: str | None, sort: str
    ) -> tuple[Sequence[ItemRow], int]:
        """One page of the caller's items (every item for a superuser) and the total, as
        rows (columns only, ADR-0042)."""
        return await self.repo.page(
            caller, offset=offset, limit=limit, name_contains=name_contains, sort=sort
        )

    async def create(self, caller: User, *, name: str, description: str | None) -> Item:
        """A new item owned by ``caller``; a name the caller already uses is a 409, decided
        by the database's unique constraint (race-free)."""
        try:
            item = await self.repo.create(caller, name=name, description=description)
        except IntegrityError:
            raise Conflict(NAME_TAKEN) from None  # the request's session rolls back
        logger.info(
            "item created",
            extra={"event": "items.create", "user_id": str(caller.id), "item_id": str(item.id)},
        )
        return item

    async def update(
        self, caller: User, item_id: uuid.UUID, changes: dict[str, Any], if_match: str | None
    ) -> Item:
        """Apply ``changes``. With ``If-Match`` the write is compare-and-set on the version
        (412 when it moved, even between our read and our write); without it, 428 when
        ``REQUIRE_IF_MATCH`` is on, else the last write wins."""
        item = await self.get(caller, item_id)
        expected: int | None = None
        if if_match is not None:
            if not matches(if_match, item):
                raise PreconditionFailed()
            expected = item.version if if_match.strip() != "*" else None
        elif self.require_if_match:
            raise PreconditionRequired()
        if not changes:
            return item
        try:
            changed = await self.repo.change(item, expected, **changes)
        except IntegrityError:
            raise Conflict(NAME_TAKEN) from None
        if not changed:
            raise PreconditionFailed()
        return item

    async def delete(self, caller: User, item_id: uuid.UUID) -> None:
        """Delete the item, or :class:`NotFound` exactly as for a missing one."""
        item = await self.get(caller, item_id)
        await self.repo.delete(item)
        logger.info(
            "item deleted",
            extra={"event": "items.delete", "user_id": str(caller.id), "item_id": str(item_id)},
        )
