"""What counts as a breaking change from one OpenAPI schema to the next (ADR-0021).

Per operation of the release: ``removed-operation``, ``removed-response`` (a status
code), ``new-required-parameter``, ``new-required-body-field`` (a body or field that is
new and required, or became required) and ``removed-response-field`` (a property of a
2xx response body, nested too). Additive changes are not breaking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.contract import openapi_walk as walk

KINDS = (
    "removed-operation",
    "removed-response",
    "new-required-parameter",
    "new-required-body-field",
    "removed-response-field",
)


@dataclass(frozen=True, order=True)
class Change:
    """One breaking change of one operation."""

    operation: str  # operationId, or "METHOD /path" when the release had none
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.operation} {self.kind} {self.detail}".rstrip()


def find_breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every breaking change from ``old`` (the release) to ``new`` (the candidate)."""
    changes: list[Change] = []
    old_ops, new_ops = walk.operations(old), walk.operations(new)
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
        old_params = walk.params(old, old["paths"][path], before)
        new_params = walk.params(new, new["paths"][path], after)
        changes += [
            Change(name, "new-required-parameter", f"{where}:{param}")
            for (where, param), required in sorted(new_params.items())
            if required and not old_params.get((where, param), False)
        ]
        changes += _body_changes(name, old, before, new, after)
        old_bodies, new_bodies = walk.success_bodies(old, before), walk.success_bodies(new, after)
        for response, old_schema in old_bodies.items():
            if response not in new_bodies:
                continue  # a removed status or media type is reported on its own
            gone = walk.fields(old, old_schema) - walk.fields(new, new_bodies[response])
            changes += [Change(name, "removed-response-field", field) for field in sorted(gone)]
    return sorted(set(changes))


def _body_changes(
    name: str,
    old: Mapping[str, Any],
    before: Mapping[str, Any],
    new: Mapping[str, Any],
    after: Mapping[str, Any],
) -> list[Change]:
    old_required, old_media = walk.request_body(old, before)
    new_required, new_media = walk.request_body(new, after)
    changes: list[Change] = []
    if new_required and not old_required:
        changes.append(Change(name, "new-required-body-field", "<body>"))
    for media, new_schema in new_media.items():
        if media not in old_media:
            continue
        was = walk.required_fields(old, old_media[media])
        changes += [
            Change(name, "new-required-body-field", field)
            for field in sorted(walk.required_fields(new, new_schema) - was)
        ]
    return changes
