"""Every domain folder is registered everywhere domains are listed (ADR-0023, ADR-0033).

A domain is a package under ``backend/app`` with a ``routes.py``. It must appear in the
three repository maps (AGENTS.md, README.md, backend/app/README.md) and in the
import-linter contract that keeps routes away from repositories. (The layers contract
and the docs nav have their own checks in ``tests/docs/drift.py``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAPS = {"AGENTS.md": "`backend/app/{name}/`", "README.md": "`backend/app/{name}/`",
        "backend/app/README.md": "`{name}/`"}  # fmt: skip
ROUTES_CONTRACT = "Routes call services, never repositories"


def domains(app_dir: Path) -> list[str]:
    """The packages under ``app_dir`` that serve routes."""
    return sorted(p.parent.name for p in app_dir.glob("*/routes.py"))


def check_domains_registered(
    root: Path, pyproject: Mapping[str, Any], names: list[str]
) -> list[str]:
    problems: list[str] = []
    for doc, pattern in MAPS.items():
        rows = [line for line in (root / doc).read_text(encoding="utf-8").splitlines()
                if line.startswith("| ")]  # fmt: skip
        for name in names:
            if not any(line.startswith(f"| {pattern.format(name=name)}") for line in rows):
                problems.append(
                    f"{doc} has no map row for backend/app/{name}/: add one (what it holds, "
                    "links to its README and CONTRACT), like the row of items"
                )
    contracts = pyproject.get("tool", {}).get("importlinter", {}).get("contracts", [])
    routes = next((c for c in contracts if c.get("name") == ROUTES_CONTRACT), {})
    for name in names:
        if f"app.{name}.routes" not in routes.get("source_modules", []):
            problems.append(
                f'pyproject.toml: add "app.{name}.routes" to source_modules of the '
                f'import-linter contract "{ROUTES_CONTRACT}"'
            )
        repository = f"app.{name}.repository"
        if (
            root / "backend/app" / name / "repository.py"
        ).exists() and repository not in routes.get("forbidden_modules", []):
            problems.append(
                f'pyproject.toml: add "{repository}" to forbidden_modules of the '
                f'import-linter contract "{ROUTES_CONTRACT}"'
            )
    return problems
