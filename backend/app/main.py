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
from app.api.router import include_routers
from app.auth.tokens import InvalidToken, decode_access_token
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import BodySizeLimitMiddleware, RequestGuardMiddleware
from app.core.openapi import DESCRIPTION, TAGS, declare_implicit_errors, route_calls
from app.core.redis import create_redis
from app.core.settings import Settings, get_settings
from app.db.engine import Database
from app.db.errors import install_db_error_handlers
from app.db.session import get_session
from app.hardening.ratelimit import in_scope
from app.hardening.security import install_slash_redirects, security_headers
from app.hardening.telemetry import native_telemetry_config, observer_for
from app.hardening.wiring import build_hardening, install_hardening


def create_app(settings: Settings | None = None, *, redis: Redis | None = None) -> FastAPI:
    """Build the application. ``redis`` overrides the client built from ``REDIS_URL`` (tests)."""
    settings = settings or get_settings()
    configure_logging(
        level=settings.log_level,
        json_logs=settings.log_json,
        service=settings.service_name,
        env=settings.app_env,
        trace_ids=settings.opentelemetry_enabled,
    )
    hardening = build_hardening(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        app.state.redis = redis if redis is not None else create_redis(settings)
        hardening.guard.client = app.state.redis  # behind one breaker (ADR-0024)
        try:
            yield
        finally:
            hardening.guard.client = None
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
        # FastAPI's native OpenTelemetry: explicit opt-in, off by default (ADR-0026).
        telemetry=native_telemetry_config(settings),
        # Self-hosted docs pages and the docs switch (ADR-0027, SECURITY H3).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    # Trailing-slash redirects with a relative Location: no response echoes the Host (ADR-0027).
    install_slash_redirects(app)
    install_error_handlers(app)
    install_db_error_handlers(app)
    include_routers(app)
    # The schema declares every status an operation can return (ADR-0021).
    declare_implicit_errors(
        app, uses_database=lambda route: route_calls(route, get_session), rate_limited=in_scope
    )

    def subject_of(token: str) -> str | None:
        """The verified token's user id: the rate-limit key (ADR-0024)."""
        try:
            return str(decode_access_token(token, settings))
        except InvalidToken:
            return None

    # Added last = outermost. Order, inside out: body limit -> rate limit -> CORS ->
    # trusted hosts (each only when configured; app/hardening/wiring.py) -> guard.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    install_hardening(app, settings, hardening, subject_of=subject_of)
    app.add_middleware(
        RequestGuardMiddleware,
        extra_headers=security_headers(settings),
        observer=observer_for(hardening.telemetry),
        span_request_id=settings.opentelemetry_enabled,
    )
    return app


app = create_app()
