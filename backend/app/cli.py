"""Command-line entry: ``python -m app <command>`` (``--help`` lists commands)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from app.core.settings import Settings, get_settings


def _migrate(args: argparse.Namespace) -> int:
    from app.db import migrations

    url = get_settings().database_url
    if args.downgrade:
        migrations.downgrade(url, args.downgrade)
    else:
        migrations.upgrade(url, args.revision)
    return 0


def _openapi(_: argparse.Namespace) -> int:
    from app.main import create_app

    schema = create_app(get_settings()).openapi()
    sys.stdout.write(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return 0


def _settings(_: argparse.Namespace) -> int:
    dump = get_settings().model_dump_safe()
    sys.stdout.write(json.dumps(dump, indent=2, default=str) + "\n")
    return 0


def read_password(stdin: TextIO | None = None) -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin.

    Never taken from argv, where it would land in shell history and ``ps`` output.
    """
    stream = stdin or sys.stdin
    if stream.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise SystemExit("error: passwords do not match")
        return first
    return stream.readline().rstrip("\r\n")


async def _create_superuser_async(email: str, password: str) -> str:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from app.core.errors import Conflict
    from app.credentials.passwords import PasswordHasher, default_context
    from app.db.engine import Database
    from app.users.service import UserService

    settings = get_settings()
    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            service = UserService(session, PasswordHasher(default_context(), 1))
            try:
                user = await service.create_superuser(email, password)
                await session.commit()
            except Conflict:
                raise SystemExit(f"error: a user with email {email} already exists") from None
            except (OperationalError, ProgrammingError) as exc:
                raise SystemExit(
                    f"error: cannot write users ({type(exc).__name__}); "
                    "run `python -m app migrate` first"
                ) from None
            return str(user.id)
    finally:
        await db.dispose()


def _create_superuser(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.users.schemas import UserCreate

    password = read_password()
    try:
        data = UserCreate.model_validate({"email": args.email, "password": password})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        sys.stderr.write(f"error: {problems}\n")
        return 2
    user_id = asyncio.run(_create_superuser_async(data.email, data.password))
    sys.stdout.write(f"created superuser {data.email} id={user_id}\n")
    return 0


async def prune_sessions(settings: Settings | None = None, *, batch_size: int = 1000) -> int:
    """Delete every revoked or expired session (and its refresh tokens), ``batch_size``
    rows per transaction, so no statement holds many locks; how many were deleted.
    Idempotent: a second run deletes nothing (ADR-0035)."""
    from app.db.engine import Database
    from app.sessions.service import SessionService

    db = Database(settings or get_settings())
    total = 0
    try:
        while True:
            async with db.sessionmaker() as session:
                deleted = await SessionService(session).prune(batch_size)
                await session.commit()
            total += deleted
            if deleted < batch_size:
                return total
    finally:
        await db.dispose()


def _prune_sessions(args: argparse.Namespace) -> int:
    deleted = asyncio.run(prune_sessions(batch_size=args.batch_size))
    sys.stdout.write(f"deleted {deleted} expired or revoked sessions\n")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from app import worker
    from app.jobs.worker import check_health

    if args.check:
        return asyncio.run(check_health(get_settings()))
    return worker.run(get_settings())


def _jobs_failed(args: argparse.Namespace) -> int:
    from app.worker import failed_jobs

    jobs = asyncio.run(failed_jobs(get_settings(), args.limit))
    for job in jobs:
        sys.stdout.write(job.to_json() + "\n")
    sys.stderr.write(f"{len(jobs)} failed jobs (newest first)\n")
    return 0


def _new_domain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.scaffold import ScaffoldError, plan

    root = Path(args.root) if args.root else Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        sys.stderr.write(f"error: {root} is not a source checkout (no pyproject.toml)\n")
        return 2
    try:
        written = plan(root, args.name, args.singular).write()
    except ScaffoldError as exc:
        sys.stderr.write(f"error: {exc}; nothing was written\n")
        return 2
    for path in written:
        sys.stdout.write(f"wrote {path.relative_to(root)}\n")
    sys.stdout.write(
        "next: make fmt && make openapi (make new-domain does both), then change the fields "
        f"in backend/app/{args.name}/ and make check\n"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser("migrate", help="apply database migrations (default: to head)")
    migrate.add_argument(
        "revision", nargs="?", default="head", help="target revision (default head)"
    )
    migrate.add_argument("--downgrade", metavar="REV", help="revert to REV instead (e.g. -1, base)")
    migrate.set_defaults(func=_migrate)

    openapi = commands.add_parser("openapi", help="print the OpenAPI schema as JSON")
    openapi.set_defaults(func=_openapi)

    settings = commands.add_parser("settings", help="print effective settings, secrets redacted")
    settings.set_defaults(func=_settings)

    superuser = commands.add_parser(
        "create-superuser",
        help="create an admin user; the password is prompted for, or read from stdin",
    )
    superuser.add_argument("--email", required=True, help="the new admin's email")
    superuser.set_defaults(func=_create_superuser)

    prune = commands.add_parser(
        "prune-sessions", help="delete expired and revoked sessions (idempotent, in batches)"
    )
    prune.add_argument(
        "--batch-size", type=int, default=1000, help="rows per transaction (default 1000)"
    )
    prune.set_defaults(func=_prune_sessions)

    worker = commands.add_parser(
        "worker", help="run the background-job worker (arq on REDIS_URL, ADR-0036)"
    )
    worker.add_argument(
        "--check", action="store_true", help="health check: exit 0 if a worker is alive"
    )
    worker.set_defaults(func=_worker)

    jobs = commands.add_parser("jobs", help="background jobs: `jobs failed` lists exhausted ones")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    failed = jobs_commands.add_parser(
        "failed", help="print the jobs that used up their tries, newest first (JSON lines)"
    )
    failed.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    failed.set_defaults(func=_jobs_failed)

    domain = commands.add_parser(
        "new-domain", help="scaffold an owned-resource domain like items (ADR-0033)"
    )
    domain.add_argument("name", help="the plural, lower case: the package, table and URL name")
    domain.add_argument("--singular", help="the singular when it is not the plural minus 's'")
    domain.add_argument("--root", help=argparse.SUPPRESS)  # tests: a copy of the repository
    domain.set_defaults(func=_new_domain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
