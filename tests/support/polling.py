"""Bounded waits for a condition a test depends on (docs/testing.md, timing bounds).

A test that needs something to have happened (a connection back in its pool, a breaker
closed, a span exported) waits for *that*, for a bounded time, instead of assuming it has
happened by the next line: on a loaded machine "by the next line" is not a promise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_for(
    condition: Callable[[], object], *, what: str, within: float = 10.0, interval: float = 0.01
) -> None:
    """Return once ``condition()`` is true; raise ``AssertionError`` naming ``what`` when it
    is still false after ``within`` seconds (generous: it only costs time on failure)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not true after {within:g} s")
        await asyncio.sleep(interval)
