"""Login form, token response and password change (OAuth2 password flow, ADR-0018)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.account_tokens import MAX_TOKEN_LENGTH
from app.credentials.password_policy import MAX_LENGTH
from app.credentials.refresh_tokens import MAX_REFRESH_TOKEN_LENGTH
from app.users.models import EMAIL_MAX_LENGTH
from app.users.schemas import EXAMPLE_PASSWORD, CurrentPassword, NewPassword

#: The refresh token of the schema's examples: a placeholder, as the real one is random.
OPAQUE_EXAMPLE = "<opaque refresh token>"


class LoginForm(BaseModel):
    """``application/x-www-form-urlencoded`` login (``username`` is the email).

    Our own model instead of ``OAuth2PasswordRequestForm``: that one treats an empty
    ``username`` as missing and declares no bounds. Here both fields need 1+ characters
    and are bounded (R2); an over-long password is a 422, never a 500 (P2).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "ada@example.com",
                    "password": EXAMPLE_PASSWORD,
                    "grant_type": "password",
                }
            ]
        }
    )

    username: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH, description="The email.")
    password: str = Field(
        min_length=1, max_length=MAX_LENGTH, json_schema_extra={"format": "password"}
    )
    # Not nullable: a form cannot send null, so `| None` made the schema offer a value
    # the server refused (schemathesis, ADR-0021). Absent means "password".
    grant_type: Literal["password"] = Field(default="password", description="OAuth2: `password`.")
    scope: str = Field(default="", max_length=1024, description="Ignored (no scopes yet).")
    client_id: str | None = Field(default=None, max_length=255, description="Ignored.")
    client_secret: str | None = Field(default=None, max_length=255, description="Ignored.")


class TokenResponse(BaseModel):
    """An OAuth2 bearer token and its refresh token (RFC 6749 §5.1, §6)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiJ9.<claims>.<signature>",  # nosec B105
                    "token_type": "bearer",  # nosec B105 - the OAuth2 token type
                    "expires_in": 900,
                    "refresh_token": OPAQUE_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Lifetime of the access token in seconds.", ge=1)
    refresh_token: str = Field(
        description=(
            "Opaque; exchange it once at `POST /api/v1/auth/refresh` for a new pair. "
            "Presenting it a second time ends the session (ADR-0034)."
        )
    )


class RefreshRequest(BaseModel):
    """Body of ``POST /api/v1/auth/refresh``."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"refresh_token": OPAQUE_EXAMPLE}]},
    )

    refresh_token: str = Field(
        repr=False,
        min_length=1,
        max_length=MAX_REFRESH_TOKEN_LENGTH,
        json_schema_extra={"writeOnly": True},
        description="The refresh token of the last login or refresh.",
    )


class PasswordChange(BaseModel):
    """Change-password body: proof of the current password and the new one (P12).

    The new password follows the sign-up rules; unknown fields are a 422.
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "current_password": EXAMPLE_PASSWORD,
                    "new_password": EXAMPLE_PASSWORD.replace("42", "43"),
                }
            ]
        },
    )

    current_password: CurrentPassword
    new_password: NewPassword


#: A reset or verification token as it appears in the mailed link.
AccountTokenField = Annotated[
    str,
    Field(
        repr=False,
        min_length=1,
        max_length=MAX_TOKEN_LENGTH,
        json_schema_extra={"writeOnly": True},
        description="The `token` parameter of the link in the mail.",
    ),
]


#: The reset or verification token of the schema's examples (the real one is random).
MAILED_LINK_EXAMPLE = "<token from the mailed link>"


class PasswordResetRequest(BaseModel):
    """Body of ``POST /api/v1/auth/password-reset``."""

    model_config = ConfigDict(
        strict=True, extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.com"}]}
    )

    email: str = Field(
        min_length=1,
        max_length=EMAIL_MAX_LENGTH,
        examples=["ada@example.com"],
        description="The account's address (compared like at sign-up).",
    )


class PasswordResetConfirm(BaseModel):
    """Body of ``POST /api/v1/auth/password-reset/confirm``: the token and the new
    password (sign-up rules)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": MAILED_LINK_EXAMPLE, "new_password": EXAMPLE_PASSWORD}]
        },
    )

    token: AccountTokenField
    new_password: NewPassword


class EmailVerification(BaseModel):
    """Body of ``POST /api/v1/auth/verify-email``."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"token": MAILED_LINK_EXAMPLE}]},
    )

    token: AccountTokenField


class MailAccepted(BaseModel):
    """A mail request was accepted; whether a mail goes out is not said (P9)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "If an account uses this address, a link to reset its password "
                    "is on its way. The link works once and expires."
                }
            ]
        }
    )

    detail: str
