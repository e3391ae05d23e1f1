"""The example owned resource over HTTP (SECURITY A1, A3, R2; ADR-0033): the owner
matrix, pagination, filter and sort allow-lists, the name race, conditional writes and
the cascade on user deletion. Runs on SQLite and, in CI, on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.items.models import Item
from app.items.repository import visible_to
from app.items.service import NAME_TAKEN, NOT_FOUND
from tests.fixtures.app import serve
from tests.fixtures.auth import add_user, bearer, login

ITEMS = "/api/v1/items"
PUBLIC_FIELDS = {"id", "owner_id", "name", "description", "version", "created_at", "updated_at"}


@dataclass
class World:
    """Two users, an admin, and an item of the first user's."""

    client: httpx.AsyncClient
    owner: dict[str, str]
    other: dict[str, str]
    admin: dict[str, str]
    owner_id: uuid.UUID
    item: dict[str, object]


@pytest.fixture
async def world(app: FastAPI) -> AsyncIterator[World]:
    async with serve(app) as client:
        owner_id = await add_user(app, "owner@example.com")
        await add_user(app, "other@example.com")
        await add_user(app, "admin@example.com", is_superuser=True)
        owner = bearer(await login(client, "owner@example.com"))
        created = await client.post(ITEMS, json={"name": "Notebook"}, headers=owner)
        assert created.status_code == 201, created.text
        yield World(
            client=client,
            owner=owner,
            other=bearer(await login(client, "other@example.com")),
            admin=bearer(await login(client, "admin@example.com")),
            owner_id=owner_id,
            item=created.json(),
        )


async def test_create_returns_the_public_item_with_etag_and_location(world: World) -> None:
    body = world.item
    assert set(body) == PUBLIC_FIELDS
    assert body["owner_id"] == str(world.owner_id)
    assert (body["name"], body["description"], body["version"]) == ("Notebook", None, 1)
    read = await world.client.get(f"{ITEMS}/{body['id']}", headers=world.owner)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == body


# --- The owner matrix: another user's item is exactly a missing item ----------------------


def _error(response: httpx.Response) -> dict[str, object]:
    """The error envelope without its per-request id."""
    error: dict[str, object] = response.json()["error"]
    return {key: value for key, value in error.items() if key != "request_id"}


def _operations(item_id: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", f"{ITEMS}/{item_id}", None),
        ("PATCH", f"{ITEMS}/{item_id}", {"name": "Renamed"}),
        ("DELETE", f"{ITEMS}/{item_id}", None),
    ]


async def test_a1_another_users_item_is_indistinguishable_from_a_missing_one(
    world: World,
) -> None:
    """SECURITY A1 (ADR-0033): status, code and message of another owner's item equal those
    of an id that never existed, for every operation; and nothing changed."""
    for (method, url, body), (_, missing_url, _) in zip(
        _operations(str(world.item["id"])), _operations(str(uuid.uuid4())), strict=True
    ):
        theirs = await world.client.request(method, url, json=body, headers=world.other)
        missing = await world.client.request(method, missing_url, json=body, headers=world.other)
        assert theirs.status_code == missing.status_code == 404, (method, theirs.text)
        assert _error(theirs) == _error(missing) == {
            "code": "not_found", "message": NOT_FOUND, "details": None,
        }  # fmt: skip
    still = await world.client.get(f"{ITEMS}/{world.item['id']}", headers=world.owner)
    assert still.json() == world.item
    listing = await world.client.get(ITEMS, headers=world.other)
    assert listing.json() == {"items": [], "total": 0, "offset": 0, "limit": 20}


