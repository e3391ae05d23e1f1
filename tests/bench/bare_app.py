"""Bare FastAPI serving the very same ``/health`` handler: the benchmark's baseline.

No middleware, no error handlers, no lifespan: what a plain ``FastAPI()`` costs.
Served by ``tests/bench/run.py`` as ``uvicorn tests.bench.bare_app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.health.routes import health

app = FastAPI()
app.add_api_route("/health", health, methods=["GET"])
