"""Breaking changes accepted by an ADR (ADR-0021).

An accepted ADR records each change it allows with one line
``breaking: <operationId> <kind> [<detail>]`` (no detail: every change of that kind on
that operation; kind ``*``: every change of the operation). Proposed or superseded
ADRs record nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from tests.contract.breaking_changes import KINDS, Change

_RECORD = re.compile(r"^\s*(?:[-*]\s*)?`?breaking:\s*(\S+)\s+(\S+)(?:\s+([^`]+?))?`?\s*$")


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
