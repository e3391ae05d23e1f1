"""Reference drift checkers: the repository explains itself with its own files.

Like :mod:`tests.docs.drift`, each ``check_*`` function is pure: it takes the repository
root and the repository-relative files to read, and returns one problem per stale
citation, saying how to fix it. ``tests/docs/test_references.py`` runs them on the
tracked files (``git ls-files``) and on planted drift.

What counts as a citation is deliberately narrow, so that prose never trips a check:
repository paths that start with a top-level folder (``tests/unit/test_x.py``,
``backend/app/db/base.py``, ``app/db/base.py``, ``adr/0001-....md``), ``ADR-NNNN`` ids,
``page.md#anchor`` outside links (MkDocs ``--strict`` already checks the anchors of
links between site pages), and dotted names rooted at ``app`` or ``tests``.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import subprocess
import tokenize
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

# --- What a file says ------------------------------------------------------------


def tracked_files(root: Path) -> list[str]:
    """Repository-relative paths of the files git tracks (what a forker gets)."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    return sorted(p for p in out.split("\0") if p and (root / p).is_file())


def read_text(root: Path, rel: str) -> str | None:
    """A file's text, or ``None`` for a binary file."""
    try:
        return (root / rel).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


@functools.cache
def python_prose(source: str) -> tuple[tuple[int, str], ...]:
    """``(line, text)`` of every docstring and comment of a Python module. Cached: four
    checks read the same modules, and tokenizing them is most of each check's time."""
    return tuple(_python_prose(source))


