"""``/api/v1/items``: the caller's items (ADR-0033). Another owner's item answers exactly
like a missing one (404); a superuser sees and changes every item."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from app.core.errors import error_responses
from app.core.paths import API_V1_PREFIX
from app.items.dependencies import ItemServiceDep
from app.items.models import NAME_MAX_LENGTH
from app.items.schemas import ItemCreate, ItemPage, ItemPublic, ItemUpdate, Sort
from app.items.service import MAX_PAGE_SIZE, etag
from app.users.dependencies import CurrentUser

router = APIRouter(prefix=f"{API_V1_PREFIX}/items", tags=["items"])

GET_ITEM_OPERATION = "items_get"
ETAG_HEADER = {"ETag": {"description": "The item's version, quoted.", "schema": {"type": "string"}}}


def _with_links(description: str) -> dict[str, Any]:
    """A 2xx response that returns an item, with its ETag and the links to the item."""
    return {
        "description": description,
        "headers": ETAG_HEADER,
        "links": {
            operation: {
                "operationId": operation,
                "parameters": {"item_id": "$response.body#/id"},
                "description": f"The response's `id` is `item_id` of `{operation}`.",
            }
            for operation in (GET_ITEM_OPERATION, "items_update", "items_delete")
        },
    }


def _public(item: Any, response: Response) -> ItemPublic:
    response.headers["ETag"] = etag(item)
    return ItemPublic.model_validate(item)


@router.post(
    "",
    status_code=201,
    operation_id="items_create",
    summary="Create an item",
    responses={201: _with_links("The item was created."), **error_responses(409, 422)},
)
async def create_item(
    body: ItemCreate, user: CurrentUser, service: ItemServiceDep, response: Response
) -> ItemPublic:
    """Create an item owned by you. A name you already use is a 409."""
    item = await service.create(user, name=body.name, description=body.description)
    response.headers["Location"] = f"{router.prefix}/{item.id}"
    return _public(item, response)


@router.get(
    "", operation_id="items_list", summary="List your items", responses=error_responses(422)
)
async def list_items(
    user: CurrentUser,
    service: ItemServiceDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    name: Annotated[
        str | None,
        Query(
            max_length=NAME_MAX_LENGTH, description="Only items whose name contains this, any case."
        ),
    ] = None,
    sort: Annotated[Sort, Query(description="Order; `-` for descending.")] = "created_at",
) -> ItemPage:
    """One page of your items (a superuser's page holds everyone's) and their total."""
    items, total = await service.page(
        user, offset=offset, limit=limit, name_contains=name, sort=sort
    )
    return ItemPage(
        items=[ItemPublic.model_validate(i) for i in items], total=total, offset=offset, limit=limit
    )


@router.get(
    "/{item_id}",
    operation_id=GET_ITEM_OPERATION,
    summary="Get an item",
    responses={
        200: {"description": "The item.", "headers": ETAG_HEADER},
        **error_responses(404, 422),
    },
)
async def read_item(
    item_id: uuid.UUID, user: CurrentUser, service: ItemServiceDep, response: Response
) -> ItemPublic:
    """One of your items, with its `ETag`. Anyone else's is a 404, like a missing one."""
    return _public(await service.get(user, item_id), response)


@router.patch(
    "/{item_id}",
    operation_id="items_update",
    summary="Change an item",
    responses={
        200: {"description": "The changed item.", "headers": ETAG_HEADER},
        **error_responses(404, 409, 412, 422, 428),
    },
)
async def update_item(
    item_id: uuid.UUID,
    body: ItemUpdate,
    user: CurrentUser,
    service: ItemServiceDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(max_length=200, description="The `ETag` you read: 412 if the item changed since."),
    ] = None,
) -> ItemPublic:
    """Change the fields you send. With `If-Match` the change applies only to the version
    you read (412 otherwise); when the server requires it, a request without is a 428."""
    changes = body.model_dump(include=body.model_fields_set)
    item = await service.update(user, item_id, changes, if_match)
    return _public(item, response)


@router.delete(
    "/{item_id}",
    status_code=204,
    operation_id="items_delete",
    summary="Delete an item",
    responses=error_responses(404, 422),
    response_class=Response,
)
async def delete_item(item_id: uuid.UUID, user: CurrentUser, service: ItemServiceDep) -> None:
    """Delete one of your items. Anyone else's is a 404, like a missing one."""
    await service.delete(user, item_id)
