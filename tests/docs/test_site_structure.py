"""The docs site's structure holds (ADR-0040): one H1 per page, every page in llms.txt,
`make bench` numbers on one page only, site_url from the environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.docs import structure

REPO = Path(__file__).resolve().parents[2]


def _tracked_markdown() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [p for p in listed if (REPO / p).is_file()]


def test_every_page_has_exactly_one_h1() -> None:
    assert structure.check_one_h1(REPO, structure.site_pages(REPO)) == []


def test_every_page_is_in_llms_txt() -> None:
    pages = structure.site_pages(REPO)
    assert "docs/tutorial.md" in pages
    assert "adr/0040-docs-site-structure-examples-and-diagrams.md" in pages
    sections = structure.llms_sections(structure.load_mkdocs(REPO))
    assert structure.check_llms_txt(pages, sections) == []


def test_bench_numbers_are_quoted_on_one_page_only() -> None:
    numbers = structure.bench_numbers((REPO / structure.PERFORMANCE_PAGE).read_text("utf-8"))
    assert len(numbers) > 10, "the performance page lost its tables of measured numbers"
    assert structure.check_bench_numbers(REPO, _tracked_markdown()) == []


def test_site_url_comes_from_the_environment() -> None:
    """``site_url`` is ``!ENV [SITE_URL, <default>]``; the default is the local preview,
    never a made-up host, and the docs workflow sets the published address."""
    text = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert 'site_url: !ENV [SITE_URL, "http://127.0.0.1:8001/"]' in text
    assert "example.github.io" not in text
    assert "SITE_URL:" in (REPO / ".github/workflows/docs.yml").read_text(encoding="utf-8")


def test_planted_structure_drift_is_reported(tmp_path: Path) -> None:
    """Planted drift: a second H1 (code fences do not count), a page no llmstxt section
    matches, a copied bench number (a target's threshold, the first cell, may be quoted)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/a.md").write_text("# A\n\n```bash\n# a comment\n```\n\n# B\n")
    (tmp_path / "docs/b.md").write_text(
        "# B\n\nThe stack costs ~0.11 ms; 9,368 req/s; the target is 0.40 \u00d7.\n"
    )
    (tmp_path / structure.PERFORMANCE_PAGE).write_text(
        "# Performance\n\n| a | b | c |\n|---|---|---|\n| /health | 9,368 | 0.11 |\n"
        "| >= 0.40x the reference | 0.17x | MISSED |\n"
        "| >= 0.95x at 8 connections | 0.40x | MISSED |\n"
    )
    assert structure.check_one_h1(tmp_path, ["docs/a.md", "docs/b.md"]) == [
        "docs/a.md has 2 H1 headings: keep exactly one (`# Title`); make the others `##`"
    ]
    assert structure.check_llms_txt(["docs/a.md", "adr/0001-x.md"], {"S": ["docs/*.md"]}) == [
        "adr/0001-x.md is a page of the site but no llmstxt section of mkdocs.yml matches it: "
        "add it (or a glob) to the section of its kind"
    ]
    problems = structure.check_bench_numbers(
        tmp_path, ["docs/a.md", "docs/b.md", structure.PERFORMANCE_PAGE]
    )
    assert [p.split(", a number")[0] for p in problems] == [
        "docs/b.md quotes 0.11 ms",
        "docs/b.md quotes 9,368 req/s",
    ]
