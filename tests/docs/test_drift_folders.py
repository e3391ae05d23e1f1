"""Docs drift of the folders: every code folder has its README.md and CONTRACT.md, and
every folder doc is in the site's nav, once (ADR-0020).

Each check runs on the repository and on a planted tree, to prove it fires and that its
message says how to fix it. The checkers live in :mod:`tests.docs.drift`.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs import drift
from tests.docs.conftest import fail, read
from tests.docs.drift import REPO


def test_every_folder_has_its_readme_and_contract() -> None:
    problems = drift.check_folder_docs(REPO)
    assert not problems, fail(problems)


def test_every_folder_doc_is_in_the_site_nav() -> None:
    problems = drift.check_nav_lists_folder_docs(REPO, read("mkdocs.yml"))
    assert not problems, fail(problems)


def _skeleton(tmp_path: Path) -> Path:
    """A minimal documented tree: backend/app with one documented code folder."""
    root = tmp_path / "repo"
    for folder in ("backend/app", "backend/app/core", *drift.TOP_LEVEL_FOLDERS):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "README.md").write_text("# x\n")
    for folder in ("backend/app", "backend/app/core"):
        (root / folder / "__init__.py").write_text("")
        (root / folder / "CONTRACT.md").write_text("# x\n")
    return root


def test_folder_without_readme_or_contract_is_reported(tmp_path: Path) -> None:
    """Planted drift: a new code folder with neither file, and a missing top-level README."""
    root = _skeleton(tmp_path)
    assert drift.check_folder_docs(root) == []
    (root / "backend/app/billing").mkdir()
    (root / "backend/app/billing/service.py").write_text("")
    (root / "backend/app/billing/__pycache__").mkdir()
    (root / "examples/README.md").unlink()
    problems = drift.check_folder_docs(root)
    assert len(problems) == 3, problems
    assert problems[0].startswith("backend/app/billing/ has no README.md: add one")
    assert problems[1].startswith("backend/app/billing/ holds Python code but has no CONTRACT.md")
    assert problems[2] == "examples/ has no README.md: add one and list it in mkdocs.yml nav"
    nav = drift.check_nav_lists_folder_docs(root, "nav:\n  - x: backend/app/core/README.md\n")
    assert (
        "backend/app/core/CONTRACT.md is not in mkdocs.yml nav: add "
        "`- backend/app/core/CONTRACT.md` under its section" in nav
    )
    assert not any(p.startswith("backend/app/core/README.md") for p in nav)
    twice = "nav:\n  - x: backend/app/core/README.md\n  - y: backend/app/core/README.md\n"
    assert drift.check_nav_lists_folder_docs(root, twice)[-1] == (
        "backend/app/core/README.md is listed 2 times in mkdocs.yml nav: keep one"
    )
