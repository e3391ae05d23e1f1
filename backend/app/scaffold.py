"""``python -m app new-domain <plural>``: a new owned-resource domain, copied from ``items``.

The ``items`` domain is the template (ADR-0033): its package, migration and tests are
copied with every ``item``/``Item``/``ITEM`` renamed, and the new domain is registered
everywhere a domain is listed (model registry, router list, OpenAPI tags, import-linter
contracts, the docs nav and the repository maps). Everything is checked first: a bad
name, an existing domain or a missing anchor writes nothing. ``make new-domain`` runs
this, then ruff and ``make openapi``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

TEMPLATE = "items"
#: At most 16 characters: the template's lines leave room for the longer name.
NAME = re.compile(r"[a-z][a-z0-9_]{1,15}")
#: Names that already mean something in the repository or in Python.
RESERVED = frozenset(
    {"api", "app", "auth", "cache", "cli", "container", "core", "credentials", "db", "docs",
     "health", "main", "migrations", "models", "ratelimit", "scaffold", "telemetry", "tests",
     "users", "user", "items", "item", "admin", "me", "metrics", "openapi", "static"}
)  # fmt: skip
#: A page's list field is ``items`` in every domain (``UserPage`` too), and ``dict.items()``
#: is a method: neither is renamed.
_PAGE_FIELD = re.compile(
    r'\bitems(?=: list\[|=\[)|(?<=[\w)\]]\[")items(?="\])|(?<=\{")items(?=": \[)'
    r"|(?<=\.)items(?=\(\))"
)
_MASK = "\0PAGE\0"
_WORD = re.compile(r"ITEMS|Items|items|ITEM|Item|item")


class ScaffoldError(ValueError):
    """The domain cannot be created; nothing was written."""


@dataclass
class Plan:
    """Files to create and edits to existing files, all computed before any write."""

    root: Path
    created: dict[Path, str] = field(default_factory=dict)
    edited: dict[Path, str] = field(default_factory=dict)

    def edit(self, relative: str, anchor: str | re.Pattern[str], replacement: str) -> None:
        """Replace the first ``anchor`` (text, or a pattern where the formatter may have
        wrapped a list) in ``relative``, as already edited by this plan."""
        path = self.root / relative
        text = self.edited.get(path) or path.read_text(encoding="utf-8")
        pattern = anchor if isinstance(anchor, re.Pattern) else re.compile(re.escape(anchor))
        edited, found = pattern.subn(replacement.replace("\\", "\\\\"), text, count=1)
        if not found:
            shown = pattern.pattern if isinstance(anchor, re.Pattern) else anchor.strip()
            raise ScaffoldError(f"{relative}: cannot find {shown!r} to register the domain")
        self.edited[path] = edited

    def write(self) -> list[Path]:
        for path, text in {**self.created, **self.edited}.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return sorted([*self.created, *self.edited])


def singular_of(plural: str) -> str:
    """``gadgets`` -> ``gadget``, ``categories`` -> ``category``, ``boxes`` -> ``box``."""
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if plural.endswith(("ses", "xes", "zes", "ches", "shes")):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    raise ScaffoldError(f"cannot tell the singular of {plural!r}: pass it (singular=...)")


def renamer(plural: str, singular: str) -> dict[str, str]:
    camel = "".join(part.capitalize() for part in singular.split("_"))
    plural_camel = "".join(part.capitalize() for part in plural.split("_"))
    return {
        "ITEMS": plural.upper(), "Items": plural_camel, "items": plural,
        "ITEM": singular.upper(), "Item": camel, "item": singular,
    }  # fmt: skip


def rename(text: str, words: dict[str, str]) -> str:
    """``text`` with every form of the template's name replaced, page fields kept."""
    masked = _PAGE_FIELD.sub(_MASK, text)
    if words["item"][0] not in "aeiou":  # "an item" -> "a gadget"
        masked = re.sub(r"\b([Aa])n (?=item\b)", r"\1 ", masked)
    renamed = _WORD.sub(lambda m: words[m.group(0)], masked)
    renamed = renamed.replace("the example owned resource", "an owned resource")
    return wrap_prose(renamed.replace(_MASK, "items"))


def wrap_prose(text: str, width: int = 100) -> str:
    """Re-wrap docstring and comment lines that the longer name pushed past ``width``:
    the overflow moves to the start of the next line of the same paragraph (code lines
    are ruff format's job)."""
    lines = text.split("\n")
    in_docstring = False
    for n, line in enumerate(lines):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        comment = re.match(r"#:? ", stripped)
        prose = in_docstring or stripped.startswith('"""') or comment is not None
        prefix = indent + (comment.group(0) if comment else "")
        cut = line.rfind(" ", len(prefix) + 1, width + 1)
        if prose and len(line) > width and cut > 0:
            lines[n], overflow = line[:cut], line[cut + 1 :]
            following = lines[n + 1] if n + 1 < len(lines) else ""
            rest = following[len(prefix) :]
            joins = following.startswith(prefix) and rest.strip() and not rest.startswith('"""')
            closes = '"""' in overflow
            if joins and not closes and (in_docstring or lines[n].count('"""') == 1 or comment):
                lines[n + 1] = f"{prefix}{overflow} {rest}"
            else:
                lines.insert(n + 1, prefix + overflow)
        if lines[n].count('"""') % 2:  # the kept part opens or closes a docstring
            in_docstring = not in_docstring
    return "\n".join(lines)


