"""ADR and citation drift checks on the real repository, and proof that each one fires on
planted drift (ADR-0015, ADR-0020): every ADR is MADR 4 shaped and indexed in
adr/README.md, and every test a document cites exists.

Every failure message says how to fix it. The checkers live in :mod:`tests.docs.adrs`.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs import adrs
from tests.docs.drift import REPO


def _fail(problems: list[str]) -> str:
    return "\n".join(["docs drift:", *(f"  - {p}" for p in problems)])


def test_adrs_are_well_formed_and_indexed() -> None:
    problems = adrs.check_adrs(REPO)
    assert not problems, _fail(problems)


def test_every_test_named_by_docs_exists() -> None:
    problems = adrs.check_test_references(REPO)
    assert not problems, _fail(problems)


GOOD_ADR = """---
status: accepted
date: 2026-11-22
---

# Use planted things

## Context and Problem Statement

Why.

## Considered Options

* A

## Decision Outcome

Chosen option: A.

### Consequences

* Good.

### Confirmation

`tests/unit/test_planted.py::test_real`
"""


def _adr_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "adr").mkdir(parents=True)
    (root / "tests/unit").mkdir(parents=True)
    (root / "tests/unit/test_planted.py").write_text(
        "def test_real():\n    pass\n\nclass TestGroup:\n    def test_inner(self):\n        pass\n"
    )
    (root / "adr/0001-use-planted-things.md").write_text(GOOD_ADR)
    (root / "adr/README.md").write_text(
        "| ADR | title | status |\n|---|---|---|\n"
        "| [0001](0001-use-planted-things.md) | Use planted things | accepted |\n"
    )
    return root


def test_malformed_unindexed_adr_is_reported(tmp_path: Path) -> None:
    """Planted drift: missing front matter and sections, no Confirmation test, not indexed."""
    root = _adr_repo(tmp_path)
    assert adrs.check_adrs(root) == []
    (root / "adr/0002-Bad_Name.md").write_text("# Bad\n\n## Context and Problem Statement\n")
    (root / "adr/0001-use-planted-things.md").write_text(
        GOOD_ADR.replace("`tests/unit/test_planted.py::test_real`", "Reviewed by hand.")
    )
    problems = "\n".join(adrs.check_adrs(root))
    assert "adr/0002-Bad_Name.md: rename to NNNN-kebab-case-title.md" in problems
    assert "adr/0002-Bad_Name.md: start with front matter" in problems
    assert "add the section `## Decision Outcome` (MADR 4)" in problems
    assert "adr/0001-use-planted-things.md: its Confirmation must name the enforcing test" in (
        problems
    )
    assert "0002-Bad_Name.md is not in adr/README.md: add the row" in problems


def test_stale_or_dangling_index_row_is_reported(tmp_path: Path) -> None:
    root = _adr_repo(tmp_path)
    (root / "adr/README.md").write_text(
        "| [0001](0001-use-planted-things.md) | Old title | accepted |\n"
        "| [0009](0009-gone.md) | Gone | accepted |\n"
    )
    problems = adrs.check_adrs(root)
    assert (
        "adr/README.md row for 0001-use-planted-things.md is out of date: make it "
        "`| [0001](0001-use-planted-things.md) | Use planted things | accepted |`" in problems
    )
    assert "adr/README.md lists 0009-gone.md, which does not exist: remove the row" in problems


def test_adr_naming_a_nonexistent_test_is_reported(tmp_path: Path) -> None:
    """Planted drift: an ADR citing a test that was renamed, and a file that is gone."""
    root = _adr_repo(tmp_path)
    assert adrs.check_test_references(root, [root / "adr/0001-use-planted-things.md"]) == []
    adr = root / "adr/0001-use-planted-things.md"
    adr.write_text(
        GOOD_ADR.replace(
            "::test_real`",
            "::test_renamed` `tests/unit/test_planted.py::"
            "TestGroup::test_inner` `tests/gone.py::test_x`",
        )
    )
    problems = adrs.check_test_references(root, [adr])
    assert problems == [
        "adr/0001-use-planted-things.md cites tests/gone.py::test_x but tests/gone.py does not "
        "exist: fix the path",
        "adr/0001-use-planted-things.md cites tests/unit/test_planted.py::test_renamed, which is "
        "not defined in tests/unit/test_planted.py: name an existing test or write it",
    ]
