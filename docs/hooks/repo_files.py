"""MkDocs hook for ``docs_dir: .`` (ADR-0020).

1. Speed: MkDocs walks all of ``docs_dir``, which here includes ``.venv`` (~50k files,
   twice through the ``lib64`` link) and ``.git``. Folders that ``exclude_docs`` drops
   anyway are pruned from that walk, which cuts the build time by more than half.
2. Links: ``mkdocs-same-dir`` drops non-page files at the root of ``docs_dir``; they are
   added back as static files (honouring ``exclude_docs``, and MkDocs' default exclusion
   of hidden files, which ``exclude_docs`` may re-include with ``!/.name``) so that a
   README's relative link to ``Dockerfile`` or ``.env.example`` works in the site as on
   GitHub.
3. Nav: every ADR joins the ``Decisions`` section (:func:`on_config`).
4. The Python reference: Sphinx roles become links (:func:`on_page_content`).
5. Configuration: each setting's row is its own anchor (``configuration/#JWT_SECRET_KEY``)
   and the page is boosted in search, so a setting's name finds it first
   (:func:`on_page_markdown`, :func:`on_page_content`; ADR-0040).
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mkdocs.structure.files as mkdocs_files
import pathspec
from mkdocs.structure.files import File, Files, InclusionLevel

_HIDDEN = pathspec.GitIgnoreSpec.from_lines([".*"])
#: Never documentation; also listed in (or hidden from) ``exclude_docs``.
_PRUNED = {".venv", ".git", "site", "var", "htmlcov", "reports", "node_modules", "__pycache__"}


def _pruned_walk(top: str, *args: Any, **kwargs: Any) -> Iterator[tuple[str, list[str], list[str]]]:
    for dirpath, dirnames, filenames in os.walk(top, *args, **kwargs):
        dirnames[:] = [
            d
            for d in dirnames
            if d not in _PRUNED and not d.endswith((".egg-info", "_cache")) and d != "lib64"
        ]
        yield dirpath, dirnames, filenames


if getattr(mkdocs_files, "os", None) is os:
    mkdocs_files.os = types.SimpleNamespace(**{**vars(os), "walk": _pruned_walk})  # type: ignore[assignment,attr-defined]


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["docs_dir"])
    spec = config.get("exclude_docs")
    spec = _HIDDEN + spec if spec else _HIDDEN
    for path in sorted(root.iterdir()):
        if not path.is_file() or files.get_file_from_path(path.name) is not None:
            continue
        if spec.match_file(path.name):
            continue
        file = File(path.name, str(root), config["site_dir"], config["use_directory_urls"])
        file.inclusion = InclusionLevel.NOT_IN_NAV
        files.append(file)
    return files


def on_config(config: Any) -> Any:
    """3. Nav: append every ``adr/NNNN-*.md`` to the ``Decisions`` section, titled
    ``NNNN title``, so each ADR is in the nav without a line per ADR in ``mkdocs.yml``."""
    root = Path(config["docs_dir"])
    for section in config["nav"] or []:
        explanation = section.get("Explanation") if isinstance(section, dict) else None
        for entry in explanation or []:
            decisions = entry.get("Decisions") if isinstance(entry, dict) else None
            if decisions is None:
                continue
            listed = {next(iter(e.values())) for e in decisions if isinstance(e, dict)}
            for adr in sorted((root / "adr").glob("[0-9][0-9][0-9][0-9]-*.md")):
                rel = adr.relative_to(root).as_posix()
                if rel in listed:
                    continue
                text = adr.read_text(encoding="utf-8")
                title = next((line[2:] for line in text.splitlines() if line.startswith("# ")), rel)
                decisions.append({f"{adr.name[:4]} {title}": rel})
    return config


_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):<code>~?([\w.]+)</code>")
_OBJECT_ID = re.compile(r'id="(app(?:\.\w+)+)"')


CONFIGURATION_PAGE = "docs/configuration.md"
_SETTING_ROW = re.compile(r"<tr>(\s*<td><code>)([A-Z][A-Z0-9_]*)(</code>)")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """5. Search ranks the configuration page first for a setting's name."""
    if page.file.src_uri == CONFIGURATION_PAGE:
        page.meta.setdefault("search", {}).setdefault("boost", 5)
    return markdown


def on_page_content(html: str, page: Any, **_: Any) -> str:
    """4. The Python reference: a Sphinx role (``:class:`AppError```) in a docstring
    becomes a link to the object's section on the page (its full or short name, when it
    names one object there), else plain code; the role's text never shows."""
    if page.file.src_uri == CONFIGURATION_PAGE:
        html = _SETTING_ROW.sub(r'<tr id="\2">\1\2\3', html)
    if ":<code>" not in html:
        return html
    ids = _OBJECT_ID.findall(html)
    by_name: dict[str, set[str]] = {}
    for full in ids:
        parts = full.split(".")
        for i in range(len(parts)):
            by_name.setdefault(".".join(parts[i:]), set()).add(full)

    def link(match: re.Match[str]) -> str:
        name = match[1]
        short = name.rsplit(".", 1)[-1]
        targets = by_name.get(name, set())
        if len(targets) == 1:
            return f'<a href="#{next(iter(targets))}"><code>{short}</code></a>'
        return f"<code>{name}</code>"

    return _ROLE.sub(link, html)