def check_name(root: Path, name: str) -> None:
    """Refuse a name that is not a short identifier, is reserved or exists already."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ScaffoldError(
            f"{name!r} is not a valid domain name: 2-16 characters of lower-case letters, "
            "digits and underscores, starting with a letter (e.g. gadgets)"
        )
    if name in RESERVED:
        raise ScaffoldError(f"{name!r} is reserved: pick another name")
    if (root / "backend" / "app" / name).exists():
        raise ScaffoldError(f"backend/app/{name}/ already exists")


def _migration(root: Path) -> tuple[Path, str]:
    """The template's migration and the current head revision (``NNNN``, linear history)."""
    versions = root / "backend" / "migrations" / "versions"
    files = sorted(versions.glob("*_[0-9][0-9][0-9][0-9]_*.py"), key=lambda p: p.name.split("_")[1])
    template = next((p for p in files if p.name.endswith(f"_create_{TEMPLATE}.py")), None)
    if template is None or not files:
        raise ScaffoldError(f"no migration named *_create_{TEMPLATE}.py to copy")
    return template, files[-1].name.split("_")[1]


def plan(root: Path, plural: str, singular: str | None = None) -> Plan:
    """Everything ``new-domain`` would write, or :class:`ScaffoldError`."""
    check_name(root, plural)
    singular = singular or singular_of(plural)
    check_name(root, singular)
    if plural == singular:
        raise ScaffoldError("the plural and the singular must differ")
    words = renamer(plural, singular)
    result = Plan(root)
    source = root / "backend" / "app" / TEMPLATE
    for path in sorted(source.glob("*")):
        if path.suffix in (".py", ".md"):
            target = root / "backend" / "app" / plural / path.name
            result.created[target] = rename(path.read_text(encoding="utf-8"), words)
    tests = root / "tests"
    for test in (f"integration/test_{TEMPLATE}_api.py", f"unit/test_{TEMPLATE}_service.py"):
        target = tests / rename(test, words)
        result.created[target] = rename((tests / test).read_text(encoding="utf-8"), words)
    _add_migration(result, root, plural, words)
    _register(result, plural, words)
    return result


def _add_migration(result: Plan, root: Path, plural: str, words: dict[str, str]) -> None:
    template, head = _migration(root)
    text = template.read_text(encoding="utf-8")
    own = re.search(r'^revision: str = "(\d{4})"', text, re.M)
    down = re.search(r'^down_revision: .* = "(\d{4})"', text, re.M)
    if own is None or down is None:
        raise ScaffoldError(f"{template.name}: no revision/down_revision to rewrite")
    new = f"{int(head) + 1:04d}"
    now = datetime.now(UTC)
    text = rename(text, words)
    text = text.replace(f'revision: str = "{own[1]}"', f'revision: str = "{new}"')
    text = text.replace(f'= "{down[1]}"', f'= "{head}"').replace(
        f"Revises: {down[1]}", f"Revises: {head}"
    )
    text = text.replace(f"Revision ID: {own[1]}", f"Revision ID: {new}")
    text = re.sub(r"Create Date: .*", f"Create Date: {now:%Y-%m-%d %H:%M:%S}", text)
    result.created[template.with_name(f"{now:%Y%m%d}_{new}_create_{plural}.py")] = text


def _register(result: Plan, plural: str, words: dict[str, str]) -> None:
    """Every place that lists domains, next to the template's entry."""
    camel, it = words["Item"], TEMPLATE
    result.edit(
        "backend/app/models.py",
        f"from app.{it}.models import Item\n",
        f"from app.{it}.models import Item\nfrom app.{plural}.models import {camel}\n",
    )
    result.edit("backend/app/models.py", re.compile(r'"Item",\s*'), f'"Item", "{camel}", ')
    result.edit(
        "backend/app/api/router.py",
        f"from app.{it} import routes as {it}\n",
        f"from app.{it} import routes as {it}\nfrom app.{plural} import routes as {plural}\n",
    )
    # ``items.router`` appears once, in V1_ROUTERS (one line, or wrapped by the formatter).
    result.edit(
        "backend/app/api/router.py",
        re.compile(rf"\b{it}\.router\b"),
        f"{it}.router, {plural}.router",
    )
    tag = '    {"name": "items", "description": "Your items: the example owned resource."},\n'
    result.edit(
        "backend/app/core/openapi.py",
        tag,
        tag + f'    {{"name": "{plural}", "description": "Your {plural}."}},\n',
    )
    result.edit("pyproject.toml", '"auth | items', f'"auth | items | {plural}')
    result.edit(
        "pyproject.toml", '"app.items.routes"', f'"app.items.routes", "app.{plural}.routes"'
    )
    result.edit(
        "pyproject.toml",
        '"app.items.repository"',
        f'"app.items.repository", "app.{plural}.repository"',
    )
    nav = "              - CONTRACT: backend/app/items/CONTRACT.md\n"
    result.edit(
        "mkdocs.yml",
        nav,
        nav + f"          - {plural}/:\n"
        f"              - README: backend/app/{plural}/README.md\n"
        f"              - CONTRACT: backend/app/{plural}/CONTRACT.md\n",
    )
    for doc, prefix in (("AGENTS.md", "backend/app/"), ("README.md", "backend/app/"),
                        ("backend/app/README.md", "")):  # fmt: skip
        row = _row_of(result, doc, f"| `{prefix}items/`")
        result.edit(doc, row, row + rename(row, words))
    row = _row_of(result, "docs/auth-model.md", "| `GET`, `PATCH`, `DELETE /api/v1/items/")
    first = _row_of(result, "docs/auth-model.md", "| `POST /api/v1/items`")
    result.edit("docs/auth-model.md", row, row + rename(first, words) + rename(row, words))


def _row_of(result: Plan, relative: str, start: str) -> str:
    """The whole table row of ``relative`` that starts with ``start``."""
    path = result.root / relative
    text = result.edited.get(path) or path.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(start)}.*\n", text, re.M)
    if match is None:
        raise ScaffoldError(f"{relative}: cannot find the row {start!r} to register the domain")
    return match.group(0)
