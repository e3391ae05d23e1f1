"""OpenAPI metadata: title, description, tags (shown by /docs and the docs site)."""

from __future__ import annotations

from typing import Any

DESCRIPTION = """\
A documentation-first, production-minded FastAPI backend.

* Every error uses one envelope: `{"error": {"code", "message", "request_id", "details"}}`.
* Every response carries `X-Request-ID`; send your own (1-128 chars of `[A-Za-z0-9._-]`)
  to correlate logs.
* The public surface is `/api/v1`; `/health`, `/auth/login` and `/auth/me` are legacy aliases.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "auth", "description": "Login (OAuth2 password flow) and the current user."},
    {"name": "users", "description": "Sign-up and user lookup."},
]

#: The versioned public surface (SPEC §3.1 #4). Domain routers put it in their own
#: ``prefix`` so ``scope["route"].path`` is the full route template (ADR-0002).
API_V1_PREFIX = "/api/v1"