async def test_owner_and_superuser_may_do_everything_anonymous_nothing(world: World) -> None:
    """The rest of the matrix: the owner and a superuser read, change and delete;
    anonymous callers get 401 on every operation."""
    item_id = str(world.item["id"])
    for method, url, body in [("GET", ITEMS, None), *_operations(item_id)]:
        anonymous = await world.client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)
    admin_list = await world.client.get(ITEMS, headers=world.admin)
    assert [i["id"] for i in admin_list.json()["items"]] == [item_id]
    changed = await world.client.patch(
        f"{ITEMS}/{item_id}", json={"description": "by admin"}, headers=world.admin
    )
    assert changed.status_code == 200
    assert changed.json()["owner_id"] == str(world.owner_id)  # ownership never moves
    owner_patch = await world.client.patch(
        f"{ITEMS}/{item_id}", json={"name": "Mine"}, headers=world.owner
    )
    assert (owner_patch.status_code, owner_patch.json()["version"]) == (200, 3)
    assert (await world.client.delete(f"{ITEMS}/{item_id}", headers=world.owner)).status_code == 204
    gone = await world.client.get(f"{ITEMS}/{item_id}", headers=world.admin)
    assert gone.status_code == 404


# --- Input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": 5},
        {"name": "ok", "description": "d" * 1001},
        {"name": "ok", "owner_id": str(uuid.uuid4())},
        {"name": "ok", "version": 7},
        {"name": "ok", "id": str(uuid.uuid4())},
    ],
)
async def test_a3_bad_or_privileged_input_is_422(world: World, body: dict[str, object]) -> None:
    """SECURITY A3: owner, id and version never come from a body; bounds are enforced."""
    response = await world.client.post(ITEMS, json=body, headers=world.owner)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_patch_rejects_null_name_and_unknown_fields(world: World) -> None:
    url = f"{ITEMS}/{world.item['id']}"
    for body in ({"name": None}, {"owner_id": str(uuid.uuid4())}, {"version": 9}):
        response = await world.client.patch(url, json=body, headers=world.owner)
        assert response.status_code == 422, body
    cleared = await world.client.patch(url, json={"description": None}, headers=world.owner)
    assert cleared.status_code == 200
    assert cleared.json()["version"] == 2


# --- One name per owner -------------------------------------------------------------------


async def test_a_name_is_unique_per_owner_not_globally(world: World) -> None:
    again = await world.client.post(ITEMS, json={"name": "Notebook"}, headers=world.owner)
    assert again.status_code == 409
    assert again.json()["error"]["message"] == NAME_TAKEN
    theirs = await world.client.post(ITEMS, json={"name": "Notebook"}, headers=world.other)
    assert theirs.status_code == 201
    second = await world.client.post(ITEMS, json={"name": "Pen"}, headers=world.owner)
    clash = await world.client.patch(
        f"{ITEMS}/{second.json()['id']}", json={"name": "Notebook"}, headers=world.owner
    )
    assert clash.status_code == 409


