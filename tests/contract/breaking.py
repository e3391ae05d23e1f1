"""Breaking-change guard: the current OpenAPI schema against the last release's (ADR-0021).

Standard library only (oasdiff, the usual tool, is a Go binary we cannot install).
This module is the command line and the public names; the work is split by
responsibility: :mod:`tests.contract.openapi_walk` reads a schema,
:mod:`tests.contract.breaking_changes` compares two, :mod:`tests.contract.breaking_records`
reads the breaks accepted by ADRs. It reports, per operation:

* ``removed-operation``: an operation of the release is gone;
* ``removed-response``: a status code the release declared is gone;
* ``new-required-parameter``: a parameter is new and required, or became required;
* ``new-required-body-field``: a request body (field) is new and required, or became required;
* ``removed-response-field``: a property of a 2xx response body is gone (nested too).

A breaking change is allowed only when an accepted ADR records it, one line per change::

    breaking: <operationId> <kind> [<detail>]

e.g. ``breaking: users_get removed-response-field email`` (``<detail>`` is what the
report prints after the kind; leave it out to accept every change of that kind on
that operation).

Usage::

    python -m tests.contract.breaking                  # current app vs the release snapshot
    python -m tests.contract.breaking --write-release  # cut a release: refresh the snapshot
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.contract.breaking_changes import KINDS, Change, find_breaking_changes
from tests.contract.breaking_records import is_recorded, recorded_breaks, unrecorded

__all__ = [
    "KINDS",
    "Change",
    "find_breaking_changes",
    "is_recorded",
    "main",
    "recorded_breaks",
    "render",
    "unrecorded",
]

REPO = Path(__file__).resolve().parents[2]
RELEASE_SNAPSHOT = Path("docs/reference/openapi-release.json")
ADR_DIR = Path("adr")


def current_schema() -> dict[str, Any]:
    """The schema the app serves, built from defaults (never a developer's ``.env``)."""
    import os

    os.environ.setdefault("APP_ENV_FILE", os.devnull)
    from app.core.settings import Settings
    from app.main import create_app

    return create_app(Settings(_env_file=None, app_env="test")).openapi()


def render(schema: Mapping[str, Any]) -> str:
    """The committed snapshot format (same as docs/reference/openapi.json)."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _lines(changes: Iterator[Change] | list[Change]) -> str:
    return "\n".join(f"  breaking: {change}" for change in changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, default=REPO / RELEASE_SNAPSHOT)
    parser.add_argument("--current", type=Path, help="schema file (default: build the app's)")
    parser.add_argument("--adr-dir", type=Path, default=REPO / ADR_DIR)
    parser.add_argument(
        "--write-release", action="store_true", help="overwrite the release snapshot (a release)"
    )
    args = parser.parse_args(argv)
    new = json.loads(args.current.read_text()) if args.current else current_schema()
    if args.write_release:
        args.release.write_text(render(new), encoding="utf-8")
        print(f"wrote {args.release}")
        return 0
    old = json.loads(args.release.read_text(encoding="utf-8"))
    changes = find_breaking_changes(old, new)
    records = recorded_breaks(args.adr_dir)
    missing = unrecorded(changes, records)
    accepted = [change for change in changes if change not in missing]
    if accepted:
        print(f"{len(accepted)} breaking change(s) recorded in ADRs:\n{_lines(accepted)}")
    if missing:
        print(
            f"{len(missing)} unrecorded breaking change(s) against {args.release.name}.\n"
            "Undo them, or record each in an accepted ADR with a line:\n" + _lines(missing)
        )
        return 1
    print("no unrecorded breaking changes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
