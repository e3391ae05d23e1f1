"""Technology stack, tooling and offline-docs policies (ADR-0016, ADR-0020, ADR-0022)."""

from __future__ import annotations

import re
import sys

import yaml
from packaging.requirements import Requirement

from tests.docs.drift import REPO, load_pyproject

LOCK_FILES = ("poetry.lock", "uv.lock", "Pipfile.lock", "pdm.lock", "requirements.lock")


def _requirements() -> dict[str, Requirement]:
    project = load_pyproject(REPO)["project"]
    reqs = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return {Requirement(r).name.lower(): Requirement(r) for r in reqs}


def test_python_311_and_the_core_stack() -> None:
    """Python >= 3.11; FastAPI, pydantic v2, uvicorn[standard] are the runtime (ADR-0016)."""
    assert sys.version_info >= (3, 11)
    assert load_pyproject(REPO)["project"]["requires-python"] == ">=3.11"
    reqs = _requirements()
    assert "standard" in reqs["uvicorn"].extras, "uvicorn without [standard] is 2-4x slower"
    assert reqs["pydantic"].specifier.contains("2.10")
    assert not reqs["pydantic"].specifier.contains("3.0")
    for name in ("fastapi", "pydantic-settings", "sqlalchemy", "alembic"):
        assert name in reqs, name


def test_every_dependency_has_a_lower_bound_and_mkdocs_stays_below_2() -> None:
    """Pinned ranges in pyproject.toml, not a lock file (ADR-0022); mkdocs < 2 (ADR-0020)."""
    for name, req in _requirements().items():
        assert any(spec.operator in (">=", "==", "~=") for spec in req.specifier), (
            f"{name} has no lower bound in pyproject.toml: add `>=x.y`"
        )
    mkdocs = _requirements()["mkdocs"].specifier
    assert mkdocs.contains("1.6.1")
    assert not mkdocs.contains("2.0")


def test_no_lock_file_records_download_urls() -> None:
    """No lock file with download URLs is committed (SPEC §5, ADR-0022)."""
    present = [name for name in LOCK_FILES if (REPO / name).exists()]
    assert present == [], f"remove {present}: pin ranges in pyproject.toml instead"
    for path in REPO.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://\S+\.(whl|tar\.gz)", text), path


def test_tooling_is_configured_strictly() -> None:
    """ruff (lint + format), mypy strict, pre-commit running the same tools (ADR-0022)."""
    tool = load_pyproject(REPO)["tool"]
    assert tool["mypy"]["strict"] is True
    assert {"E", "F", "I", "B", "S"} <= set(tool["ruff"]["lint"]["select"])
    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    ids = {hook["id"] for repo in hooks["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "import-contracts"} <= ids


def test_docs_site_is_configured_for_offline_strict_builds() -> None:
    """No web fonts, no remote inventories, strict validation (ADR-0020)."""
    text = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert config["theme"]["font"] is False
    assert config["strict"] is True
    assert config["docs_dir"] == "."
    assert set(config["validation"].values()) == {"warn"}
    assert not re.search(r"^\s*(import|inventories)\s*:", text, re.M), "inventories need network"
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]]
    assert {"same-dir", "mkdocstrings", "llmstxt", "swagger-ui-tag"} <= set(plugins)
