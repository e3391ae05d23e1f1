"""Refresh tokens: opaque random strings, stored only as a digest (ADR-0034).

A refresh token is 32 bytes from :func:`secrets.token_urlsafe` (256 bits, 43
characters). It means nothing by itself: the server finds its session by the SHA-256
digest (:func:`refresh_token_digest`), the only form ever stored. A digest, not a
password hash: the input is uniformly random, so there is nothing to brute-force, and
the lookup must be an indexed equality, not a per-row verify.
"""

from __future__ import annotations

import hashlib
import secrets

#: Random bytes per token: 256 bits (ADR-0034).
REFRESH_TOKEN_BYTES = 32
#: Longer inputs are refused before hashing (R2); ours are 43 characters.
MAX_REFRESH_TOKEN_LENGTH = 128


def new_refresh_token() -> str:
    """A fresh refresh token. Hand it to the client once; store only its digest."""
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def refresh_token_digest(token: str) -> str:
    """The stored form of ``token``: 64 lower-case hex characters of SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