@pytest.mark.timing
async def test_twenty_concurrent_creates_of_one_name_make_one_item(world: World) -> None:
    """The database constraint decides: exactly one 201, the rest 409, never a 500."""
    responses = await asyncio.gather(
        *(world.client.post(ITEMS, json={"name": "Race"}, headers=world.owner) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    listing = await world.client.get(ITEMS, params={"name": "race"}, headers=world.owner)
    assert listing.json()["total"] == 1


# --- Conditional writes -------------------------------------------------------------------


async def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(world: World) -> None:
    url = f"{ITEMS}/{world.item['id']}"
    first = await world.client.patch(
        url, json={"name": "One"}, headers={**world.owner, "If-Match": '"1"'}
    )
    assert (first.status_code, first.headers["etag"]) == (200, '"2"')
    stale = await world.client.patch(
        url, json={"name": "Two"}, headers={**world.owner, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    for if_match in ('W/"2"', '"2x"', "garbage"):
        refused = await world.client.patch(
            url, json={"name": "Two"}, headers={**world.owner, "If-Match": if_match}
        )
        assert refused.status_code == 412, if_match
    current = await world.client.get(url, headers=world.owner)
    assert (current.json()["name"], current.json()["version"]) == ("One", 2)
    for if_match in ('"7", "2"', "*"):
        ok = await world.client.patch(
            url, json={"description": if_match}, headers={**world.owner, "If-Match": if_match}
        )
        assert ok.status_code == 200, if_match


async def test_of_concurrent_conditional_writes_from_one_version_one_wins(world: World) -> None:
    """Compare-and-set on the version: five writers that all read version 1 get one 200
    and four 412s; the item holds the winner's change (no lost update)."""
    url = f"{ITEMS}/{world.item['id']}"
    responses = await asyncio.gather(
        *(
            world.client.patch(
                url, json={"description": f"writer {n}"}, headers={**world.owner, "If-Match": '"1"'}
            )
            for n in range(5)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412, 412, 412, 412], statuses
    winner = next(r for r in responses if r.status_code == 200).json()
    current = (await world.client.get(url, headers=world.owner)).json()
    assert (current["description"], current["version"]) == (winner["description"], 2)


async def test_428_when_the_setting_requires_if_match(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(require_if_match=True)
    async with serve(app) as client:
        await add_user(app, "owner@example.com")
        owner = bearer(await login(client, "owner@example.com"))
        item = (await client.post(ITEMS, json={"name": "Cup"}, headers=owner)).json()
        url = f"{ITEMS}/{item['id']}"
        refused = await client.patch(url, json={"name": "Mug"}, headers=owner)
        assert refused.status_code == 428
        assert refused.json()["error"]["code"] == "precondition_required"
        ok = await client.patch(url, json={"name": "Mug"}, headers={**owner, "If-Match": '"1"'})
        assert ok.status_code == 200


# --- Listing ------------------------------------------------------------------------------


async def test_r2_list_pages_filters_and_sorts_by_allow_list(world: World) -> None:
    """SECURITY R2: bounded limit; a case-insensitive substring filter that treats `%` and
    `_` literally; only the allow-listed sort orders."""
    for name in ("alpha", "Beta", "gamma_1", "gamma%2", "delta"):
        created = await world.client.post(ITEMS, json={"name": name}, headers=world.owner)
        assert created.status_code == 201
    get = lambda **params: world.client.get(ITEMS, params=params, headers=world.owner)  # noqa: E731
    page = (await get(limit=2, offset=1)).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (6, 2, 1, 2)
    by_name = [i["name"] for i in (await get(sort="name")).json()["items"]]
    assert by_name == sorted(by_name)
    assert [i["name"] for i in (await get(sort="-name")).json()["items"]] == by_name[::-1]
    newest_first = [i["name"] for i in (await get(sort="-created_at")).json()["items"]]
    assert newest_first[0] == "delta"
    assert [i["name"] for i in (await get(name="BET")).json()["items"]] == ["Beta"]
    assert [i["name"] for i in (await get(name="_")).json()["items"]] == ["gamma_1"]
    assert [i["name"] for i in (await get(name="%")).json()["items"]] == ["gamma%2"]
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"sort": "owner_id"},
                   {"sort": "hashed_password"}, {"name": "n" * 101}):  # fmt: skip
        assert (await get(**params)).status_code == 422, params


# --- Deleting a user deletes their items ---------------------------------------------------


async def test_deleting_a_user_deletes_their_items(world: World) -> None:
    """The foreign key cascades (ADR-0033): no 500, no orphan visible to the admin."""
    extra = await world.client.post(ITEMS, json={"name": "Lamp"}, headers=world.owner)
    assert extra.status_code == 201
    kept = await world.client.post(ITEMS, json={"name": "Chair"}, headers=world.other)
    deleted = await world.client.delete(f"/api/v1/users/{world.owner_id}", headers=world.admin)
    assert deleted.status_code == 204, deleted.text
    remaining = (await world.client.get(ITEMS, headers=world.admin)).json()
    assert [i["id"] for i in remaining["items"]] == [kept.json()["id"]]
    gone = await world.client.get(f"{ITEMS}/{world.item['id']}", headers=world.admin)
    assert gone.status_code == 404


async def test_a_scoped_query_without_its_caller_fails_instead_of_widening(app: FastAPI) -> None:
    """ADR-0033: the owner is a bound parameter of statements built once; one run without
    it is refused before any SQL is sent, never a query over every owner's rows."""
    statement = sa.select(Item).where(*visible_to(everyone=False))
    async with serve(app), app.state.container.database.read_sessionmaker() as session:
        with pytest.raises(sa.exc.StatementError, match="owner"):
            await session.execute(statement)
