"""The real app plus slow test-only routes, served by uvicorn in the shutdown tests (D5).

``uvicorn tests.fault.slow_app:app`` from the repository root; settings come from
the environment the test passes to the subprocess.
"""

from __future__ import annotations

import asyncio

from app.main import create_app

app = create_app()
_in_flight = 0


@app.get("/slow")
async def slow(seconds: float = 1.0) -> dict[str, float]:
    """Sleep ``seconds`` without touching any dependency."""
    global _in_flight
    _in_flight += 1
    try:
        await asyncio.sleep(seconds)
    finally:
        _in_flight -= 1
    return {"slept": seconds}


@app.get("/in-flight")
async def in_flight() -> dict[str, int]:
    """How many ``/slow`` requests are running now."""
    return {"count": _in_flight}
