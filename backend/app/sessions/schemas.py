"""How a session leaves the API: an allow-list with no token material (ADR-0035)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "7d2e4f60-1a3b-4c5d-8e9f-0a1b2c3d4e5f",
                            "created_at": "2026-01-15T09:30:00Z",
                            "last_used_at": "2026-01-15T10:05:00Z",
                            "expires_at": "2026-02-14T10:05:00Z",
                            "user_agent": "curl/8.5.0",
                            "client_ip": "203.0.113.7",
                            "current": True,
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )

    items: list[SessionPublic]
    total: int = Field(ge=0)
