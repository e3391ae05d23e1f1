"""The item service for the current request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.settings import SettingsDep
from app.db.session import SessionDep
from app.items.service import ItemService


async def get_item_service(session: SessionDep, settings: SettingsDep) -> ItemService:
    """An :class:`ItemService` on the request's session."""
    return ItemService(session, require_if_match=settings.require_if_match)


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
