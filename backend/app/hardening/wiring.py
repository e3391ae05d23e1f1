"""Assemble the hardening features for one application (called by ``app.main`` only).

:func:`build_hardening` creates the per-app objects (breaker + guard, telemetry, limiters,
login throttle, user cache); :func:`install_hardening` puts them on ``app.state``, adds the
docs pages and ``/metrics``, and adds the middleware that sits *inside* the outermost
guard, in this order (outermost first)::

    RequestGuard (app.core; + security headers + telemetry observer)
      -> TrustedHost (if TRUSTED_HOSTS)
      -> CORS (if CORS_ORIGINS)
      -> RateLimit (if RATE_LIMIT_ENABLED)
      -> BodySizeLimit (app.core) -> routes
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from app.core.settings import Settings
from app.hardening.breaker import CircuitBreaker, RedisGuard
from app.hardening.cache import JsonCache
from app.hardening.docs import install_docs
from app.hardening.limiter import Limiter
from app.hardening.login_throttle import LoginThrottle
from app.hardening.ratelimit import RateLimitMiddleware, SubjectResolver
from app.hardening.security import EnvelopeCORSMiddleware, TrustedHostMiddleware, cors_options
from app.hardening.signup_throttle import SignupThrottle
from app.hardening.telemetry import PrometheusTelemetry, Telemetry, build_telemetry

METRICS_URL = "/metrics"


@dataclass
class Hardening:
    """The per-application hardening objects (also on ``app.state.hardening``)."""

    guard: RedisGuard
    telemetry: Telemetry
    prometheus: PrometheusTelemetry | None
    rate_limiter: Limiter
    login_throttle: LoginThrottle
    user_cache: JsonCache
    signup_throttle: SignupThrottle


def build_hardening(settings: Settings) -> Hardening:
    """Create the objects; the Redis client is bound later by the lifespan (``guard.client``)."""
    breaker = CircuitBreaker(
        settings.redis_breaker_threshold, settings.redis_breaker_cooldown_seconds
    )
    deadline = settings.redis_connect_timeout_seconds + 3 * settings.redis_socket_timeout_seconds
    guard = RedisGuard(breaker, deadline)
    telemetry, prometheus = build_telemetry(settings)
    return Hardening(
        guard=guard,
        telemetry=telemetry,
        prometheus=prometheus,
        rate_limiter=Limiter(guard, key_prefix="ratelimit", fallback_to_memory=False),
        login_throttle=LoginThrottle(
            Limiter(guard, key_prefix="loginlimit", fallback_to_memory=True), settings
        ),
        user_cache=JsonCache(
            guard,
            telemetry,
            namespace="user",
            enabled=settings.cache_enabled,
            ttl_seconds=settings.cache_default_ttl_seconds,
        ),
        signup_throttle=SignupThrottle(
            Limiter(guard, key_prefix="signuplimit", fallback_to_memory=True), settings
        ),
    )


def install_hardening(
    app: FastAPI,
    settings: Settings,
    hardening: Hardening,
    *,
    subject_of: SubjectResolver | None = None,
) -> None:
    """State, docs, metrics and the inner middleware (add the guard after this call)."""
    app.state.hardening = hardening
    app.state.login_throttle = hardening.login_throttle
    app.state.user_cache = hardening.user_cache
    app.state.signup_throttle = hardening.signup_throttle
    if settings.docs_enabled:
        install_docs(app)
    if hardening.prometheus is not None:
        registry = hardening.prometheus.registry

        async def metrics(_: Request) -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        app.add_route(METRICS_URL, metrics, methods=["GET"], include_in_schema=False)

    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=hardening.rate_limiter,
            requests=settings.rate_limit_requests,
            window_seconds=settings.rate_limit_window_seconds,
            trusted_proxies=settings.trusted_proxies,
            subject_of=subject_of,
        )
    if settings.cors_origins:
        app.add_middleware(EnvelopeCORSMiddleware, **cors_options(settings))  # type: ignore[arg-type]
    if settings.trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
