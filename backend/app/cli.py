"""Command-line entry: ``python -m app <command>`` (``--help`` lists commands)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from app.core.settings import get_settings


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
