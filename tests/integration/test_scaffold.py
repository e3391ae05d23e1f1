"""``make new-domain``: the scaffolded domain passes the repository's own checks with no
edit (ADR-0033). Runs the scaffolder twice on a copy of the repository, the second time
with a 16-character name (the longest allowed, so every template line is proven to
leave room for it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NAME = "gizmo_components"  # 16 characters: the longest name the scaffolder accepts
BIN = Path(sys.executable).parent
# What the outer run (CI's `make check PYTEST_ARGS=... DOCS_BROWSER_REQUIRED=1`) would leak
# into the copy's own run: its make variables, demands the copy cannot meet (no site/), and
# the outer run's Redis: without an xdist worker number the copy would take the given db
# itself, worker gw0's, and its FLUSHDBs would wipe gw0's queued jobs (it runs on fakeredis).
_OUTER_RUN = frozenset({
    "PYTEST_XDIST_WORKER", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTEST_ARGS",
    "DOCS_BROWSER_REQUIRED", "FAULT_SUITE_REQUIRED", "REDIS_URL", "TESTS_SERVER_REDIS_URL",
})  # fmt: skip


def _run(root: Path, *command: str, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _OUTER_RUN}
    env |= {"PYTHONPATH": str(root / "backend"), "APP_ENV_FILE": "/dev/null"}
    result = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored) in ``tmp_path``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tmp_path / name)
    # A repository of its own, as a fresh clone is (drift checks list tracked files).
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


@pytest.mark.slow
def test_a_scaffolded_domain_passes_lint_types_layers_drift_and_its_own_tests(
    repo_copy: Path, pytestconfig: pytest.Config
) -> None:
    root = repo_copy
    # Twice, as a team does: the second run must find its anchors in files the first run
    # registered into and the formatter rewrapped (the router list, ``__all__``).
    for name in ("gadgets", NAME):
        out = _run(root, str(BIN / "python"), "-m", "app", "new-domain", name, "--root", str(root))
        assert f"backend/app/{name}/routes.py" in out
        ruff = str(BIN / "ruff")
        _run(root, ruff, "check", "--fix", "--select", "I,RUF022", "-q", "backend", "tests")
        _run(root, ruff, "format", "-q", "backend", "tests")
    (root / "docs/reference/openapi.json").write_text(
        _run(root, str(BIN / "python"), "-m", "app", "openapi"), encoding="utf-8"
    )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    _run(root, str(BIN / "ruff"), "check", "backend", "tests")
    _run(root, str(BIN / "ruff"), "format", "--check", "backend", "tests")
    _run(root, str(BIN / "lint-imports"))
    # mypy's cache outlives the copy (pytest's cache folder): it keys each module by the
    # hash of its source, so only the new domains and what imports them are checked
    # again (~1 s; 7 s from cold, most of it the libraries' stubs).
    cache = getattr(pytestconfig, "cache", None)
    mypy_cache = cache.mkdir("scaffold-mypy") if cache else root / ".mypy_cache"
    _run(root, str(BIN / "mypy"), "--cache-dir", str(mypy_cache))
    _run(
        root, str(BIN / "pytest"), "-q", "-n", "0", "-p", "no:cacheprovider", "--no-cov",
        f"tests/integration/test_{NAME}_api.py", f"tests/unit/test_{NAME}_service.py",
        "tests/integration/test_gadgets_api.py",
        "tests/integration/test_migrations.py", "tests/integration/test_auth_routes_protected.py",
        # The docs checks, but not the browser's: it opens the built site, which the copy
        # does not have, and a planted one, which the new domain cannot change.
        "tests/docs", "--ignore", "tests/docs/test_browser.py",
        timeout=600,
    )  # fmt: skip
