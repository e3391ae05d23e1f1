"""Docs drift checkers: the OpenAPI snapshot and API page, settings, folder docs, Make
commands and layer contracts (ADR-0015, ADR-0020, ADR-0023). The ADR checks and the
tests the docs cite are in :mod:`tests.docs.adrs`.

Each ``check_*`` function is pure: it takes a repository root (or already-parsed
input) and returns a list of problems, one string each, that says what drifted
and exactly how to fix it. An empty list means "in sync". The ``tests/docs/test_drift*.py``
modules run them on the real repository and prove each one fires on planted drift.

The checks are generic on purpose: they discover folders, settings, routes, ADRs
and Make targets from the tree, so whatever another change adds is covered.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APP_DIR = Path("backend/app")
SNAPSHOT = Path("docs/reference/openapi.json")
API_PAGE = Path("docs/reference/api.md")
CONFIG_PAGE = Path("docs/configuration.md")
ENV_EXAMPLE = Path(".env.example")
TOP_LEVEL_FOLDERS = ("backend", "docs", "adr", "examples", "tests")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# --- OpenAPI snapshot ------------------------------------------------------------


def render_schema(schema: Mapping[str, Any]) -> str:
    """The snapshot's exact text: what ``python -m app openapi`` prints."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def check_openapi_snapshot(schema: Mapping[str, Any], committed: str | None) -> list[str]:
    """The committed snapshot equals what the app serves (ADR-0015)."""
    fix = f"run `make openapi` and commit {SNAPSHOT}"
    if committed is None:
        return [f"{SNAPSHOT} is missing: {fix}"]
    if committed == render_schema(schema):
        return []
    try:
        old = json.loads(committed)
    except json.JSONDecodeError:
        return [f"{SNAPSHOT} is not valid JSON: {fix}"]
    old_ops, new_ops = set(operations(old)), set(operations(schema))
    hints = [f"+ {m} {p}" for m, p in sorted(new_ops - old_ops)]
    hints += [f"- {m} {p}" for m, p in sorted(old_ops - new_ops)]
    detail = f" (operations changed: {', '.join(hints)})" if hints else ""
    return [f"{SNAPSHOT} is stale: the app's schema differs{detail}; {fix}"]


def operations(schema: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """``{(METHOD, path): operation}`` for every operation in an OpenAPI document."""
    ops: dict[tuple[str, str], Mapping[str, Any]] = {}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                ops[(method.upper(), path)] = op
    return ops


def check_api_docs(schema: Mapping[str, Any], api_page: str | None) -> list[str]:
    """Every operation is documented: the API page renders the snapshot, and each
    operation carries a summary, a description (the route's docstring) and a declared tag."""
    problems: list[str] = []
    if api_page is None or "[OAD(./openapi.json)]" not in api_page:
        problems.append(
            f"{API_PAGE} must render the snapshot with the line `[OAD(./openapi.json)]`: restore it"
        )
    declared = {tag["name"] for tag in schema.get("tags", [])}
    for (method, path), op in sorted(operations(schema).items()):
        where = f"{method} {path}"
        if not str(op.get("description", "")).strip():
            problems.append(
                f"{where} has no description in the OpenAPI schema: give its route function "
                "a docstring (what it does, who may call it), then run `make openapi`"
            )
        if not str(op.get("summary", "")).strip():
            problems.append(f"{where} has no summary: pass summary=... to its route decorator")
        tags = op.get("tags", [])
        if not tags or any(t not in declared for t in tags):
            problems.append(
                f"{where} has tags {tags!r}; tag it with one declared in "
                "backend/app/core/openapi.py TAGS (add the tag there if it is new)"
            )
    return problems


# --- Settings --------------------------------------------------------------------

_ENV_LINE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)=", re.M)
_CONFIG_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", re.M)


def env_example_names(text: str) -> list[str]:
    """Setting names assigned (uncommented) in ``.env.example``."""
    return _ENV_LINE.findall(text)


def config_page_names(text: str) -> list[str]:
    """Setting names that start a table row (`` | `NAME` | ... ``) on the configuration page."""
    return _CONFIG_ROW.findall(text)


def check_settings(fields: Iterable[str], env_example: str, config_page: str) -> list[str]:
    """Settings fields, `.env.example` and `docs/configuration.md` name the same settings."""
    settings = {f.upper() for f in fields}
    env_names = env_example_names(env_example)
    doc_names = config_page_names(config_page)
    problems: list[str] = []
    for name in sorted(settings - set(env_names)):
        problems.append(
            f"{name} is a Settings field but missing from {ENV_EXAMPLE}: add `{name}=<default>`"
        )
    for name in sorted(set(env_names) - settings):
        problems.append(
            f"{name} is in {ENV_EXAMPLE} but not a field of Settings "
            "(backend/app/core/settings.py): remove it or add the field"
        )
    for name in sorted(settings - set(doc_names)):
        problems.append(
            f"{name} is a Settings field but not documented in {CONFIG_PAGE}: add a table row "
            f"`| `{name}` | <default> | <meaning> |`"
        )
    for name in sorted(set(doc_names) - settings):
        problems.append(
            f"{name} is documented in {CONFIG_PAGE} but is not a Settings field: remove the row"
        )
    for label, names in ((str(ENV_EXAMPLE), env_names), (str(CONFIG_PAGE), doc_names)):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"{label} lists {', '.join(dupes)} more than once: keep one")
    return problems


