"""The repository explains itself with its own files: citation drift checks on the
tracked files, and proof that each one fires on planted drift (ADR-0015, ADR-0020).

The checkers live in :mod:`tests.docs.references` and :mod:`tests.docs.checklist`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi import FastAPI

from app.container import Container
from tests.docs import checklist, references
from tests.docs.drift import REPO


def _fail(problems: list[str]) -> str:
    return "\n".join(["citation drift:", *(f"  - {p}" for p in problems)])


@pytest.fixture(scope="module")
def files() -> list[str]:
    return references.tracked_files(REPO)


def _app_attributes() -> set[str]:
    return set(dir(FastAPI())) | {f.name for f in dataclasses.fields(Container)}


def _page() -> str:
    return (REPO / checklist.CHECKLIST_PAGE).read_text(encoding="utf-8")


# --- On the repository ------------------------------------------------------------


def test_no_file_cites_a_document_the_repository_lacks(files: list[str]) -> None:
    problems = references.check_foreign_documents(REPO, files)
    assert not problems, _fail(problems)


def test_every_path_adr_and_anchor_named_exists(files: list[str]) -> None:
    mkdocs_yml = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = references.site_pages(mkdocs_yml, files)
    problems = references.check_references(REPO, files, pages)
    assert not problems, _fail(problems)


def test_every_cited_security_id_is_on_the_checklist(files: list[str]) -> None:
    problems = checklist.check_security_citations(REPO, files, _page())
    assert not problems, _fail(problems)


def test_every_checklist_row_has_an_anchor_and_a_test() -> None:
    problems = checklist.check_checklist_rows(_page())
    assert not problems, _fail(problems)


def test_every_dotted_name_in_code_comments_resolves(files: list[str]) -> None:
    problems = references.check_dotted_names(REPO, files, _app_attributes())
    assert not problems, _fail(problems)


# --- Planted drift ----------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_citing_a_foreign_document_is_reported(tmp_path: Path) -> None:
    """Planted drift: the old specification and notes cited in a doc and a comment."""
    spec, notes = "SP" + "EC §3.1", "NOTES" + ".md"
    root = _tree(
        tmp_path,
        {"adr/0001-x.md": f"# X\n\nSee ({spec} #5).\n", "app.py": f"x = 1  # {notes}\n"},
    )
    problems = references.check_foreign_documents(root, ["adr/0001-x.md", "app.py"])
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"adr/0001-x.md:3 cites `{spec}`, a document this repository")
    assert "cite the ADR, docs page or test that carries the fact" in problems[0]
    assert problems[1].startswith(f"app.py:1 cites `{notes}`")
    clean = _tree(tmp_path / "clean", {"a.md": "The OpenAPI spec; openapi-spec-validator.\n"})
    assert references.check_foreign_documents(clean, ["a.md"]) == []


PLANTED_DOCS = {
    "adr/0001-real.md": '# Real\n\n## A section\n\n<a id="t1"></a>\n',
    "backend/app/db/base.py": '"""Models live in `backend/app/db/models.py` (ADR-0001)."""\n',
    "tests/unit/test_a.py": "# see tests/unit/test_gone.py and docs/x.md#nowhere\n",
    "docs/x.md": (
        "# X\n\n## Kept\n\nSee `adr/0001-real.md`, [r](../adr/0001-real.md#a-section), "
        "`adr/0001-real.md#t1`, ADR-0001 and the example `adr/NNNN-title.md`.\n"
        "Stale: `tests/unit/test_none.py`, app/gone.py, ADR-0042, `adr/0001-real.md#gone`.\n"
    ),
}


def test_missing_path_adr_or_anchor_is_reported(tmp_path: Path) -> None:
    """Planted drift: stale paths (repo-relative and ``app/``), an ADR id and anchors
    that do not exist, beside valid ones and an example path."""
    root = _tree(tmp_path, PLANTED_DOCS)
    problems = references.check_references(root, list(PLANTED_DOCS), {"docs/x.md"})
    joined = "\n".join(problems)
    assert len(problems) == 7, joined
    assert "backend/app/db/base.py:1 names backend/app/db/models.py, which does not exist" in (
        joined
    )
    assert "tests/unit/test_a.py:1 names tests/unit/test_gone.py" in joined
    assert "tests/unit/test_a.py:1 links docs/x.md#nowhere, but docs/x.md has no heading" in (
        joined
    )
    assert "docs/x.md:6 names tests/unit/test_none.py" in joined
    assert "docs/x.md:6 names app/gone.py" in joined
    assert "docs/x.md:6 cites ADR-0042, which is not in adr/" in joined
    assert "docs/x.md:6 links adr/0001-real.md#gone" in joined
    assert "fix the path" in joined
    assert "fix the anchor" in joined


def test_unknown_security_id_is_reported(tmp_path: Path) -> None:
    """Planted drift: ids cited after SECURITY, in parentheses, as a range and in a table
    cell that the checklist lacks; prose mentioning an id is not a citation."""
    page = '| <a id="t1"></a>T1 | sig | [`t`](../tests/unit/test_t.py) |\n'
    root = _tree(
        tmp_path,
        {
            "tests/unit/test_t.py": '"""Tokens (SECURITY T1, T2)."""\n',
            "backend/app/x.py": "# refused (T1\u2013T3)\n",
            "docs/y.md": "| D9, [ADR](a.md) | x |\n\nP4 in prose is fine. (T1) too.\n",
        },
    )
    problems = checklist.check_security_citations(
        root, ["tests/unit/test_t.py", "backend/app/x.py", "docs/y.md"], page
    )
    assert [p.split(",")[0] for p in problems] == [
        "backend/app/x.py:1 cites security id T2",
        "backend/app/x.py:1 cites security id T3",
        "docs/y.md:1 cites security id D9",
        "tests/unit/test_t.py:1 cites security id T2",
    ]
    assert 'add the row `| <a id="d9"></a>D9 |' in problems[2]
    assert checklist.expand("RL1", "RL3") == ["RL1", "RL2", "RL3"]


def test_checklist_row_without_anchor_or_test_is_reported() -> None:
    """Planted drift: a row without an anchor, one without a test, a duplicate id;
    a planned row is allowed."""
    page = (
        '| <a id="t1"></a>T1 | sig | [`t`](../tests/unit/test_t.py) |\n'
        "| T2 | alg | [`t`](../tests/unit/test_t.py) |\n"
        '| <a id="s1"></a>S1 | no secrets | `make lint` |\n'
        '| <a id="p1"></a>P1 | length | planned |\n'
        '| <a id="t1"></a>T1 | again | [`t`](../tests/unit/test_t.py) |\n'
    )
    problems = checklist.check_checklist_rows(page)
    assert problems[0].startswith("docs/security-checklist.md row T2 has no anchor `t2`")
    assert problems[1] == "docs/security-checklist.md has two rows for T1: keep one"
    assert problems[2].startswith("docs/security-checklist.md row S1 names no test: write one")
    assert len(problems) == 3, problems


def test_unresolvable_dotted_name_is_reported(tmp_path: Path) -> None:
    """Planted drift: a module that moved, a function renamed, a class member gone;
    names of the ``app`` object and file names pass."""
    root = _tree(
        tmp_path,
        {
            "backend/app/__init__.py": "",
            "backend/app/models.py": "class User:\n    email = 1\n\ndef load():\n    pass\n",
            "tests/unit/test_m.py": (
                '"""Uses app.models.User.email, app.models.load and app.state.container.\n\n'
                'Gone: app.db.models, app.models.unload, app.models.User.name; file app.py."""\n'
            ),
        },
    )
    problems = references.check_dotted_names(
        root, ["tests/unit/test_m.py", "backend/app/models.py"], {"state"}
    )
    assert [p.split(",")[0] for p in problems] == [
        "tests/unit/test_m.py:3 names app.db.models",
        "tests/unit/test_m.py:3 names app.models.unload",
        "tests/unit/test_m.py:3 names app.models.User.name",
    ]
    assert "fix the name (moved or renamed?)" in problems[0]
