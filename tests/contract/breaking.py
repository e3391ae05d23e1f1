"""Breaking-change guard: the current OpenAPI schema against the last release's (ADR-0021).

Standard library only (oasdiff, the usual tool, is a Go binary we cannot install).
It reports, per operation:

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
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RELEASE_SNAPSHOT = Path("docs/reference/openapi-release.json")
ADR_DIR = Path("adr")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
KINDS = (
    "removed-operation",
    "removed-response",
    "new-required-parameter",
    "new-required-body-field",
    "removed-response-field",
)
_RECORD = re.compile(r"^\s*(?:[-*]\s*)?`?breaking:\s*(\S+)\s+(\S+)(?:\s+([^`]+?))?`?\s*$")
_MAX_DEPTH = 8


@dataclass(frozen=True, order=True)
class Change:
    """One breaking change of one operation."""

    operation: str  # operationId, or "METHOD /path" when the release had none
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.operation} {self.kind} {self.detail}".rstrip()


# --- Reading a schema ---------------------------------------------------------------


def _operations(schema: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _resolve(schema: Mapping[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``) until a concrete node."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen.add(ref)
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node = target
    return node


def _alternatives(schema: Mapping[str, Any], node: Any) -> list[Mapping[str, Any]]:
    """A schema node and the branches of its ``allOf``/``anyOf``/``oneOf``, resolved."""
    node = _resolve(schema, node)
    if not isinstance(node, Mapping):
        return []
    out = [node]
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(key, ()):
            out.extend(_alternatives(schema, branch))
    return out


def _properties(schema: Mapping[str, Any], node: Any) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for alt in _alternatives(schema, node):
        props.update(alt.get("properties", {}))
    return props


def _required(schema: Mapping[str, Any], node: Any) -> set[str]:
    return {name for alt in _alternatives(schema, node) for name in alt.get("required", ())}


def _fields(schema: Mapping[str, Any], node: Any, prefix: str = "", depth: int = 0) -> set[str]:
    """Dotted paths of every property (``items`` of arrays as ``[]``) under ``node``."""
    if depth > _MAX_DEPTH:
        return set()
    found: set[str] = set()
    for name, sub in _properties(schema, node).items():
        path = f"{prefix}{name}"
        found.add(path)
        found |= _fields(schema, sub, f"{path}.", depth + 1)
    for alt in _alternatives(schema, node):
        if "items" in alt:
            found |= _fields(schema, alt["items"], f"{prefix}[].", depth + 1)
    return found


def _params(
    schema: Mapping[str, Any], path_item: Mapping[str, Any], operation: Mapping[str, Any]
) -> dict[tuple[str, str], bool]:
    """``{(in, name): required}``; operation-level parameters override path-level ones."""
    out: dict[tuple[str, str], bool] = {}
    for raw in (*path_item.get("parameters", ()), *operation.get("parameters", ())):
        param = _resolve(schema, raw)
        out[(param.get("in", ""), param.get("name", ""))] = bool(param.get("required", False))
    return out


def _body(schema: Mapping[str, Any], operation: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Whether a body is required, and its schema per media type."""
    body = _resolve(schema, operation.get("requestBody", {}))
    media = {name: spec.get("schema", {}) for name, spec in body.get("content", {}).items()}
    return bool(body.get("required", False)), media


def _success_bodies(schema: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, response in operation.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        response = _resolve(schema, response)
        for media, spec in response.get("content", {}).items():
            out[f"{status} {media}"] = spec.get("schema", {})
    return out


# --- Comparing ------------------------------------------------------------------------


def find_breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every breaking change from ``old`` (the release) to ``new`` (the candidate)."""
    changes: list[Change] = []
    old_ops, new_ops = _operations(old), _operations(new)
    for key, before in old_ops.items():
        method, path = key
        name = before.get("operationId") or f"{method} {path}"
        after = new_ops.get(key)
        if after is None:
            changes.append(Change(name, "removed-operation", f"{method} {path}"))
            continue
        changes += [
            Change(name, "removed-response", str(status))
            for status in before.get("responses", {})
            if status not in after.get("responses", {})
        ]
        old_params = _params(old, old["paths"][path], before)
        new_params = _params(new, new["paths"][path], after)
        changes += [
            Change(name, "new-required-parameter", f"{where}:{param}")
            for (where, param), required in sorted(new_params.items())
            if required and not old_params.get((where, param), False)
        ]
        changes += _body_changes(name, old, before, new, after)
        old_bodies, new_bodies = _success_bodies(old, before), _success_bodies(new, after)
        for response, old_schema in old_bodies.items():
            if response not in new_bodies:
                continue  # a removed status or media type is reported on its own
            gone = _fields(old, old_schema) - _fields(new, new_bodies[response])
            changes += [Change(name, "removed-response-field", field) for field in sorted(gone)]
    return sorted(set(changes))


def _body_changes(
    name: str,
    old: Mapping[str, Any],
    before: Mapping[str, Any],
    new: Mapping[str, Any],
    after: Mapping[str, Any],
) -> list[Change]:
    old_required, old_media = _body(old, before)
    new_required, new_media = _body(new, after)
    changes: list[Change] = []
    if new_required and not old_required:
        changes.append(Change(name, "new-required-body-field", "<body>"))
    for media, new_schema in new_media.items():
        if media not in old_media:
            continue
        was = _required(old, old_media[media])
        changes += [
            Change(name, "new-required-body-field", field)
            for field in sorted(_required(new, new_schema) - was)
        ]
    return changes


# --- Recording accepted breaks in ADRs ------------------------------------------------


def _is_accepted(text: str) -> bool:
    if not text.startswith("---"):
        return False
    front = text.split("---", 2)[1]
    return re.search(r"^status:\s*accepted\s*$", front, re.MULTILINE) is not None


def recorded_breaks(adr_dir: Path) -> dict[Change, str]:
    """``breaking:`` lines of accepted ADRs, each mapped to the ADR file that records it."""
    out: dict[Change, str] = {}
    for adr in sorted(adr_dir.glob("[0-9][0-9][0-9][0-9]-*.md")):
        text = adr.read_text(encoding="utf-8")
        if not _is_accepted(text):
            continue
        for line in text.splitlines():
            match = _RECORD.match(line)
            if match and match.group(2) in (*KINDS, "*"):
                out[Change(match.group(1), match.group(2), (match.group(3) or "").strip())] = (
                    adr.name
                )
    return out


def is_recorded(change: Change, records: Iterable[Change]) -> bool:
    return any(
        rec.operation == change.operation
        and rec.kind in (change.kind, "*")
        and rec.detail in ("", change.detail)
        for rec in records
    )


def unrecorded(changes: Iterable[Change], records: Iterable[Change]) -> list[Change]:
    records = list(records)
    return [change for change in changes if not is_recorded(change, records)]


# --- Command line ----------------------------------------------------------------------


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
