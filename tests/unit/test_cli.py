"""The command line (``python -m app``): migrate, openapi, settings, create-superuser
(backend/app/README.md; SECURITY P13: admins are created explicitly, never by default)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app import cli
from app.core.secret_rules import REDACTED
from app.core.settings import get_settings
from app.users.models import User

PASSWORD = "a fine superuser passphrase"  # pragma: allowlist secret
REPO = Path(__file__).resolve().parents[2]
DB_URL_WITH_PASSWORD = "postgresql://app:hunter2pw@db:5432/app"  # pragma: allowlist secret


def _users(url: str) -> list[tuple[str, bool, str]]:
    async def run() -> list[tuple[str, bool, str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    sa.select(User.email, User.is_superuser, User.hashed_password)
                )
                return [tuple(row) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch):
    def _use(url: str) -> str:
        monkeypatch.setenv("DATABASE_URL", url)
        return url

    return _use


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_migrate_upgrades_and_downgrades(tmp_path: Path, use_db) -> None:
    """``migrate`` applies migrations to DATABASE_URL; ``--downgrade base`` reverts them."""
    url = use_db(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    assert cli.main(["migrate"]) == 0
    assert "users" in _tables(url)
    assert cli.main(["migrate", "--downgrade", "base"]) == 0
    assert "users" not in _tables(url)


def test_openapi_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """``openapi`` prints the served schema, identity routes included."""
    assert cli.main(["openapi"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/auth/login"} <= set(
        schema["paths"]
    )


def test_settings_are_printed_with_secrets_redacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``settings`` prints every setting; the JWT secret and URL passwords are redacted."""
    secret = "cli-test-secret-value-that-must-not-print-0123456789"  # pragma: allowlist secret
    monkeypatch.setenv("JWT_SECRET_KEY", secret)
    monkeypatch.setenv("DATABASE_URL", DB_URL_WITH_PASSWORD)
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    dump = json.loads(out)
    assert dump["jwt_secret_key"] == REDACTED
    assert dump["password_hash_max_concurrency"] == 1
    assert secret not in out
    assert "hunter2pw" not in out


def test_settings_never_print_credentials_from_url_query_strings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADR-0014, SECURITY E3: ``settings`` redacts every credential form of a URL: the
    userinfo password and credential query parameters (``password``, ``sslpassword``,
    ``token``, ...; any case), and keeps everything else readable."""
    monkeypatch.setenv(
        "DATABASE_URL",
        "postgresql://app:userinfo-pw-1@db:5432/app"  # pragma: allowlist secret
        "?password=query-pw-2&SSLPassword=query-pw-3&application_name=api",
    )
    monkeypatch.setenv(
        "REDIS_URL",
        "redis://cache:6379/0?password=query-pw-4;api_key=query-pw-5&Token=query-pw-6",
    )
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    for n in range(1, 7):
        assert f"pw-{n}" not in out, n
    dump = json.loads(out)
    assert dump["database_url"] == (
        "postgresql+asyncpg://app:***@db:5432/app?password=***&SSLPassword=***&application_name=api"
    )
    assert dump["redis_url"] == "redis://cache:6379/0?password=***;api_key=***&Token=***"


def test_settings_print_the_effective_docs_switch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SECURITY H3: ``settings`` shows whether the docs are served, as resolved from
    ``APP_ENV`` when ``DOCS_ENABLED`` is unset (never an unresolved ``null``)."""
    strong = "cli-Pz8kQv2Lx9WmR4tYc7NbJ6dFs1GaE5uHo"  # pragma: allowlist secret
    monkeypatch.setenv("JWT_SECRET_KEY", strong)
    monkeypatch.setenv("APP_ENV", "prod")
    monkeypatch.setenv("MAIL_BACKEND", "smtp")  # production refuses console mail (ADR-0037)
    assert cli.main(["settings"]) == 0
    assert json.loads(capsys.readouterr().out)["docs_enabled"] is False
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_settings.cache_clear()
    assert cli.main(["settings"]) == 0
    assert json.loads(capsys.readouterr().out)["docs_enabled"] is True


def test_create_superuser_reads_password_from_stdin(
    database_url: str, use_db, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``create-superuser`` creates an active admin with a hashed password from stdin."""
    use_db(database_url)
    _stdin(monkeypatch, PASSWORD + "\n")
    assert cli.main(["create-superuser", "--email", "Root@Example.com"]) == 0
    assert "root@example.com" in capsys.readouterr().out
    [(email, is_superuser, hashed)] = _users(database_url)
    assert (email, is_superuser) == ("root@example.com", True)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed


def test_create_superuser_refuses_duplicates_and_weak_passwords(
    database_url: str, use_db, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A taken email is an error exit; a short or common password is refused (exit 2)."""
    use_db(database_url)
    _stdin(monkeypatch, PASSWORD + "\n")
    assert cli.main(["create-superuser", "--email", "root@example.com"]) == 0
    _stdin(monkeypatch, PASSWORD + "\n")
    with pytest.raises(SystemExit, match="already exists"):
        cli.main(["create-superuser", "--email", "ROOT@example.com"])
    for weak in ("short", "password123", ""):
        _stdin(monkeypatch, weak + "\n")
        assert cli.main(["create-superuser", "--email", "other@example.com"]) == 2
    assert "other@example.com" not in {row[0] for row in _users(database_url)}
    assert "password123" not in capsys.readouterr().err


def test_create_superuser_prompts_twice_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a tty the password is prompted for (hidden) and must be typed twice."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PASSWORD, PASSWORD, PASSWORD, "different"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(answers))
    assert cli.read_password(Tty()) == PASSWORD
    with pytest.raises(SystemExit, match="do not match"):
        cli.read_password(Tty())


def test_create_superuser_never_takes_the_password_from_argv() -> None:
    """There is no ``--password`` option (argv leaks into shell history and ``ps``)."""
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["create-superuser", "--email", "a@b.co", "--password", "x"])


def test_create_superuser_without_migrations_explains(
    tmp_path: Path, use_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against an unmigrated database the command says to migrate first."""
    use_db(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    _stdin(monkeypatch, PASSWORD + "\n")
    with pytest.raises(SystemExit, match="migrate"):
        cli.main(["create-superuser", "--email", "root@example.com"])


def test_python_dash_m_app_entry_point(tmp_path: Path) -> None:
    """``python -m app`` works as a process: migrate, then create-superuser from a pipe."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'proc.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "JWT"))},
        "DATABASE_URL": url,
        "APP_ENV_FILE": os.devnull,
    }
    run = lambda *args, **kw: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kw,
    )
    assert run("migrate").returncode == 0
    created = run("create-superuser", "--email", "root@example.com", input=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    assert _users(url)[0][:2] == ("root@example.com", True)
    assert run("--help").returncode == 0
