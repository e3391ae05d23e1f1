"""The application container: everything :func:`app.main.create_app` builds once per
application, in one typed object (ADR-0032).

``app.state`` holds exactly one attribute, ``container``. Routes and dependencies reach
it through :data:`ContainerDep`; the two lowest layers read their own field by name
(:data:`app.core.settings.SettingsDep` reads ``settings``, :data:`app.db.session.SessionDep`
reads ``database``), because they may import nothing above ``core``/``db``.

Nothing here does I/O: the Redis client is bound to :attr:`Container.redis` by the
lifespan, which also disposes the database engine at shutdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from app.cache.json_cache import JsonCache
from app.core.proxies import TrustedProxies
from app.core.redis import RedisGuard, create_guard
from app.core.settings import Settings
from app.credentials.passwords import PasswordHasher, default_context
from app.db.engine import Database
from app.jobs.queues import JobQueue, build_queue
from app.jobs.runner import JobFunction, MemoryFailureLog, RetryPolicy, Runner
from app.mail.backends import MailBackend, build_backend
from app.ratelimit.limiter import Limiter
from app.ratelimit.login_throttle import LoginThrottle
from app.ratelimit.mail_throttle import MailThrottle
from app.ratelimit.signup_throttle import SignupThrottle
from app.telemetry.metrics import PrometheusTelemetry, Telemetry, build_telemetry


@dataclass(frozen=True)
class Container:
    """The per-application objects. Build with :func:`build_container`."""

    settings: Settings
    database: Database
    #: The one Redis client behind its circuit breaker (``redis.client`` is ``None``
    #: without ``REDIS_URL`` or outside the lifespan).
    redis: RedisGuard
    proxies: TrustedProxies
    #: One per application, so ``PASSWORD_HASH_MAX_CONCURRENCY`` bounds the process (P11).
    hasher: PasswordHasher
    telemetry: Telemetry
    prometheus: PrometheusTelemetry | None
    rate_limiter: Limiter
    login_throttle: LoginThrottle
    signup_throttle: SignupThrottle
    mail_throttle: MailThrottle
    user_cache: JsonCache
    #: Background jobs: arq with ``REDIS_URL``, else in this process (ADR-0036).
    jobs: JobQueue
    #: The ``MAIL_BACKEND`` the in-process jobs send with (ADR-0037).
    mail: MailBackend


def build_container(settings: Settings, jobs: Mapping[str, JobFunction] | None = None) -> Container:
    """Create every per-application object from ``settings`` (no network I/O);
    ``jobs`` are the job functions the queue may run (by name)."""
    redis = create_guard(settings)
    proxies = TrustedProxies(settings.trusted_proxies)
    telemetry, prometheus = build_telemetry(settings)
    runner = Runner(jobs or {}, RetryPolicy.from_settings(settings), MemoryFailureLog(), telemetry)
    return Container(
        settings=settings,
        database=Database(settings),
        redis=redis,
        proxies=proxies,
        hasher=PasswordHasher(
            default_context(),
            settings.password_hash_max_concurrency,
            max_queue=settings.password_hash_max_queue,
        ),
        telemetry=telemetry,
        prometheus=prometheus,
        rate_limiter=Limiter(redis, key_prefix="ratelimit", fallback_to_memory=False),
        login_throttle=LoginThrottle(
            Limiter(redis, key_prefix="loginlimit", fallback_to_memory=True), settings, proxies
        ),
        signup_throttle=SignupThrottle(
            Limiter(redis, key_prefix="signuplimit", fallback_to_memory=True), settings, proxies
        ),
        mail_throttle=MailThrottle(
            Limiter(redis, key_prefix="maillimit", fallback_to_memory=True), settings, proxies
        ),
        jobs=build_queue(settings, runner),
        mail=build_backend(settings),
        user_cache=JsonCache(
            redis,
            telemetry,
            namespace="user",
            enabled=settings.cache_enabled,
            ttl_seconds=settings.cache_default_ttl_seconds,
        ),
    )


async def get_container(request: Request) -> Container:
    """The application's :class:`Container`."""
    return cast(Container, request.app.state.container)


#: Inject with ``app: ContainerDep`` and use its fields (``app.hasher``, ``app.user_cache``).
ContainerDep = Annotated[Container, Depends(get_container)]
