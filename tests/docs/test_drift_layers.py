"""Docs drift of the layer rules: ``lint-imports`` passes and the import-linter
contracts place every ``app`` package in a layer (ADR-0023, ADR-0032).

Each check runs on the repository and on planted drift (a package no layer names, a
folder without ``__init__.py``). The checkers live in :mod:`tests.docs.drift`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.docs import drift
from tests.docs.conftest import fail
from tests.docs.drift import REPO


def test_import_contracts_pass() -> None:
    """`lint-imports` (the layer rules of ADR-0023) passes on the tree."""
    exe = Path(sys.executable).with_name("lint-imports")
    binary = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert binary, "lint-imports is not installed: run `make install`"
    env = {**os.environ, "PYTHONPATH": str(REPO / "backend")}
    result = subprocess.run(
        [binary, "--no-cache"], cwd=REPO, capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, (
        "import contracts are broken (fix the import, or change the rule in pyproject.toml "
        f"with an ADR):\n{result.stdout}\n{result.stderr}"
    )


def test_layer_contracts_cover_every_app_module() -> None:
    problems = drift.check_layer_contracts(drift.load_pyproject(REPO), REPO / drift.APP_DIR)
    assert not problems, fail(problems)


def test_new_domain_missing_from_layer_contracts_is_reported(tmp_path: Path) -> None:
    """Planted drift: a new package the layers contract does not place, and a package
    without ``__init__.py``."""
    app_dir = tmp_path / "app"
    for package in ("core", "db", "billing", "loose"):
        (app_dir / package).mkdir(parents=True)
        (app_dir / package / ("__init__.py" if package != "loose" else "x.py")).write_text("")
    (app_dir / "main.py").write_text("")
    pyproject = {
        "tool": {
            "importlinter": {
                "contracts": [
                    {
                        "type": "layers",
                        "containers": ["app"],
                        "layers": ["main", "loose", "db | core"],
                    },
                ]
            }
        }
    }
    problems = drift.check_layer_contracts(pyproject, app_dir)
    assert len(problems) == 2
    assert problems[0].startswith(
        "app.billing is in no layer of the import-linter layers contract in pyproject.toml"
    )
    assert problems[1].startswith("backend/app/loose/ holds Python but no __init__.py")
