"""How a session leaves the API: an allow-list with no token material (ADR-0035)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class SessionPublic(BaseModel):
    """One of your live sessions. Never a refresh token or its digest."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime = Field(description="The login, or the last refresh.")
    expires_at: datetime = Field(description="Ends then unless refreshed (never past the cap).")
    user_agent: str | None
    client_ip: str | None
    current: bool = Field(description="The session of the access token making this request.")


class SessionList(BaseModel):
    """Your live sessions, most recently used first."""

    items: list[SessionPublic]
    total: int = Field(ge=0)