# --- Folder docs -----------------------------------------------------------------


def check_folder_docs(root: Path) -> list[str]:
    """Every folder under ``backend/app`` has README.md (+ CONTRACT.md if it holds code);
    every top-level folder (``TOP_LEVEL_FOLDERS``) has README.md."""
    problems: list[str] = []
    app = root / APP_DIR
    folders = [app, *sorted(p for p in app.rglob("*") if p.is_dir())]
    for folder in folders:
        if folder.name == "__pycache__" or "__pycache__" in folder.parts:
            continue
        rel = folder.relative_to(root)
        if not (folder / "README.md").is_file():
            problems.append(
                f"{rel}/ has no README.md: add one (purpose, file map, how to extend; "
                "see backend/app/core/README.md for the shape) and list it in mkdocs.yml nav"
            )
        if any(folder.glob("*.py")) and not (folder / "CONTRACT.md").is_file():
            problems.append(
                f"{rel}/ holds Python code but has no CONTRACT.md: add one (public interface, "
                "guarantees, errors, invariants with ADR ids, enforcing tests) and list it in "
                "mkdocs.yml nav"
            )
    for name in TOP_LEVEL_FOLDERS:
        if not (root / name / "README.md").is_file():
            problems.append(f"{name}/ has no README.md: add one and list it in mkdocs.yml nav")
    return problems


def check_nav_lists_folder_docs(root: Path, mkdocs_yml: str) -> list[str]:
    """Every README.md / CONTRACT.md of a documented folder is in the site's nav, once."""
    problems = []
    candidates = [root / "README.md", root / "AGENTS.md"]
    for top in TOP_LEVEL_FOLDERS:
        candidates.append(root / top / "README.md")
    app = root / APP_DIR
    for folder in [app, *sorted(p for p in app.rglob("*") if p.is_dir())]:
        if "__pycache__" not in folder.parts:
            candidates += [folder / "README.md", folder / "CONTRACT.md"]
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not re.search(rf"[\s:]{re.escape(rel)}\s*$", mkdocs_yml, re.M):
            problems.append(f"{rel} is not in mkdocs.yml nav: add `- {rel}` under its section")
    nav = re.split(r"^nav:\s*$", mkdocs_yml, maxsplit=1, flags=re.M)[-1]
    listed = re.findall(r"^\s+-\s+(?:[^:\n]+:\s+)?(\S+\.md)\s*$", nav, re.M)
    for rel in sorted({r for r in listed if listed.count(r) > 1}):
        problems.append(f"{rel} is listed {listed.count(rel)} times in mkdocs.yml nav: keep one")
    return problems


# --- Make targets named in docs --------------------------------------------------

_MAKE_CMD = re.compile(r"(?<![\w-])make\s+([a-z][\w-]*)")
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)


def make_targets(makefile: str) -> set[str]:
    """Targets defined in a Makefile (``name:`` at the start of a line)."""
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, re.M))


def check_make_commands(documents: Mapping[str, str], makefile: str) -> list[str]:
    """Every ``make X`` inside code (spans or blocks) of the documents is a real target."""
    targets = make_targets(makefile)
    problems: list[str] = []
    for label, text in documents.items():
        named = {m for code in _CODE.findall(text) for m in _MAKE_CMD.findall(code)}
        for target in sorted(named - targets):
            problems.append(
                f"{label} names `make {target}`, which is not a Makefile target: "
                "add the target (with a `## help` comment) or fix the document"
            )
    return problems


# --- Layer contracts -------------------------------------------------------------


def app_top_level_modules(app_dir: Path) -> set[str]:
    """``app.<name>`` for every package (a folder holding Python) and module under
    ``backend/app``."""
    names = {f"app.{p.name}" for p in app_dir.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    names |= {f"app.{p.stem}" for p in app_dir.glob("*.py") if not p.stem.startswith("__")}
    return names


def check_layer_contracts(pyproject: Mapping[str, Any], app_dir: Path) -> list[str]:
    """Every top-level app module sits in a layer of the ``layers`` contract (container
    ``app``): import-linter leaves an unlisted module unconstrained, so a new package
    must be placed the day it is created (ADR-0023). A package without ``__init__.py``
    is reported too: import-linter would not see inside it."""
    contracts = pyproject.get("tool", {}).get("importlinter", {}).get("contracts", [])
    layered: set[str] = set()
    for contract in contracts:
        if contract.get("type") == "layers" and "app" in contract.get("containers", []):
            for layer in contract.get("layers", []):
                layered |= {f"app.{name.strip()}" for name in re.split(r"[|:]", layer)}
    problems = [
        f"{module} is in no layer of the import-linter layers contract in pyproject.toml: "
        "add it to `layers` above everything it imports and below everything that imports "
        "it (ADR-0023: dependencies point one way)"
        for module in sorted(app_top_level_modules(app_dir) - layered)
    ]
    problems += [
        f"backend/app/{p.name}/ holds Python but no __init__.py: add one (a docstring "
        "naming the package's purpose), or import-linter cannot check it"
        for p in sorted(app_dir.iterdir())
        if p.is_dir() and any(p.glob("*.py")) and not (p / "__init__.py").exists()
    ]
    return problems


def load_pyproject(root: Path) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)
