"""Test-only routes that use the database through the app's own session dependency."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter

from app.db.session import SessionDep

router = APIRouter(prefix="/probe")


@router.get("/db")
async def db(session: SessionDep) -> dict[str, int]:
    """One ``SELECT 1`` on a pooled connection."""
    return {"one": (await session.execute(sa.text("SELECT 1"))).scalar_one()}


@router.get("/sleep/{milliseconds}")
async def sleep(milliseconds: int, session: SessionDep) -> dict[str, int]:
    """A statement that runs ``milliseconds`` on the server (``pg_sleep``)."""
    await session.execute(sa.text("SELECT pg_sleep(:s)"), {"s": milliseconds / 1000})
    return {"slept_ms": milliseconds}
