"""Request and response shapes for users (the HTTP reference, docs/reference/api.md).

* :class:`UserCreate` is the *only* input a sign-up accepts: strict types,
  unknown fields rejected (so ``is_superuser``/``is_active`` can never be set by
  the body, SECURITY A3), password rules of :mod:`app.credentials.password_policy`.
* :class:`UserPublic` is the *only* shape a user leaves the API in: an allow-list
  of fields, with no attribute that could carry the hash (A4, ADR-0014).
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.credentials.password_policy import MAX_LENGTH, MIN_LENGTH, check_new_password
from app.db.repository import Page
from app.users.models import EMAIL_MAX_LENGTH, mixes_scripts, normalize_email

#: The password of the schema's examples (an example only; it passes the policy).
EXAMPLE_PASSWORD = "correct horse battery staple 42"  # noqa: S105 # nosec B105 # pragma: allowlist secret


def _check_password(value: str) -> str:
    return check_new_password(value)


def _compatibility_decomposed(value: object) -> object:
    """NFKC before the address is validated, so the validator judges the form we store
    (a fullwidth at sign, U+FF20, becomes ``@``; a no-break space becomes a space, which
    the validator then refuses)."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def _one_script_local_part(email: str) -> str:
    """Refuse a local part that mixes scripts (ADR-0031): a look-alike, not an identity."""
    if mixes_scripts(email.rpartition("@")[0]):
        raise ValueError(
            "the part before @ mixes scripts (e.g. Latin and Cyrillic look-alike letters); "
            "write it in one script"
        )
    return email


Email = Annotated[
    EmailStr,
    Field(
        max_length=EMAIL_MAX_LENGTH,
        examples=["ada@example.com"],
        # Told in the schema: `format: email` cannot say it (tests/contract/hooks.py).
        description=(
            "Unique, case-insensitively and after Unicode NFKC normalisation (a fullwidth "
            "spelling is the same address). A part before @ that mixes scripts (Latin with "
            "Cyrillic or Greek look-alikes) is refused. Addresses under special-use "
            "domains (.test, .local, .localhost, .invalid, .onion, .arpa) are refused."
        ),
    ),
    BeforeValidator(_compatibility_decomposed),
    AfterValidator(normalize_email),
    AfterValidator(_one_script_local_part),
]
#: A plain ``str`` (for clear length messages) that is hidden from ``repr`` and is
#: marked ``format: password`` / write-only in the schema; 422 bodies never echo it.
NewPassword = Annotated[
    str,
    Field(
        repr=False,
        json_schema_extra={"format": "password", "writeOnly": True},
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description=(
            f"{MIN_LENGTH}-{MAX_LENGTH} characters, any Unicode including spaces; "
            "common passwords are refused."
        ),
        examples=[EXAMPLE_PASSWORD],
    ),
    AfterValidator(_check_password),
]


#: The password an account has now, as proof for a change: only bounded, never echoed.
CurrentPassword = Annotated[
    str,
    Field(
        repr=False,
        min_length=1,
        max_length=MAX_LENGTH,
        json_schema_extra={"format": "password", "writeOnly": True},
        description="The password the account has now.",
    ),
]


#: The example user of the schema (docs/reference/api.md and Swagger UI show it).
USER_EXAMPLE: dict[str, JsonValue] = {
    "id": "0b0e9c6e-5f7a-4c1e-9d3b-2f6a8c1d4e57",
    "email": "ada@example.com",
    "is_active": True,
    "is_superuser": False,
    "is_verified": True,
    "created_at": "2026-01-15T09:30:00Z",
    "updated_at": "2026-01-15T09:30:00Z",
}


class UserCreate(BaseModel):
    """Sign-up body. Any other field (``is_superuser``, ``is_active``, ...) is a 422."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": EXAMPLE_PASSWORD,
                }
            ]
        },
    )

    email: Email
    password: NewPassword


class UserSelfUpdate(BaseModel):
    """Body of ``PATCH /users/me``: a new address, proven by the current password."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "ada.lovelace@example.com",
                    "current_password": EXAMPLE_PASSWORD,
                }
            ]
        },
    )

    email: Email
    current_password: CurrentPassword


class UserAdminUpdate(BaseModel):
    """Body of ``PATCH /users/{user_id}`` (admins): only the fields sent change."""

    model_config = ConfigDict(
        strict=True, extra="forbid", json_schema_extra={"examples": [{"is_active": False}]}
    )

    #: Optional but never null (the schema does not offer ``null``).
    is_active: bool | SkipJsonSchema[None] = None
    is_superuser: bool | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> UserAdminUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


#: The allow-listed orders of the admin list; ``-`` means descending.
UserSort = Literal["created_at", "-created_at", "email", "-email"]


class UserPublic(BaseModel):
    """A user as the API shows it. Field list is an allow-list; never add the hash."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [USER_EXAMPLE]})

    id: uuid.UUID
    email: str
    is_active: bool
    is_superuser: bool
    is_verified: bool = Field(
        description="The owner confirmed the current address (`POST /api/v1/auth/verify-email`)."
    )
    created_at: datetime
    updated_at: datetime


class UserPage(Page[UserPublic]):
    """One page of users (admin listing)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [USER_EXAMPLE], "total": 1, "offset": 0, "limit": 20}]
        }
    )
