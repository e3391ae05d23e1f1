"""Helpers of the docs drift tests (``test_drift*.py``): read a repository file, and
format a checker's problems as one failure message (each problem says how to fix it).
"""

from __future__ import annotations

from pathlib import Path

from tests.docs.drift import REPO


def fail(problems: list[str]) -> str:
    """The assertion message for a checker's problems, one per line."""
    return "\n".join(["docs drift:", *(f"  - {p}" for p in problems)])


def read(rel: Path | str) -> str:
    """A file of the repository, by its path from the root."""
    return (REPO / rel).read_text(encoding="utf-8")
