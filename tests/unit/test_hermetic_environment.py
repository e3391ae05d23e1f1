"""The suite is hermetic against the shell it runs in (ADR-0013).

``tests/conftest.py`` removes every variable a ``Settings`` field reads (derived from the
class, in any case) and ``OTEL_*`` before the app is imported. The proof runs pytest in a
subprocess whose environment sets *every* setting to a non-default value (and a
``.env`` full of them), and shows that the suite there still sees the hermetic defaults
and passes tests that any leaked value would break (OpenTelemetry on, trusted hosts,
docs off, ``APP_ENV=prod``...).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from annotated_types import Le
from pydantic import SecretStr

from app.core.settings import DEFAULT_JWT_SECRET, Settings, get_settings
from tests.conftest import SETTING_VARIABLES, reaches_the_app

REPO = Path(__file__).resolve().parents[2]
#: The opt-in to real servers (ADR-0013): documented ways in, read before the scrub.
OPT_IN = {"database_url", "redis_url"}
#: List settings need values their validators accept; a new list setting fails
#: ``test_every_setting_has_a_hostile_value`` until it gets one here.
HOSTILE_LISTS = {
    "trusted_proxies": "10.0.0.0/8",
    "cors_origins": "https://hostile.example.com",
    "trusted_hosts": "hostile.example.com",
}
#: String settings with a format of their own (a URL) need a valid hostile value too.
HOSTILE_FORMATS = {
    "frontend_url": "https://hostile.example.com",
    # The one backend every APP_ENV accepts (production refuses console and memory).
    "mail_backend": "smtp",
}
#: Tests that a leaked value would break, run in the hostile subprocess.
PROBE_TESTS = (
    "tests/unit/test_hermetic_environment.py::test_the_suite_sees_the_hermetic_defaults",
    "tests/integration/test_opentelemetry.py::test_opentelemetry_off_by_default_even_with_providers_registered",
    "tests/integration/test_health.py::test_legacy_health_is_exactly_status_ok",
    "tests/integration/test_http_security_docs.py::test_docs_are_served_from_self_hosted_assets",
    "tests/integration/test_rate_limit.py::test_off_by_default",
)


def _default(name: str) -> Any:
    return Settings.model_fields[name].get_default(call_default_factory=True)


def _hostile(name: str) -> str | None:
    """A valid value for setting ``name`` that differs from its default, as the shell
    would export it; ``None`` when the type admits no other value (``Literal["HS256"]``)."""
    if name in HOSTILE_LISTS:
        return HOSTILE_LISTS[name]
    if name in HOSTILE_FORMATS:
        return HOSTILE_FORMATS[name]
    field = Settings.model_fields[name]
    default = _default(name)
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation is SecretStr or args == [SecretStr]:
        return "hostile-" + secrets.token_urlsafe(32)
    if typing.get_origin(annotation) is Literal:
        others = [choice for choice in args if choice != default]
        return str(others[-1]) if others else None
    if annotation is bool or args == [bool]:
        return "false" if default in (True, None) else "true"
    if annotation is int:
        upper = next((m.le for m in field.metadata if isinstance(m, Le)), None)
        return str(default - 1 if upper is not None and default + 1 > upper else default + 1)
    if annotation is float:
        return str(default / 2)
    if annotation is str or args == [str]:
        return f"hostile-{name}"
    return None


def hostile_environment() -> dict[str, str]:
    """Every setting (but the server opt-ins) at a hostile value, upper- and lower-case
    spellings, OpenTelemetry pointed at a closed port, and a hostile ``.env`` named."""
    values = {
        name: value
        for name in Settings.model_fields
        if name not in OPT_IN and (value := _hostile(name)) is not None
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_"))
    }
    env.update({name.upper(): value for name, value in values.items()})
    env.update({f"{name}": value for name, value in values.items() if len(name) % 2})
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="hostile",
    )
    return env


def test_every_setting_has_a_hostile_value() -> None:
    """The hostile environment covers every field but the documented opt-ins and the
    one-value ``JWT_ALGORITHM``, and each value is valid and really not the default."""
    env = hostile_environment()
    covered = {name for name in Settings.model_fields if name.upper() in env}
    assert set(Settings.model_fields) - covered == OPT_IN | {"jwt_algorithm"}
    hostile = Settings(_env_file=None, **{name: env[name.upper()] for name in covered})
    for name in covered:
        value, default = getattr(hostile, name), _default(name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
            default = default.get_secret_value() if default is not None else None
        assert value != default, name


def test_the_scrub_is_derived_from_the_settings_class() -> None:
    assert {name.upper() for name in Settings.model_fields} == SETTING_VARIABLES
    for name in ("LOG_LEVEL", "log_level", "Signup_Max_Per_Ip", "OTEL_SERVICE_NAME"):
        assert reaches_the_app(name), name
    for name in ("PATH", "HOME", "DOCS_BROWSER_REQUIRED", "APP_ENV_FILE", "PYTEST_ADDOPTS"):
        assert not reaches_the_app(name), name


def test_the_suite_sees_the_hermetic_defaults() -> None:
    """ADR-0013: in this process no variable that reaches the
    app is set (but ``APP_ENV=test``), ``.env`` is not read, and every setting is its
    default."""
    leaked = sorted(n for n in os.environ if reaches_the_app(n) and n != "APP_ENV")
    assert leaked == []
    assert os.environ["APP_ENV"] == "test"
    assert os.environ["APP_ENV_FILE"] == os.devnull
    settings = get_settings()
    for name in Settings.model_fields:
        value, default = getattr(settings, name), _default(name)
        if name == "app_env":
            assert value == "test"
        elif name == "docs_enabled":
            assert value is True  # unset: on outside production
        elif name == "jwt_secret_key":
            assert value.get_secret_value() == DEFAULT_JWT_SECRET
        else:
            assert value == default, name


@pytest.mark.slow
def test_a_hostile_environment_changes_nothing(tmp_path: Path) -> None:
    """ADR-0013: pytest run with every setting exported at a hostile value (and
    ``APP_ENV_FILE`` naming a hostile ``.env``) still sees the defaults and passes tests
    that a leaked value would break. Before the scrub was derived from ``Settings``,
    ``OPENTELEMETRY_ENABLED=true`` in the shell failed the OpenTelemetry test."""
    env = hostile_environment()
    dotenv = tmp_path / "hostile.env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in env.items() if reaches_the_app(k)))
    env["APP_ENV_FILE"] = str(dotenv)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-cov", "-n", "0",
         "-q", *PROBE_TESTS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1:] or [result.stderr[-2000:]]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{len(PROBE_TESTS)} passed" in summary[0], summary
