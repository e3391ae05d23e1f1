"""Composition root: :func:`create_app` builds the :class:`~app.container.Container` and
wires logging, middleware, errors and routers; ``app`` is the ASGI entry point
(``uvicorn app.main:app``, ADR-0001/0010/0032).

The factory lives here, not in ``core/``, because it imports every layer and
``core/`` must import none of them (import-linter layers contract).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from app import __version__
from app.api.docs import install_docs
from app.api.router import include_routers
from app.auth.jobs import JOBS
from app.container import Container, build_container
from app.core.errors import install_error_handlers
from app.core.http_security import (
    EnvelopeCORSMiddleware,
    TrustedHostMiddleware,
    cors_options,
    install_slash_redirects,
    security_headers,
)
from app.core.logging import configure_logging
from app.core.middleware import BodySizeLimitMiddleware, RequestGuardMiddleware
from app.core.openapi import DESCRIPTION, TAGS, declare_implicit_errors, route_calls
from app.core.paths import METRICS_PATH
from app.core.redis import create_redis
from app.core.settings import Settings, get_settings
from app.credentials.tokens import InvalidToken, decode_access_token
from app.db.errors import install_db_error_handlers
from app.db.session import get_session
from app.ratelimit.middleware import RateLimitMiddleware, in_scope
from app.telemetry.metrics import observer_for
from app.telemetry.tracing import native_telemetry_config


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
    container = build_container(settings, JOBS)
    container.jobs.bind(
        {"settings": settings, "database": container.database, "mail": container.mail}
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        client = redis if redis is not None else create_redis(settings)
        container.redis.client = client  # the one client, behind one breaker (ADR-0024)
        await container.jobs.start()
        # What startup built lives as long as the process: the cyclic GC stops re-scanning
        # it in every full collection (~90 ms each under load; ADR-0042).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await container.jobs.close()  # in-flight jobs first: they use the database
            container.redis.client = None
            if client is not None and redis is None:
                await client.aclose()
            await container.database.dispose()

    app = FastAPI(
        title=settings.service_name,
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        debug=False,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry: explicit opt-in, off by default (ADR-0026).
        telemetry=native_telemetry_config(settings),
        # Self-hosted docs pages and the docs switch (ADR-0027).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.container = container  # the only key on app.state (ADR-0032)
    # Trailing-slash redirects with a relative Location: no response echoes the Host (ADR-0027).
    install_slash_redirects(app)
    install_error_handlers(app)
    install_db_error_handlers(app)
    include_routers(app)
    if settings.docs_enabled:
        install_docs(app)
    if container.prometheus is not None:
        app.add_route(
            METRICS_PATH, container.prometheus.scrape, methods=["GET"], include_in_schema=False
        )
    # The schema declares every status an operation can return (ADR-0021).
    declare_implicit_errors(
        app, uses_database=lambda route: route_calls(route, get_session), rate_limited=in_scope
    )
    _install_middleware(app, container)
    return app


def _install_middleware(app: FastAPI, container: Container) -> None:
    """Added last = outermost. The stack, outermost first::

    RequestGuard (request id, access line, security headers, telemetry observer)
      -> TrustedHost (if TRUSTED_HOSTS) -> CORS (if CORS_ORIGINS)
      -> RateLimit (if RATE_LIMIT_ENABLED) -> BodySizeLimit -> routes
    """
    settings = container.settings

    def subject_of(token: str) -> str | None:
        """The verified token's user id: the rate-limit key (ADR-0024)."""
        try:
            return str(decode_access_token(token, settings))
        except InvalidToken:
            return None

    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=container.rate_limiter,
            requests=settings.rate_limit_requests,
            window_seconds=settings.rate_limit_window_seconds,
            proxies=container.proxies,
            subject_of=subject_of,
        )
    if settings.cors_origins:
        app.add_middleware(EnvelopeCORSMiddleware, **cors_options(settings))  # type: ignore[arg-type]
    if settings.trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    app.add_middleware(
        RequestGuardMiddleware,
        extra_headers=security_headers(settings),
        observer=observer_for(container.telemetry),
        span_request_id=settings.opentelemetry_enabled,
    )


app = create_app()
