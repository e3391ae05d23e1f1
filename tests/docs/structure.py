"""Checks of the docs site's structure (ADR-0040), pure functions over the repository.

* :func:`check_one_h1`: every page has exactly one H1 (so Material shows its table of
  contents, and the title is the page's);
* :func:`check_llms_txt`: every page of the site matches a section of the ``llmstxt``
  plugin, so ``llms.txt`` lists it;
* :func:`check_bench_numbers`: a number measured by ``make bench`` (the tables of
  ``docs/performance.md``) is quoted on that page only; other pages link to it.

Each returns a list of problems, one string each, with the fix.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

PERFORMANCE_PAGE = "docs/performance.md"
_FENCE = re.compile(r"^\s*(```|~~~)")
#: A measured quantity: a number with a thousands separator or decimals, and its unit.
_QUANTITY = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+\.\d+)(?![\w.,]*\d)\s*(ms|µs|req/s|%|\u00d7|x\b)"
)
_BENCH_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+\.\d{2,})(?![\d,])")


class _Loader(yaml.SafeLoader):
    """mkdocs.yml's tags (``!ENV``, ``!!python/name:``) read as plain values."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _plain)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)


def load_mkdocs(root: Path) -> dict[str, Any]:
    """``mkdocs.yml`` as data (tags kept as their plain values)."""
    loaded: dict[str, Any] = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), _Loader)  # noqa: S506 - a SafeLoader subclass
    return loaded


def nav_pages(nav: Iterable[Any]) -> list[str]:
    """Every Markdown file the nav lists, in order."""
    pages: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages += nav_pages(value)
        elif isinstance(value, str) and value.endswith(".md"):
            pages.append(value)
    return pages


def site_pages(root: Path) -> list[str]:
    """The nav's pages plus every ADR (the hook adds those to the nav at build time)."""
    adrs = sorted(p.relative_to(root).as_posix() for p in (root / "adr").glob("[0-9]*-*.md"))
    return nav_pages(load_mkdocs(root)["nav"]) + adrs


def h1_lines(text: str) -> list[str]:
    """ATX H1 lines (``# Title``) outside fenced code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            found.append(line)
    return found


def check_one_h1(root: Path, pages: Iterable[str]) -> list[str]:
    problems = []
    for page in pages:
        count = len(h1_lines((root / page).read_text(encoding="utf-8")))
        if count != 1:
            problems.append(
                f"{page} has {count} H1 headings: keep exactly one (`# Title`); "
                "make the others `##`"
            )
    return problems


def llms_sections(config: dict[str, Any]) -> dict[str, list[str]]:
    for plugin in config.get("plugins", []):
        if isinstance(plugin, dict) and "llmstxt" in plugin:
            sections: dict[str, list[str]] = plugin["llmstxt"].get("sections", {})
            return sections
    return {}


def check_llms_txt(pages: Iterable[str], sections: dict[str, list[str]]) -> list[str]:
    globs = [g for patterns in sections.values() for g in patterns]
    return [
        f"{page} is a page of the site but no llmstxt section of mkdocs.yml matches it: "
        "add it (or a glob) to the section of its kind"
        for page in pages
        if not any(fnmatch.fnmatch(page, g) for g in globs)
    ]


def bench_numbers(performance_page: str) -> set[str]:
    """Measured numbers of the performance page's tables (rows starting with ``|``).

    A row's first cell names what was measured, a target's threshold included (``>= 0.40x
    reference``): a threshold is a decision, stated by its ADR too, not a measurement, and
    stays quotable even when a measurement happens to equal it.
    """
    lines = performance_page.splitlines()
    rows = [line.strip("|").split("|") for line in lines if line.startswith("|")]
    thresholds = {n for row in rows for n in _BENCH_NUMBER.findall(row[0])}
    cells = [cell for row in rows for cell in row[1:]]
    return {n for cell in cells for n in _BENCH_NUMBER.findall(cell)} - thresholds


def check_bench_numbers(root: Path, documents: Iterable[str]) -> list[str]:
    numbers = bench_numbers((root / PERFORMANCE_PAGE).read_text(encoding="utf-8"))
    problems = []
    for doc in documents:
        if doc == PERFORMANCE_PAGE:
            continue
        for number, unit in _QUANTITY.findall((root / doc).read_text(encoding="utf-8")):
            if number in numbers:
                problems.append(
                    f"{doc} quotes {number} {unit}, a number of `make bench` on "
                    f"{PERFORMANCE_PAGE}: link to that page instead of copying the number"
                )
    return problems
