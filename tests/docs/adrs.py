"""ADR and citation drift checkers: every ADR is MADR 4 shaped and indexed, and every
``tests/...py::test_name`` a document cites exists (ADR-0015, ADR-0020).

Pure, like :mod:`tests.docs.drift`: input in, one problem per drift out, each saying how
to fix it. ``tests/docs/test_adrs.py`` runs them on the repository and on planted drift.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

ADR_DIR = Path("adr")
ADR_INDEX = ADR_DIR / "README.md"

# --- ADRs ------------------------------------------------------------------------

ADR_NAME = re.compile(r"^(\d{4})-[a-z0-9]+(?:-[a-z0-9]+)*\.md$")
ADR_STATUSES = ("proposed", "accepted", "rejected", "deprecated", "superseded")
ADR_SECTIONS = (
    "## Context and Problem Statement",
    "## Considered Options",
    "## Decision Outcome",
    "### Consequences",
    "### Confirmation",
)
TEST_REF = re.compile(r"(tests/[\w./-]+\.py)::(\w+(?:::\w+)?(?:\[[^\]\s]*\])?)")
#: The placeholder used when docs explain the citation format; never checked.
PLACEHOLDER_TEST_FILE = "tests/path/test_file.py"
_INDEX_ROW = re.compile(
    r"^\|\s*\[(\d{4})\]\((\d{4}-[\w-]+\.md)\)\s*\|\s*(.+?)\s*\|\s*(\w+)\s*\|", re.M
)


def parse_front_matter(text: str) -> dict[str, str] | None:
    """The ``key: value`` pairs of a leading ``---`` block, or ``None`` if there is none."""
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---\n", 4)
    if end < 0:
        return None
    pairs: dict[str, str] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            pairs[key.strip()] = value.strip().strip("'\"")
    return pairs


def adr_title(text: str) -> str | None:
    match = re.search(r"^# (.+)$", text, re.M)
    return match.group(1).strip() if match else None


def check_adr(name: str, text: str) -> list[str]:
    """One ADR is MADR 4 shaped: name, front matter, sections, a Confirmation naming tests."""
    problems: list[str] = []
    where = f"{ADR_DIR}/{name}"
    if not ADR_NAME.match(name):
        problems.append(f"{where}: rename to NNNN-kebab-case-title.md")
    meta = parse_front_matter(text)
    if meta is None:
        problems.append(
            f"{where}: start with front matter `---\\nstatus: accepted\\ndate: ...\\n---`"
        )
        meta = {}
    status = meta.get("status", "").split()[0] if meta.get("status") else ""
    if status not in ADR_STATUSES:
        problems.append(f"{where}: front matter `status` must be one of {', '.join(ADR_STATUSES)}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta.get("date", "")):
        problems.append(f"{where}: front matter `date` must be YYYY-MM-DD")
    if adr_title(text) is None:
        problems.append(f"{where}: add a `# Title` heading")
    for section in ADR_SECTIONS:
        if not re.search(rf"^{re.escape(section)}\s*$", text, re.M):
            problems.append(f"{where}: add the section `{section}` (MADR 4)")
    confirmation = text.split("### Confirmation", 1)[1] if "### Confirmation" in text else ""
    confirmation = re.split(r"^#{1,3} ", confirmation, maxsplit=1, flags=re.M)[0]
    if status == "accepted" and not TEST_REF.search(confirmation):
        problems.append(
            f"{where}: its Confirmation must name the enforcing test(s) as "
            "`tests/path/test_file.py::test_name`"
        )
    return problems


def check_adrs(root: Path) -> list[str]:
    """Every ADR is well-formed, numbers are unique, and adr/README.md indexes each one
    with its title and status (and nothing else)."""
    adr_dir = root / ADR_DIR
    files = sorted(p for p in adr_dir.glob("*.md") if p.name not in ("README.md", "template.md"))
    problems: list[str] = []
    numbers: dict[str, str] = {}
    expected: dict[str, tuple[str, str, str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        problems += check_adr(path.name, text)
        number = path.name[:4]
        if number in numbers:
            problems.append(
                f"{ADR_DIR}/{path.name} reuses number {number} of {numbers[number]}: renumber it"
            )
        numbers[number] = path.name
        meta = parse_front_matter(text) or {}
        status = (meta.get("status") or "").split()[0] if meta.get("status") else ""
        expected[path.name] = (number, adr_title(text) or "", status)
    index_path = root / ADR_INDEX
    index = index_path.read_text(encoding="utf-8") if index_path.is_file() else ""
    rows = {m.group(2): (m.group(1), m.group(3), m.group(4)) for m in _INDEX_ROW.finditer(index)}
    for name, (number, title, status) in expected.items():
        row = rows.get(name)
        want = f"| [{number}]({name}) | {title} | {status} |"
        if row is None:
            problems.append(f"{name} is not in {ADR_INDEX}: add the row `{want}`")
        elif row != (number, title, status):
            problems.append(f"{ADR_INDEX} row for {name} is out of date: make it `{want}`")
    for name in sorted(set(rows) - set(expected)):
        problems.append(f"{ADR_INDEX} lists {name}, which does not exist: remove the row")
    return problems


# --- Named tests exist -----------------------------------------------------------


def defined_tests(source: str) -> set[str]:
    """``test_x`` and ``TestClass::test_x`` names defined in a test module's source."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{item.name}")
    return names


def documents_naming_tests(root: Path) -> list[Path]:
    """ADRs, every CONTRACT.md, AGENTS.md and the docs pages: where tests are cited."""
    found = sorted((root / ADR_DIR).glob("*.md"))
    found += sorted(p for p in (root / "backend").rglob("CONTRACT.md"))
    found += sorted((root / "docs").rglob("*.md"))
    found += [p for p in (root / "AGENTS.md", root / "README.md") if p.is_file()]
    return found


def check_test_references(root: Path, documents: Iterable[Path] | None = None) -> list[str]:
    """Every ``tests/...py::name`` cited by a document names a test that exists."""
    cache: dict[str, set[str] | None] = {}
    problems: list[str] = []
    for doc in documents if documents is not None else documents_naming_tests(root):
        text = doc.read_text(encoding="utf-8")
        for path, name in sorted(set(TEST_REF.findall(text))):
            if path == PLACEHOLDER_TEST_FILE:
                continue
            if path not in cache:
                file = root / path
                cache[path] = (
                    defined_tests(file.read_text(encoding="utf-8")) if file.is_file() else None
                )
            names = cache[path]
            rel = doc.relative_to(root) if doc.is_relative_to(root) else doc
            base = name.split("[", 1)[0]
            if names is None:
                problems.append(
                    f"{rel} cites {path}::{name} but {path} does not exist: fix the path"
                )
            elif base not in names:
                problems.append(
                    f"{rel} cites {path}::{name}, which is not defined in {path}: "
                    "name an existing test or write it"
                )
    return problems
