"""Security checklist drift checkers (docs/security-checklist.md).

The checklist page owns the security ids (``T1``, ``P10``, ``RL5``...): one table row
per id, ``| <a id="t1"></a>T1 | requirement | tests |``. Code, tests and docs cite
the ids; these pure checkers keep the two in step. ``tests/docs/test_drift.py`` and
``tests/docs/test_references.py`` run them on the repository and on planted drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.docs.references import prose

CHECKLIST_PAGE = Path("docs/security-checklist.md")
_ID = r"(?:RL|[TPAREHSD])\d{1,2}"
_SECURITY_ID = re.compile(rf"\b({_ID})\b")
#: A checklist row: ``| <a id="t1"></a>T1 | requirement | tests |`` (the anchor optional).
_CHECKLIST_ROW = re.compile(
    r"^\|[ \t]*(?:<a id=\"[\w-]+\"></a>)?((?:RL|[TPAREHSD])\d{1,2})[ \t]*\|[^\n]*\|"
    r"[ \t]*([^|\n]*?)[ \t]*\|[ \t]*$",
    re.M,
)
_ROW_START = re.compile(rf"^\|[ \t]*(<a id=\"([\w-]+)\"></a>)?({_ID})[ \t]*\|", re.M)
#: A test file named in a row's last cell.
_TEST_FILE = re.compile(r"tests/[\w/]+\.py")


def checklist_ids(page: str) -> set[str]:
    """The ids that have a row on the checklist page."""
    return {m.group(3) for m in _ROW_START.finditer(page)}


def security_ids_claimed(sources: Mapping[str, str]) -> dict[str, list[str]]:
    """``{id: [test files]}`` for each ``SECURITY X1, X2`` mention in test sources."""
    claimed: dict[str, list[str]] = {}
    for name, text in sources.items():
        for line in text.splitlines():
            if "SECURITY" not in line:
                continue
            for sid in _SECURITY_ID.findall(line.split("SECURITY", 1)[1]):
                claimed.setdefault(sid, [])
                if name not in claimed[sid]:
                    claimed[sid].append(name)
    return claimed


def check_security_checklist(page: str, test_sources: Mapping[str, str]) -> list[str]:
    """A checklist row still marked *planned* while a test claims that id is stale."""
    rows = dict(_CHECKLIST_ROW.findall(page))
    problems: list[str] = []
    for sid, files in sorted(security_ids_claimed(test_sources).items()):
        cell = rows.get(sid)
        if cell is not None and cell.lower().startswith("planned"):
            problems.append(
                f"{CHECKLIST_PAGE} says {sid} is planned, but {', '.join(files)} claims "
                f"SECURITY {sid}: replace `planned` with the test(s) as "
                "[`tests/path/test_file.py::test_name`](../tests/path/test_file.py)"
            )
    return problems


def collect_test_sources(root: Path) -> dict[str, str]:
    """Every test module's source, by repository-relative path (``tests/docs`` excluded:
    its planted examples are not claims)."""
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((root / "tests").rglob("test_*.py"))
        if "docs" not in p.relative_to(root / "tests").parts[:1]
    }


def check_checklist_rows(page: str) -> list[str]:
    """Each id has one row, an anchor named after it, and at least one test (or
    *planned*, for a feature or test that has not landed)."""
    problems: list[str] = []
    seen: set[str] = set()
    for match in _ROW_START.finditer(page):
        sid, anchor = match.group(3), match.group(2)
        if sid in seen:
            problems.append(f"{CHECKLIST_PAGE} has two rows for {sid}: keep one")
        seen.add(sid)
        if anchor != sid.lower():
            problems.append(
                f"{CHECKLIST_PAGE} row {sid} has no anchor `{sid.lower()}`: start it with "
                f'`| <a id="{sid.lower()}"></a>{sid} |` so `security-checklist.md#{sid.lower()}` '
                "links work"
            )
    for sid, cell in _CHECKLIST_ROW.findall(page):
        if not cell.lower().startswith("planned") and not _TEST_FILE.search(cell):
            problems.append(
                f"{CHECKLIST_PAGE} row {sid} names no test: write one that proves it (name "
                f"`SECURITY {sid}` in its docstring) and cite it in the row as "
                "[`tests/path/test_file.py::test_name`](../tests/path/test_file.py)"
            )
    return problems


_RANGE = re.compile(rf"^({_ID})(?:\s*[\u2013-]\s*({_ID}))?$")
_SECURITY_LIST = re.compile(
    rf"\bSECURITY\b[:\s]*((?:{_ID}(?:\s*[\u2013-]\s*{_ID})?)(?:\s*(?:,|;|/|and)\s*{_ID}"
    rf"(?:\s*[\u2013-]\s*{_ID})?)*)"
)
_PARENS = re.compile(r"\(([^()\n]*)\)")


def expand(first: str, last: str | None) -> list[str]:
    """``T1`` to ``T7`` (en dash or hyphen) as ``[T1, ..., T7]``; a single id as itself."""
    if last is None:
        return [first]
    prefix, start = re.match(r"([A-Z]+)(\d+)", first).groups()  # type: ignore[union-attr]
    other, end = re.match(r"([A-Z]+)(\d+)", last).groups()  # type: ignore[union-attr]
    if other != prefix or int(end) < int(start):
        return [first, last]
    return [f"{prefix}{n}" for n in range(int(start), int(end) + 1)]


def _ids_in_parts(parts: Iterable[str]) -> list[str]:
    found: list[str] = []
    for part in parts:
        match = _RANGE.match(part.strip().strip("`*"))
        if match:
            found += expand(match.group(1), match.group(2))
    return found


def security_citations(text: str) -> list[tuple[int, str]]:
    """``(offset, id)`` for each security id the text cites: after ``SECURITY``, as a
    whole item of a parenthesised list (``(T9)``, ``(P10, P9)``, ``(RL1-RL8)``) or of a
    table cell (``| D4, [ADR-0008](...) |``). Ids in running prose are not citations."""
    found: list[tuple[int, str]] = []
    for match in _SECURITY_LIST.finditer(text):
        items = re.split(r"\s*(?:,|;|/|\band\b)\s*", match.group(1))
        found += [(match.start(), sid) for sid in _ids_in_parts(items)]
    for match in _PARENS.finditer(text):
        found += [(match.start(), sid) for sid in _ids_in_parts(re.split(r"[,;]", match.group(1)))]
    for match in re.finditer(r"^\|.*\|[ \t]*$", text, re.M):
        cells = match.group(0).strip().strip("|").split("|")
        parts = [p for cell in cells for p in cell.split(",")]
        found += [(match.start(), sid) for sid in _ids_in_parts(parts)]
    return found


def check_security_citations(root: Path, files: Iterable[str], page: str) -> list[str]:
    """Every security id cited in markdown or in a Python docstring or comment has a
    row on the checklist page."""
    known = checklist_ids(page)
    chosen = [f for f in files if f != CHECKLIST_PAGE.as_posix()]
    problems: list[str] = []
    for rel, start, text in prose(root, chosen):
        for offset, sid in security_citations(text):
            if sid not in known:
                line = start + text.count("\n", 0, offset)
                problems.append(
                    f"{rel}:{line} cites security id {sid}, which has no row on "
                    f"{CHECKLIST_PAGE}: fix the id, or add the row "
                    f'`| <a id="{sid.lower()}"></a>{sid} | <requirement> | <tests> |`'
                )
    return sorted(set(problems))
