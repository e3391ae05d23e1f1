"""Typed configuration loaded from the environment and `.env` (ADR-0011).

Every setting is an upper-case environment variable with the same name as the
field. `.env.example`, this class and `docs/configuration.md` list the same
settings; a drift test keeps them equal.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.secret_rules import (
    DEFAULT_JWT_SECRET,
    KEY_GENERATION_HINT,
    MIN_SECRET_BYTES,
    REDACTED,
    redact_url,
    secret_weakness,
)
from app.core.setting_types import BaseUrl, DatabaseUrl, HostList, OriginList, ProxyList


class Settings(BaseSettings):
    """Application settings. Construct through :func:`get_settings` in app code."""

    # APP_ENV_FILE (not a setting itself) chooses the dotenv file; the test suite
    # points it at os.devnull so a developer's .env never leaks into tests (ADR-0013).
    model_config = SettingsConfigDict(
        env_file=os.environ.get("APP_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- Service -----------------------------------------------------------
    app_env: Literal["local", "test", "prod"] = "local"
    service_name: str = "fastapi-reference"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = False
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: Writes to versioned resources (``PATCH /items/{id}``) must send ``If-Match``:
    #: 428 without it (ADR-0033).
    require_if_match: bool = False

    # --- Database ----------------------------------------------------------
    database_url: DatabaseUrl = "sqlite+aiosqlite:///var/app.db"
    #: A fixed pool (no overflow): connections opened under load stay open, instead of
    #: being opened and closed again with every burst above the pool size (ADR-0042).
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout_seconds: float = Field(default=2.0, gt=0)
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    db_statement_timeout_ms: int = Field(default=5000, ge=0)

    # --- Redis (optional) --------------------------------------------------
    redis_url: str | None = None
    redis_socket_timeout_seconds: float = Field(default=0.05, gt=0)
    redis_connect_timeout_seconds: float = Field(default=0.05, gt=0)
    redis_max_connections: int = Field(default=50, ge=1)
    health_check_timeout_seconds: float = Field(default=1.0, gt=0)

    # --- Tokens ------------------------------------------------------------
    jwt_secret_key: SecretStr = SecretStr(DEFAULT_JWT_SECRET)
    jwt_algorithm: Literal["HS256"] = "HS256"
    #: Short: a stolen access token lives minutes; the refresh token renews it (ADR-0034).
    jwt_access_token_expires_minutes: int = Field(default=15, ge=1, le=24 * 60)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: A session (and its refresh token) ends this many days after its last refresh,
    #: sliding, but never later than ``SESSION_MAX_LIFETIME_DAYS`` after login (ADR-0035).
    session_idle_days: int = Field(default=30, ge=1, le=365)
    session_max_lifetime_days: int = Field(default=90, ge=1, le=3650)

    # --- Passwords ---------------------------------------------------------
    #: Password hashes computed at once (each argon2id hash holds ~19 MiB; ADR-0017).
    #: At most cores - 1, so a login burst leaves a core to the event loop (ADR-0030).
    password_hash_max_concurrency: int = Field(default=1, ge=1, le=64)
    #: Hashes allowed in the process at once, running plus waiting (P11). One more is
    #: refused at once with a 503 + ``Retry-After``: a flood of sign-ups cannot queue a
    #: legitimate login behind seconds of hashing (ADR-0017).
    password_hash_max_queue: int = Field(default=8, ge=1, le=10_000)

    # --- Hardening: Redis breaker, rate limits, cache, telemetry (ADR-0024..0028) ---
    #: Consecutive Redis failures that open the circuit breaker (RL5).
    redis_breaker_threshold: int = Field(default=3, ge=1)
    #: Seconds the breaker stays open before one half-open probe (RL7).
    redis_breaker_cooldown_seconds: float = Field(default=5.0, gt=0)
    rate_limit_enabled: bool = False
    rate_limit_requests: int = Field(default=100, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    #: IPs/CIDRs whose ``X-Forwarded-For`` is believed (R6). Empty: the peer address only.
    trusted_proxies: ProxyList = Field(default_factory=list)
    login_throttle_enabled: bool = True
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    #: Sign-ups per client IP and window (ADR-0028, P10): on by default, like the login
    #: throttle; bounds hashing work and sign-up enumeration (P9) from one address.
    signup_throttle_enabled: bool = True
    signup_max_per_ip: int = Field(default=10, ge=1)
    signup_window_seconds: int = Field(default=3600, ge=1)
    cache_enabled: bool = False
    cache_default_ttl_seconds: int = Field(default=60, ge=1)
    telemetry_mode: Literal["noop", "log"] = "noop"
    telemetry_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    metrics_enabled: bool = False
    #: FastAPI's native OpenTelemetry traces and metrics (ADR-0026). Off: no per-request
    #: provider checks at all; on: exporters from the standard ``OTEL_*`` variables.
    opentelemetry_enabled: bool = False

    # --- Background jobs (ADR-0036) -----------------------------------------
    #: Tries per job (the first run included) before it is recorded as failed.
    jobs_max_tries: int = Field(default=5, ge=1, le=50)
    #: Delay before retry n: ``JOBS_RETRY_BACKOFF_SECONDS * 2**(n-1)``, capped at 10 minutes.
    jobs_retry_backoff_seconds: float = Field(default=2.0, ge=0, le=600)
    #: A job that runs longer is cancelled (and retried).
    jobs_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    #: The same job id enqueued again within this window after it finished runs nothing.
    jobs_dedupe_seconds: int = Field(default=300, ge=0, le=86_400)
    #: At shutdown, in-flight jobs get this long to finish; the rest are re-queued (arq)
    #: or logged as dropped (in-process).
    jobs_shutdown_grace_seconds: int = Field(default=20, ge=0, le=600)
    #: The worker's Prometheus port when ``METRICS_ENABLED`` (0: no metrics server).
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)

    # --- Mail (ADR-0037) ----------------------------------------------------
    #: ``console`` prints each message to stdout (development), ``smtp`` sends it,
    #: ``memory`` keeps it in the process (tests). Production refuses all but ``smtp``.
    mail_backend: Literal["console", "smtp", "memory"] = "console"
    mail_from: str = "no-reply@example.com"
    #: The web front end the links in mails point to (``/reset-password``, ``/verify-email``).
    frontend_url: BaseUrl = "http://127.0.0.1:3000"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: ``none`` (plain), ``starttls`` (upgrade on the submission port), ``tls`` (implicit, 465).
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    # --- Account recovery and verification (ADR-0038) -----------------------
    password_reset_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    email_verification_token_hours: int = Field(default=48, ge=1, le=24 * 30)
    #: True: unverified users get 403 ``email_not_verified`` except on reading
    #: themselves, resending the verification mail and logging out.
    require_verified_email: bool = False
    #: Reset requests per address and per client IP, and verification resends per
    #: account and per IP, in ``MAIL_WINDOW_SECONDS`` (429 over the budget).
    mail_max_per_address: int = Field(default=3, ge=1)
    mail_max_per_ip: int = Field(default=20, ge=1)
    mail_window_seconds: int = Field(default=3600, ge=1)

    # --- HTTP security (ADR-0027) -------------------------------------------
    #: Exact origins allowed by CORS (``scheme://host[:port]``). Empty: no CORS at all.
    cors_origins: OriginList = Field(default_factory=list)
    cors_allow_credentials: bool = False
    #: Accepted ``Host`` values (``*.example.com`` wildcards). Empty: any host.
    trusted_hosts: HostList = Field(default_factory=list)
    #: ``Strict-Transport-Security`` max-age; 0 sends no HSTS header.
    hsts_max_age_seconds: int = Field(default=0, ge=0)
    #: Serve ``/docs``, ``/redoc`` and ``/openapi.json`` (H3). Unset: off when
    #: ``APP_ENV=prod``, on elsewhere (resolved at validation; explicit values win).
    docs_enabled: bool | None = None

    @field_validator(
        "redis_url",
        "jwt_issuer",
        "jwt_audience",
        "docs_enabled",
        "smtp_username",
        "smtp_password",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("jwt_secret_key", mode="before")
    @classmethod
    def _empty_secret_is_default(cls, value: Any) -> Any:
        """An empty value means "not set": the local default, which prod refuses."""
        return DEFAULT_JWT_SECRET if value in ("", None) else value

    @model_validator(mode="after")
    def _queue_holds_the_running_hashes(self) -> Settings:
        if self.password_hash_max_queue < self.password_hash_max_concurrency:
            raise ValueError(
                "PASSWORD_HASH_MAX_QUEUE counts running and waiting hashes: it must be at "
                "least PASSWORD_HASH_MAX_CONCURRENCY"
            )
        return self

    @model_validator(mode="after")
    def _docs_follow_the_environment(self) -> Settings:
        """Unset ``DOCS_ENABLED``: no interactive docs or schema in production (H3)."""
        if self.docs_enabled is None:
            self.docs_enabled = self.app_env != "prod"
        return self

    @model_validator(mode="after")
    def _strong_secret_outside_local(self) -> Settings:
        """Refuse to start outside local/test with a weak or default JWT secret (T8)."""
        if self.app_env in ("local", "test"):
            return self
        weakness = secret_weakness(self.jwt_secret_key.get_secret_value())
        if weakness is not None:
            raise ValueError(
                f"JWT_SECRET_KEY is too weak for APP_ENV={self.app_env}: {weakness}. It must be "
                f"a random value of at least {MIN_SECRET_BYTES} bytes; generate one with: "
                f"{KEY_GENERATION_HINT}"
            )
        return self

    @model_validator(mode="after")
    def _real_mail_in_production(self) -> Settings:
        """Production sends mail for real: ``console`` and ``memory`` would lose it."""
        if self.app_env == "prod" and self.mail_backend != "smtp":
            raise ValueError(
                f"MAIL_BACKEND={self.mail_backend} is refused with APP_ENV=prod: use smtp"
            )
        return self

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Settings:
        """``*`` with credentials would reflect any Origin with cookies (H2, ADR-0027)."""
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("CORS_ORIGINS='*' cannot be combined with CORS_ALLOW_CREDENTIALS=true")
        return self

    def model_dump_safe(self) -> dict[str, Any]:
        """All settings with secrets and URL credentials redacted: safe to print or log.

        ``SecretStr`` values are hidden whole; every string setting that is a URL (a
        ``*_url`` name or a ``scheme://`` value) goes through :func:`redact_url`."""
        data = self.model_dump()
        for name, value in data.items():
            if isinstance(value, SecretStr):
                data[name] = REDACTED
            elif isinstance(value, str) and (name.endswith("_url") or "://" in value):
                data[name] = redact_url(value)
        return data


async def get_app_settings(request: Request) -> Settings:
    """The running application's settings: the ``settings`` field of its container
    (``app.state.container``, app/container.py), read by name because ``core`` imports
    no other app package."""
    settings: Settings = request.app.state.container.settings
    return settings


#: Inject with ``settings: SettingsDep``: the settings the application was built with.
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
