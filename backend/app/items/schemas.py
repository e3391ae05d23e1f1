"""Request and response shapes for items. Inputs are strict and refuse unknown fields
(an owner or a version can never come from a body); outputs are an allow-list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator
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


#: The example item of the schema (docs/reference/api.md and Swagger UI show it).
ITEM_EXAMPLE: dict[str, JsonValue] = {
    "id": "5c1d7a9e-3b2f-4e6a-8d0c-9f1e2a3b4c5d",
    "owner_id": "0b0e9c6e-5f7a-4c1e-9d3b-2f6a8c1d4e57",
    "name": "Notebook",
    "description": "A5, dotted pages",
    "version": 1,
    "created_at": "2026-01-15T09:31:00Z",
    "updated_at": "2026-01-15T09:31:00Z",
}


class ItemCreate(BaseModel):
    """Body of ``POST /items``. Any other field is a 422."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Notebook", "description": "A5, dotted pages"}]},
    )

    name: Name
    description: Description | None = None


class ItemUpdate(BaseModel):
    """Body of ``PATCH /items/{item_id}``: only the fields sent change; ``description:
    null`` clears it."""

    model_config = ConfigDict(
        strict=True, extra="forbid", json_schema_extra={"examples": [{"name": "Notebook (A4)"}]}
    )

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

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ITEM_EXAMPLE]})

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    version: int = Field(ge=1, description="Equals the `ETag` (quoted) of the item.")
    created_at: datetime
    updated_at: datetime


class ItemPage(Page[ItemPublic]):
    """One page of the caller's items."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [ITEM_EXAMPLE], "total": 1, "offset": 0, "limit": 20}]
        }
    )
