"""Request and response shapes for items. Inputs are strict and refuse unknown fields
(an owner or a version can never come from a body); outputs are an allow-list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.db.repository import Page
from app.items.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH, pattern=r"\S"),
    Field(description="Unique per owner; not only blanks.", examples=["Notebook"]),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_LENGTH),
    Field(examples=["A5, dotted pages"]),
]
#: The allow-listed orders of the list; ``-`` means descending.
Sort = Literal["created_at", "-created_at", "name", "-name"]


class ItemCreate(BaseModel):
    """Body of ``POST /items``. Any other field is a 422."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: Name
    description: Description | None = None


class ItemUpdate(BaseModel):
    """Body of ``PATCH /items/{item_id}``: only the fields sent change; ``description:
    null`` clears it."""

    model_config = ConfigDict(strict=True, extra="forbid")

    #: Optional but never null: the schema does not offer ``null`` (a name cannot be cleared).
    name: Name | SkipJsonSchema[None] = None
    description: Description | None = None

    @model_validator(mode="after")
    def _name_cannot_be_cleared(self) -> ItemUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; leave it out to keep it")
        return self


class ItemPublic(BaseModel):
    """An item as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    version: int = Field(ge=1, description="Equals the `ETag` (quoted) of the item.")
    created_at: datetime
    updated_at: datetime


class ItemPage(Page[ItemPublic]):
    """One page of the caller's items."""
