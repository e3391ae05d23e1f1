"""Composition root: :func:`create_app` wires settings, logging, middleware, errors and
routers; ``app`` is the ASGI entry point (``uvicorn app.main:app``, ADR-0001/0010).

The factory lives here, not in ``core/``, because it imports every layer and
``core/`` must import none of them (import-linter contract).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from app import __version__
from app.api.router import api_router
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import BodySizeLimitMiddleware, RequestGuardMiddleware
from app.core.openapi import DESCRIPTION, TAGS
from app.core.redis import create_redis
from app.core.settings import Settings, get_settings
from app.db.engine import Database
from app.db.errors import install_db_error_handlers


def create_app(settings: Settings | None = None, *, redis: Redis | None = None) -> FastAPI:
    """Build the application. ``redis`` overrides the client built from ``REDIS_URL`` (tests)."""
    settings = settings or get_settings()
    configure_logging(
        level=settings.log_level,
        json_logs=settings.log_json,
        service=settings.service_name,
        env=settings.app_env,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        app.state.redis = redis if redis is not None else create_redis(settings)
        try:
            yield
        finally:
            if app.state.redis is not None and redis is None:
                await app.state.redis.aclose()
            await app.state.db.dispose()

    app = FastAPI(
        title=settings.service_name,
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        debug=False,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_db_error_handlers(app)
    app.include_router(api_router)

    # Added last = outermost. Order, inside out: body limit -> guard.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(RequestGuardMiddleware)
    return app


app = create_app()
