"""Access tokens: PyJWT, HS256 pinned, required claims, a token type (ADR-0018).

Issued tokens carry ``sub`` (the user id), ``iat``, ``nbf``, ``exp``,
``type="access"``, ``ver`` (the user's token version, T9), ``sid`` (the login session
it belongs to, ADR-0034: a revoked session refuses its tokens, T12), ``jti`` (a random id: two
logins in the same second still get distinct tokens, so a per-token budget is really
per token) and, when configured, ``iss`` / ``aud``. :func:`decode_access_claims`
accepts a token only if all of this holds (SECURITY T1-T7, T11):

* the signature verifies with ``JWT_SECRET_KEY`` under exactly ``JWT_ALGORITHM``
  (``alg=none``, HS512, RS256 ... are refused);
* ``exp``, ``iat`` and ``sub`` are present; ``exp``/``nbf`` hold with a small leeway;
* ``type`` is ``"access"`` (a future refresh/reset token cannot be replayed here);
* ``ver``, when present, is a non-negative integer (absent counts as 0); whether it is
  still the user's current version is checked against the database by
  ``get_current_user``;
* ``sid`` is a session id (a UUID string); whether that session is still live is
  checked against the database by ``get_current_user``, in the same query as the user;
* ``iss``/``aud`` match when configured;
* the header has no ``crit`` entry; ``jwk``/``jku``/``kid``/``x5u`` headers are ignored
  (the key only ever comes from configuration).

Every failure is :class:`InvalidToken`, which the dependency turns into a 401.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.core.settings import Settings

#: The ``type`` claim of access tokens (a claim value, not a secret).
ACCESS_TOKEN_TYPE = "access"  # noqa: S105  # nosec B105
#: Clock skew tolerated on ``exp``/``nbf``/``iat``.
LEEWAY_SECONDS = 10
#: Longer inputs are refused before any parsing (R2): ours are ~250 characters.
MAX_TOKEN_LENGTH = 4096


class InvalidToken(Exception):
    """The token is not an acceptable access token. The message is for logs only."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says: whose it is and the token version it carries."""

    user_id: uuid.UUID
    version: int
    session_id: uuid.UUID


@dataclass(frozen=True)
class AccessToken:
    """An issued token and its lifetime in seconds."""

    token: str
    expires_in: int


def create_access_token(
    subject: uuid.UUID | str,
    settings: Settings,
    *,
    session_id: uuid.UUID,
    version: int = 0,
    now: datetime | None = None,
    expires_in: timedelta | None = None,
) -> AccessToken:
    """Sign an access token for ``subject`` (a user id) in session ``session_id`` at token
    ``version`` (T9, T12)."""
    issued = now or datetime.now(UTC)
    lifetime = expires_in or timedelta(minutes=settings.jwt_access_token_expires_minutes)
    claims: dict[str, Any] = {
        "sub": str(subject),
        "type": ACCESS_TOKEN_TYPE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "ver": version,
        "sid": str(session_id),
        "jti": secrets.token_urlsafe(16),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    token = jwt.encode(
        claims,
        settings.jwt_secret_key.get_secret_value(),
        algorithm=settings.jwt_algorithm,
        headers={"typ": "JWT"},
    )
    return AccessToken(token=token, expires_in=int(lifetime.total_seconds()))


def decode_access_token(token: str, settings: Settings) -> uuid.UUID:
    """The user id an access token names. Raises :class:`InvalidToken` for anything else."""
    return decode_access_claims(token, settings).user_id


def decode_access_claims(token: str, settings: Settings) -> AccessClaims:
    """The user id and token version of an access token; :class:`InvalidToken` otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("empty or over-long token")
    require = ["exp", "iat", "sub", "sid"]
    if settings.jwt_issuer:
        require.append("iss")
    if settings.jwt_audience:
        require.append("aud")
    try:
        header = jwt.get_unverified_header(token)
        if "crit" in header:
            raise InvalidToken("crit header not supported")
        claims = jwt.decode(
            token,
            settings.jwt_secret_key.get_secret_value(),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": require, "verify_signature": True},
        )
    except InvalidToken:
        raise
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidToken(type(exc).__name__) from exc
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("wrong token type")
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise InvalidToken("sub is not a string")
    try:
        user_id = uuid.UUID(subject)
    except ValueError as exc:
        raise InvalidToken("sub is not a user id") from exc
    version = claims.get("ver", 0)
    if type(version) is not int or version < 0:
        raise InvalidToken("ver is not a token version")
    session = claims.get("sid")
    try:
        session_id = uuid.UUID(session) if isinstance(session, str) else None
    except ValueError:
        session_id = None
    if session_id is None:
        raise InvalidToken("sid is not a session id")
    return AccessClaims(user_id=user_id, version=version, session_id=session_id)
