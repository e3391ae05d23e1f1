"""Technology stack, tooling and offline-docs policies (ADR-0016, ADR-0020, ADR-0022)."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.docs import structure
from tests.docs.drift import REPO, load_pyproject
from tests.docs.references import tracked_files

LOCK_FILES = ("poetry.lock", "uv.lock", "Pipfile.lock", "pdm.lock", "requirements.lock")


def _requirements() -> dict[str, Requirement]:
    project = load_pyproject(REPO)["project"]
    reqs = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    parsed = [Requirement(r) for r in reqs]
    # An extra may include another extra of this project ("<name>[otel]"): not a dependency.
    return {r.name.lower(): r for r in parsed if r.name != project["name"]}


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


#: The first release of each runtime dependency without a published advisory that
#: applies to this service (SECURITY S3). Raise a floor here and in pyproject.toml
#: together when an advisory appears; `pip-audit` in the GitHub workflow finds them.
SAFE_MINIMUMS = {
    "fastapi": "0.109.1",  # CVE-2024-24762 (ReDoS in form content types)
    "starlette": "1.3.1",  # CVE-2026-48710 (Host header), -48818, -54282, -54283
    "python-multipart": "0.0.32",  # CVE-2026-42561, -53538, -53539, -53540 (DoS)
    "h11": "0.16.0",  # CVE-2025-43859 (request smuggling), via uvicorn
    "pydantic": "2.4.0",  # CVE-2024-3772 (email ReDoS)
    "pyjwt": "2.12.0",  # SECURITY T7
    "redis": "4.5.4",  # CVE-2023-28858/-28859 (cancelled commands answer others)
}


def test_s3_dependency_floors_exclude_known_vulnerable_releases() -> None:
    """SECURITY S3: every runtime floor in pyproject.toml, and every installed version,
    is at or above the first release without a known advisory, so no install can
    resolve a vulnerable one."""
    declared = {
        Requirement(r).name.lower(): Requirement(r)
        for r in load_pyproject(REPO)["project"]["dependencies"]
    }
    for name, minimum in SAFE_MINIMUMS.items():
        floor = Version(minimum)
        assert name in declared, f"declare `{name}>={minimum}` in [project].dependencies"
        spec = declared[name].specifier
        lows = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
        assert lows, f"{name} has no lower bound: add `>={minimum}`"
        assert min(lows) >= floor, f"{name}'s floor {spec} admits releases below {minimum}"
        assert Version(version(name)) >= floor, f"installed {name} is below {minimum}"


def test_no_lock_file_records_download_urls() -> None:
    """No lock file with download URLs is committed (ADR-0022)."""
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
    config = structure.load_mkdocs(REPO)
    assert config["theme"]["font"] is False
    assert config["strict"] is True
    assert config["docs_dir"] == "."
    assert set(config["validation"].values()) == {"warn"}
    assert not re.search(r"^\s*(import|inventories)\s*:", text, re.M), "inventories need network"
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]]
    assert {"same-dir", "mkdocstrings", "llmstxt", "swagger-ui-tag"} <= set(plugins)


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    assert exe.exists(), f"{name} is not installed: run `make install`"
    return str(exe)


def test_s1_detect_secrets_guards_every_tracked_file(tmp_path: Path) -> None:
    """SECURITY S1: `make lint` runs detect-secrets on every tracked file against
    `.secrets.baseline`, pre-commit runs it too, no `.env` is tracked, and the hook
    fails on a planted key."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert (
        "git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline"
        in makefile
    ), "keep detect-secrets on every tracked file in `make lint`"
    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert "detect-secrets" in {hook["id"] for repo in hooks["repos"] for hook in repo["hooks"]}
    env_files = [f for f in tracked_files(REPO) if re.fullmatch(r"(.*/)?\.env(\..+)?", f)]
    assert env_files == [".env.example"], f"never commit a real .env: {env_files}"
    planted = tmp_path / "settings.py"
    planted.write_text('AWS_KEY = "' + "AKIA" + 'Z4FQJ3KXW2MD7RTV"\n')  # pragma: allowlist secret
    result = subprocess.run(
        [_tool("detect-secrets-hook"), str(planted)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stdout
    assert "AWS Access Key" in result.stdout, result.stdout


def test_s2_bandit_finds_nothing_in_the_app(tmp_path: Path) -> None:
    """SECURITY S2: bandit, configured in pyproject.toml, reports nothing in backend/app,
    and reports a planted `shell=True`."""
    config = str(REPO / "pyproject.toml")
    result = subprocess.run(
        [_tool("bandit"), "-q", "-c", config, "-r", str(REPO / "backend/app")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"bandit findings (fix them):\n{result.stdout}"
    planted = tmp_path / "planted.py"
    planted.write_text("import subprocess\n\n\ndef f(x):\n    subprocess.call(x, shell=True)\n")
    result = subprocess.run(
        [_tool("bandit"), "-q", "-c", config, str(planted)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "B602" in result.stdout, result.stdout