def _python_prose(source: str) -> Iterator[tuple[int, str]]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            first = body[0] if body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if (
                first is not None
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                yield first.lineno, value.value
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def prose(root: Path, files: Iterable[str]) -> Iterator[tuple[str, int, str]]:
    """``(file, line, text)``: markdown files whole, Python docstrings and comments."""
    for rel in files:
        if rel.endswith(".md"):
            text = read_text(root, rel)
            if text is not None:
                yield rel, 1, text
        elif rel.endswith(".py"):
            text = read_text(root, rel)
            if text is not None:
                for line, chunk in python_prose(text):
                    yield rel, line, chunk


def _line(text: str, start: int, offset: int) -> int:
    return start + text.count("\n", 0, offset)


# --- a. Documents the repository does not have -----------------------------------

#: The old specification and notes, and a sibling folder; spelled with a character class
#: so that this file does not cite them itself.
_FOREIGN = re.compile(r"\bS[P]EC\b(?:\s*§[\d.]*)?|\bNOTE[S]\.md\b|\.\./share[d]\b")


def check_foreign_documents(root: Path, files: Iterable[str]) -> list[str]:
    """No file cites a document a forker does not have."""
    problems: list[str] = []
    for rel in files:
        text = read_text(root, rel)
        for match in _FOREIGN.finditer(text or ""):
            problems.append(
                f"{rel}:{_line(text or '', 1, match.start())} cites `{match.group(0)}`, a "
                "document this repository does not have: cite the ADR, docs page or test "
                "that carries the fact instead, or write the fact into the ADR or docs "
                "page where it belongs and cite that"
            )
    return problems


# --- b. Paths, ADR ids and anchors -----------------------------------------------

TOP_FOLDERS = ("backend", "tests", "docs", "adr", "examples", "deploy", ".ci", ".github", "app")
_PATH = re.compile(
    rf"(?<![\w./\-<])((?:\.\./)*)((?:{'|'.join(re.escape(t) for t in TOP_FOLDERS)})/[\w./\-]*)"
)
#: Example paths in how-to text, never checked.
PLACEHOLDERS = re.compile(r"NNNN|widget|gadget|/path/|test_x\b|test_file\.py|<|\.\.\.")
_ADR_ID = re.compile(r"\bADR-(\d{4})\b")
_ANCHOR_REF = re.compile(r"(?<![\w/.\-])((?:\.\./)*[\w./\-]*[\w\-]\.md)#([\w\-]+)")
_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def resolve(root: Path, rel: str, prefix: str, path: str) -> Path:
    """Where a cited path points: relative to the citing file after ``../``, the
    repository root otherwise (``app/...`` is ``backend/app/...``)."""
    if prefix:
        return (root / rel).parent / prefix / path
    return root / "backend" / path if path.startswith("app/") else root / path


def slugify(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown ``toc``) gives a heading."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(text: str) -> set[str]:
    """Heading slugs (``x``, ``x_1`` for repeats) and explicit ``id``/``{#id}`` anchors."""
    found: set[str] = set()
    plain = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", plain, re.M):
        slug, n = slugify(heading), 0
        while (candidate := slug if n == 0 else f"{slug}_{n}") in found:
            n += 1
        found.add(candidate)
    found |= set(re.findall(r"""\b(?:id|name)=["']([\w\-]+)["']""", text))
    found |= set(re.findall(r"\{[^}]*#([\w\-]+)[^}]*\}", text))
    return found


def check_references(root: Path, files: Iterable[str], site_pages: set[str]) -> list[str]:
    """Every repository path, ``ADR-NNNN`` and out-of-link ``page.md#anchor`` named in
    markdown or in a Python docstring or comment exists. ``site_pages``: markdown files
    MkDocs builds (it checks the anchors of their links itself)."""
    files = list(files)
    adrs = {p.name[:4] for p in (root / "adr").glob("[0-9][0-9][0-9][0-9]-*.md")}
    problems: list[str] = []
    for rel, start, text in prose(root, files):
        for match in _PATH.finditer(text):
            prefix, path = match.group(1), match.group(2).rstrip(".,:;-")
            if PLACEHOLDERS.search(path) or not re.search(r"\.\w+$|/$", path):
                continue  # an example, or prose ("docs/schema"): only files and folders/
            if not resolve(root, rel, prefix, path).exists():
                at = f"{rel}:{_line(text, start, match.start())}"
                problems.append(
                    f"{at} names {prefix}{path}, which does not exist: "
                    "fix the path (a renamed or deleted file?) or remove the reference"
                )
        for match in _ADR_ID.finditer(text):
            if match.group(1) not in adrs:
                at = f"{rel}:{_line(text, start, match.start())}"
                problems.append(
                    f"{at} cites ADR-{match.group(1)}, which is not in adr/: "
                    "cite the ADR that records the decision, or write it (adr/README.md)"
                )
        links = {m.start(1) for m in _MD_LINK.finditer(text)} if rel in site_pages else set()
        for match in _ANCHOR_REF.finditer(text):
            if match.start() in links or PLACEHOLDERS.search(match.group(1)):
                continue
            target = _anchor_target(root, rel, match.group(1))
            if target is None:
                continue  # a missing file is reported above, or the name is not a path
            if match.group(2) not in anchors(target.read_text(encoding="utf-8")):
                problems.append(
                    f"{rel}:{_line(text, start, match.start())} links {match.group(0)}, but "
                    f"{target.relative_to(root)} has no heading or anchor `{match.group(2)}`: "
                    'fix the anchor, or add `<a id="..."></a>` where it should point'
                )
    return problems


def _anchor_target(root: Path, rel: str, path: str) -> Path | None:
    prefix = re.match(r"(?:\.\./)*", path)
    prefix_text = prefix.group(0) if prefix else ""
    rest = path[len(prefix_text) :]
    candidates = [resolve(root, rel, prefix_text, rest)]
    if not prefix_text:
        candidates.append((root / rel).parent / rest)  # a link next to the citing file
    return next((c for c in candidates if c.is_file()), None)


def site_pages(mkdocs_yml: str, files: Iterable[str]) -> set[str]:
    """Tracked markdown files the site builds: all but the exact files in ``exclude_docs``."""
    excluded = set(re.findall(r"^\s+/([\w./\-]+\.md)\s*$", mkdocs_yml, re.M))
    return {f for f in files if f.endswith(".md") and f not in excluded}


# --- e. Dotted module names ------------------------------------------------------

_DOTTED = re.compile(r"(?<![\w.])((?:app|tests)(?:\.[A-Za-z_]\w*)+)")
FILE_SUFFIXES = {"py", "md", "json", "txt", "yml", "yaml", "toml", "db", "sh", "ini", "lua"}


def _module_file(root: Path, parts: list[str]) -> Path | None:
    base = root / ("backend" if parts[0] == "app" else "") / Path(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return base if base.is_dir() else None


def _names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names |= {t.id: node for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0]: node for a in node.names}
        elif isinstance(node, ast.If | ast.Try):
            names |= _names(node.body)
    return names


def resolves(root: Path, dotted: str) -> bool:
    """``app.<module>.<Name>.<attr>`` names a module, then a top-level name, then a class
    member."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = _module_file(root, parts[:cut])
        if module is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        if module.is_dir():
            return False
        scope = _names(ast.parse(module.read_text(encoding="utf-8")).body)
        node = scope.get(rest[0])
        if node is None:
            return False
        if len(rest) > 1 and isinstance(node, ast.ClassDef):
            return rest[1] in _names(node.body)
        return True
    return False


def check_dotted_names(root: Path, files: Iterable[str], app_attributes: set[str]) -> list[str]:
    """Every ``app.…``/``tests.…`` name in the docstrings and comments of ``backend/`` and
    ``tests/`` resolves. Names like ``app.state`` or ``app.hasher`` are an object called
    ``app`` (the FastAPI application, or the ``app: ContainerDep`` parameter), not the
    package: ``app_attributes`` lists their attributes, skipped unless a module has the name."""
    chosen = [f for f in files if f.endswith(".py") and f.startswith(("backend/", "tests/"))]
    problems: list[str] = []
    for rel, start, text in prose(root, chosen):
        for match in _DOTTED.finditer(text):
            dotted = match.group(1)
            parts = dotted.split(".")
            if parts[-1] in FILE_SUFFIXES:
                continue
            if (
                parts[0] == "app"
                and parts[1] in app_attributes
                and _module_file(root, parts[:2]) is None
            ):
                continue
            if not resolves(root, dotted):
                problems.append(
                    f"{rel}:{_line(text, start, match.start())} names {dotted}, which does not "
                    "resolve to a module, function, class or attribute: fix the name (moved "
                    "or renamed?) or remove it"
                )
    return problems
