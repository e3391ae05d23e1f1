"""``/api/v1/users``: sign-up, the current user, user lookup, admin listing, changes and
deletion (ADR-0019, ADR-0031). Self-service on ``/users/me`` (email, sessions) is in
``app.auth.account_routes``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.convertors import StringConvertor, register_url_convertor

from app.container import ContainerDep
from app.core.errors import error_responses
from app.core.paths import API_V1_PREFIX
from app.db.session import SessionDep
from app.users.dependencies import AdminUser, AnyUser, CurrentUser, UserServiceDep
from app.users.models import EMAIL_MAX_LENGTH
from app.users.schemas import UserAdminUpdate, UserCreate, UserPage, UserPublic, UserSort
from app.users.service import MAX_PAGE_SIZE
from app.users.verification import send_verification_after_commit

router = APIRouter(prefix=f"{API_V1_PREFIX}/users", tags=["users"])


class NotMeConvertor(StringConvertor):
    """A path segment other than ``me``. ``/users/me`` is a route of its own with only
    ``GET``, so ``DELETE /users/me`` must be a 405 that advertises ``Allow: GET``, not a
    request routed to ``DELETE /users/{user_id}`` (where ``me`` would be a 422)."""

    regex = "(?!me$)[^/]+"


register_url_convertor("not_me", NotMeConvertor())

#: Operation ids are part of the contract (clients, links, schemathesis).
GET_USER_OPERATION = "users_get"
DELETE_USER_OPERATION = "users_delete"

_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The user was created.",
        "links": {
            "GetUserById": {
                "operationId": GET_USER_OPERATION,
                "parameters": {"user_id": "$response.body#/id"},
                "description": "The `id` in the response is `user_id` of `GET /users/{user_id}`.",
            },
            "DeleteUserById": {
                "operationId": DELETE_USER_OPERATION,
                "parameters": {"user_id": "$response.body#/id"},
                "description": "The `id` is `user_id` of `DELETE /users/{user_id}` (admins).",
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    operation_id="users_create",
    summary="Sign up",
    responses={**_CREATED, **error_responses(409, 422, 429, 503, retry_after=(429, 503))},
)
async def create_user(
    body: UserCreate,
    service: UserServiceDep,
    request: Request,
    app: ContainerDep,
    session: SessionDep,
) -> UserPublic:
    """Create an account. The email is unique case-insensitively (409 otherwise);
    ``is_superuser``/``is_active`` and any other field are rejected (422). Sign-ups are
    throttled per client IP (429 with ``Retry-After``); when the server's password-hashing
    backlog is full the answer is 503 with ``Retry-After`` at once."""
    await app.signup_throttle.hit(request.scope)  # before any lookup or hashing (ADR-0028)
    user = await service.sign_up(body.email, body.password)
    send_verification_after_commit(session, app.jobs, user)  # a job mails the link (ADR-0038)
    return UserPublic.model_validate(user)


@router.get(
    "/me",
    operation_id="users_me",
    summary="The current user",
)
async def read_me(user: AnyUser) -> UserPublic:
    """The user the bearer token belongs to."""
    return UserPublic.model_validate(user)


@router.get(
    "",
    operation_id="users_list",
    summary="List users (admin)",
    responses=error_responses(403, 422),
)
async def list_users(
    service: UserServiceDep,
    _: AdminUser,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    email: Annotated[
        str | None,
        Query(max_length=EMAIL_MAX_LENGTH, description="Only addresses containing this, any case."),
    ] = None,
    is_active: Annotated[bool | None, Query(description="Only (in)active accounts.")] = None,
    is_superuser: Annotated[bool | None, Query(description="Only (non-)superusers.")] = None,
    sort: Annotated[UserSort, Query(description="Order; `-` for descending.")] = "created_at",
) -> UserPage:
    """One page of users (oldest first unless `sort` says otherwise) and the total that
    match the filters. Superusers only (403 otherwise)."""
    users, total = await service.list_users(
        offset=offset,
        limit=limit,
        email_contains=email,
        is_active=is_active,
        is_superuser=is_superuser,
        sort=sort,
    )
    return UserPage(
        items=[UserPublic.model_validate(u) for u in users],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.get(
    "/{user_id}",
    operation_id=GET_USER_OPERATION,
    summary="Get a user",
    responses=error_responses(403, 404, 422),
)
async def read_user(user_id: uuid.UUID, caller: CurrentUser, service: UserServiceDep) -> UserPublic:
    """A user by id: yourself, or anyone if you are a superuser.

    Others get 403 whether or not the id exists; only superusers see 404.
    """
    return await service.get_public_for_caller(caller, user_id)


@router.patch(
    "/{user_id:not_me}",
    operation_id="users_update",
    summary="Change a user (admin)",
    responses=error_responses(403, 404, 409, 422),
)
async def update_user(
    user_id: uuid.UUID, body: UserAdminUpdate, caller: AdminUser, service: UserServiceDep
) -> UserPublic:
    """Activate, deactivate, promote or demote an account. Superusers only (403
    otherwise); 404 for an unknown id; 409 when it would leave no active superuser.
    A deactivated user's tokens and sessions stop working at once."""
    user = await service.change_roles(
        caller, user_id, is_active=body.is_active, is_superuser=body.is_superuser
    )
    return UserPublic.model_validate(user)


@router.delete(
    "/{user_id:not_me}",
    status_code=204,
    operation_id=DELETE_USER_OPERATION,
    summary="Delete a user (admin)",
    responses=error_responses(403, 404, 409, 422),
    response_class=Response,
)
async def delete_user(user_id: uuid.UUID, caller: AdminUser, service: UserServiceDep) -> None:
    """Delete an account. Superusers only (403 otherwise); 404 for an unknown id; 409 for
    your own account. The id stays gone: reads are 404 and its tokens 401."""
    await service.delete(caller, user_id)
