"""Settings (docs/configuration.md; ADR-0011; SECURITY T8, H4)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.secret_rules import DEFAULT_JWT_SECRET, REDACTED, redact_url, secret_weakness
from app.core.settings import Settings, get_settings

STRONG = "Zq3v9XyL0pWm7sRt2uKc8bNf4hJd6gTa"  # 32 random-looking bytes  # pragma: allowlist secret


def build(**values: object) -> Settings:
    """Settings from ``values``; the mail backend production accepts unless given (ADR-0037)."""
    return Settings(_env_file=None, **{"mail_backend": "smtp", **values})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
    ],
)
def test_plain_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert build(database_url=given).database_url == expected


def test_default_database_is_sqlite_under_var() -> None:
    assert build().database_url == "sqlite+aiosqlite:///var/app.db"


@pytest.mark.parametrize("secret", [DEFAULT_JWT_SECRET, "changeme", "short-but-random-9f8e7d", ""])
def test_prod_refuses_weak_or_default_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY"):
        build(app_env="prod", jwt_secret_key=secret)


#: Long enough, but guessable: one character, blanks, a repeated word, a placeholder, the
#: development default with a blank, a keyboard run and a short random unit repeated.
LOW_ENTROPY_SECRETS = [
    "a" * 32,
    " " * 32,
    "changeme" * 4,
    "REPLACE-ME" * 4,
    DEFAULT_JWT_SECRET + " ",
    " " + DEFAULT_JWT_SECRET.upper(),
    "abcdefghijklmnopqrstuvwxyz012345",
    "0123456789" * 4,
    "xK9#mQ2$" * 4,
    "ab" * 20,
]


@pytest.mark.parametrize("secret", LOW_ENTROPY_SECRETS)
def test_t8_prod_refuses_low_entropy_secrets(secret: str) -> None:
    """SECURITY T8: at least 32 bytes is not enough; a repeated, sequential, low-entropy or
    default-derived secret is refused by rule (not by a list), with a message that says how
    to generate a good one and never echoes the value."""
    assert len(secret.encode()) >= 32
    with pytest.raises(ValidationError) as refused:
        build(app_env="prod", jwt_secret_key=secret)
    message = str(refused.value)
    assert "JWT_SECRET_KEY" in message
    assert "secrets.token_urlsafe(48)" in message
    if secret.strip():
        assert secret.strip() not in message


def test_t8_generated_secrets_are_always_accepted() -> None:
    """SECURITY T8: the weak-secret rule never refuses what ``secrets`` generates: thousands
    of ``token_urlsafe(32..64)``, ``token_hex(16)`` and ``token_hex(32)`` values pass."""
    generated = [
        *(secrets.token_urlsafe(n) for n in range(32, 65) for _ in range(60)),
        *(secrets.token_hex(16) for _ in range(2000)),
        *(secrets.token_hex(32) for _ in range(2000)),
    ]
    refused = [s for s in generated if secret_weakness(s) is not None]
    assert refused == []
    assert build(app_env="prod", jwt_secret_key=secrets.token_hex(32)).app_env == "prod"


def test_prod_accepts_strong_secret_and_local_accepts_default() -> None:
    assert build(app_env="prod", jwt_secret_key=STRONG).app_env == "prod"
    assert build(app_env="local").jwt_secret_key.get_secret_value() == DEFAULT_JWT_SECRET


def test_app_refuses_to_start_in_prod_with_default_secret(monkeypatch) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    get_settings.cache_clear()
    with pytest.raises(ValidationError):
        get_settings()


def test_safe_dump_redacts_secrets_and_url_passwords() -> None:
    settings = build(
        jwt_secret_key=STRONG,
        database_url="postgresql://app:dbpass123@db:5432/app",  # pragma: allowlist secret
        redis_url="redis://:redispass456@cache:6379/0",
    )
    dump = settings.model_dump_safe()
    text = repr(dump)
    for secret in (STRONG, "dbpass123", "redispass456"):
        assert secret not in text
    assert dump["jwt_secret_key"] == REDACTED
    assert dump["database_url"].startswith("postgresql+asyncpg://app:***@db")
    assert "app_env" in dump


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:s3cr3t@h/db", "postgresql://u:***@h/db"),  # pragma: allowlist secret
        ("redis://:s3cr3t@h:6379/0", "redis://:***@h:6379/0"),
        (
            "postgresql://u:p%40ss@h/db?sslmode=require",  # pragma: allowlist secret
            "postgresql://u:***@h/db?sslmode=require",
        ),
        ("postgresql://h/db?user=u&password=s3cr3t", "postgresql://h/db?user=u&password=***"),
        ("postgresql://h/db?PASSWD=s3cr3t&pwd=s3cr3t", "postgresql://h/db?PASSWD=***&pwd=***"),
        (
            "postgresql://h/db?sslpassword=s3cr3t&sslkey=s3cr3t",
            "postgresql://h/db?sslpassword=***&sslkey=***",
        ),
        (
            "redis://h/0?access_token=s3cr3t;client_secret=s3cr3t",
            "redis://h/0?access_token=***;client_secret=***",
        ),
        ("redis://h/0?pass%77ord=s3cr3t", "redis://h/0?pass%77ord=***"),
        ("redis://h/0#s3cr3t", "redis://h/0#***"),
        ("postgresql://u:p?ss/s3cr3t@h/db", REDACTED),
        ("sqlite+aiosqlite:///var/app.db", "sqlite+aiosqlite:///var/app.db"),
        ("postgresql://u@h/db?application_name=api", "postgresql://u@h/db?application_name=api"),
    ],
)
def test_redact_url_hides_every_credential_form(url: str, expected: str) -> None:
    """ADR-0014: userinfo passwords and credential query parameters (any case, encoded
    names too) are hidden; a URL too malformed to tell is hidden whole."""
    assert redact_url(url) == expected
    assert "s3cr3t" not in redact_url(url)


def test_secret_is_not_in_repr() -> None:
    assert STRONG not in repr(build(jwt_secret_key=STRONG))


def test_get_settings_is_cached_and_cache_can_be_cleared(monkeypatch) -> None:
    assert get_settings() is get_settings()
    monkeypatch.setenv("SERVICE_NAME", "renamed")
    assert get_settings().service_name != "renamed"
    get_settings.cache_clear()
    assert get_settings().service_name == "renamed"


def test_suite_never_reads_dotenv(tmp_path: Path, monkeypatch) -> None:
    """ADR-0013: a developer's .env cannot change what the tests see."""
    (tmp_path / ".env").write_text("SERVICE_NAME=from-dotenv\nAPP_ENV=prod\n")
    monkeypatch.chdir(tmp_path)
    assert os.environ["APP_ENV_FILE"] == os.devnull
    assert get_settings().service_name != "from-dotenv"


def test_dotenv_is_read_outside_tests(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SERVICE_NAME=from-dotenv\n")
    assert Settings(_env_file=env_file).service_name == "from-dotenv"


def test_hash_queue_must_hold_the_running_hashes() -> None:
    """``PASSWORD_HASH_MAX_QUEUE`` counts running and waiting hashes (SECURITY P11): a
    queue smaller than the concurrency it must hold is refused at startup."""
    assert build().password_hash_max_queue == 8
    with pytest.raises(ValidationError, match="PASSWORD_HASH_MAX_QUEUE"):
        build(password_hash_max_concurrency=4, password_hash_max_queue=2)


def test_empty_optional_values_mean_unset() -> None:
    settings = build(redis_url="", jwt_issuer="", jwt_audience="")
    assert settings.redis_url is None
    assert settings.jwt_issuer is None
    assert settings.jwt_audience is None
