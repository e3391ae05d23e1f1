"""The built docs site works in a real browser, offline (ADR-0020).

:mod:`tests.docs.browser_check` opens pages in headless Chromium; these tests run it on
the built ``site/`` (when ``make docs`` has built one) and on a planted site, to prove it
reports an external request, a missing asset, a console error, missing text, a missing
navigation and an operation the API reference does not render.

They need Debian's ``chromium`` and the ``playwright`` package and skip without them,
unless ``DOCS_BROWSER_REQUIRED=1`` (CI), which turns the skip into a failure. One browser
is launched for the whole module (``--dist loadfile`` keeps the module on one xdist
worker), in a thread of its own: Playwright's sync API marks its event loop as running
in the thread that uses it, which would stop pytest-asyncio from running the suite's
autouse async fixtures.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.docs import browser_check
from tests.docs.browser_check import PageResult, PageSpec

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "site"
#: Kept by CI as an artifact (reports/): each checked page at each width.
SCREENSHOTS = REPO / "reports" / "docs-browser"
REQUIRED_ENV = browser_check.REQUIRED_ENV


def _browser_required() -> bool:
    """``DOCS_BROWSER_REQUIRED=1``: a missing browser fails the tests instead of skipping them."""
    return os.environ.get(REQUIRED_ENV) == "1"


class BrowserThread:
    """One headless Chromium, used only from the single thread that launched it."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docs-browser")
        self._stack = ExitStack()
        try:
            self._browser = self._pool.submit(
                self._stack.enter_context, browser_check.open_browser()
            ).result()
        except BaseException:
            self._pool.shutdown()
            raise

    def check_site(
        self, site: Path, pages: Sequence[PageSpec] = browser_check.PAGES, **kwargs: Any
    ) -> list[PageResult]:
        return self._pool.submit(
            browser_check.check_site, site, pages, browser=self._browser, **kwargs
        ).result()

    def close(self) -> None:
        try:
            self._pool.submit(self._stack.close).result()
        finally:
            self._pool.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    reason = browser_check.unavailable()
    if reason is not None:
        if _browser_required():
            pytest.fail(f"{REQUIRED_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(f"{reason}; {REQUIRED_ENV}=1 makes this a failure")
    launched = BrowserThread()
    try:
        yield launched
    finally:
        launched.close()


@pytest.mark.slow
def test_built_site_shows_nav_adr_readme_and_api_reference_offline(browser: BrowserThread) -> None:
    """Home, the tutorial, an ADR, a folder README, the HTTP API reference, Swagger UI and
    the pages with diagrams, from site/; the tutorial, the HTTP reference, the ADR and the
    architecture page at phone width too: nothing overflows, every diagram is drawn."""
    if not (SITE / "index.html").is_file():
        message = "site/ is not built: run `make docs` (then `make docs-browser`)"
        if _browser_required():
            pytest.fail(f"{REQUIRED_ENV}=1 but {message}", pytrace=False)
        pytest.skip(message)
    results = browser.check_site(SITE, screenshots=SCREENSHOTS)
    lines, ok = browser_check.report(results)
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime((SITE / "index.html").stat().st_mtime))
    assert ok, "\n".join([*lines, f"(site/ was built {built}: `make docs` if it is stale)"])
    pages = browser_check.PAGES
    assert [(r.spec.name, r.viewport) for r in results] == [
        *((p.name, "desktop") for p in pages),
        *((p.name, "phone") for p in pages if p.phone),
    ]
    phone = {r.spec.name for r in results if r.viewport == "phone"}
    assert {"tutorial", "HTTP API reference", "ADR", "architecture"} <= phone
    drawn = [c for r in results for c in r.checked if c.endswith("diagrams")]
    assert drawn
    assert all(c.split("/")[0] == c.split("/")[1].split()[0] for c in drawn), drawn
    assert all("no overflow" in r.checked for r in results)
    assert (SCREENSHOTS / "tutorial-phone.png").is_file()
    assert all(r.requests > 1 for r in results), lines
    api = next(r for r in results if r.spec.operations)
    operations = browser_check.operations_in(SITE / browser_check.SNAPSHOT)
    assert "GET /api/v1/users/me" in operations
    assert f"{len(operations)}/{len(operations)} operations" in api.checked


def _planted_site(root: Path) -> Path:
    """A tiny site: a clean page, and a page with every kind of failure."""
    pages = {
        "ok/index.html": "<html><head><link rel=stylesheet href=../ok.css><script src=../ok.js>"
        '</script></head><body><nav class="md-nav md-nav--primary"><a class="md-nav__link" '
        'href="/">Guides</a></nav><article><h1>Clean page</h1></article></body></html>',
        "broken/index.html": "<html><head>"
        '<script src="https://cdn.example.invalid/lib.js"></script>'
        '<link rel="stylesheet" href="missing.css"></head><body>'
        "<article><h1>Broken page</h1><img src=../img/missing.png>"
        "<h3><span>GET</span> /a<a>&para;</a></h3></article>"
        '<iframe src="swagger.html" style="height: 40px"></iframe>'
        '<script>console.error("planted console error")</script></body></html>',
        "broken/swagger.html": '<div class="opblock-summary" style="height: 300px">'
        '<span class="opblock-summary-method">get</span>'
        '<span class="opblock-summary-path" data-path="/a">/a</span></div>',
        "wide/index.html": "<html><body><article><h1>Wide</h1><pre><code>"
        + "x" * 400
        + '</code></pre><pre class="mermaid"><code>graph LR; a--&gt;b</code></pre>'
        "</article></body></html>",
        "ok.css": "h1 { color: #333 }",
        "ok.js": "document.title = 'clean'",
        "openapi.json": json.dumps(
            {"paths": {"/a": {"get": {}}, "/b": {"post": {}, "parameters": []}}}
        ),
    }
    for name, text in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_checker_reports_external_requests_missing_assets_and_missing_content(
    browser: BrowserThread, tmp_path: Path
) -> None:
    site = _planted_site(tmp_path)
    clean = PageSpec("clean", "ok/", ("Clean page",), nav=("Guides",))
    broken = PageSpec(
        "broken",
        "broken/",
        ("Broken page", "text that is not there"),
        nav=("Guides",),
        operations="openapi.json",
        swagger="openapi.json",
    )
    wide = PageSpec("wide", "wide/", ("Wide",), diagrams=1, phone=True)
    results = browser.check_site(site, [clean, broken, wide], timeout_ms=3000)

    assert results[0].problems == []
    assert results[0].requests == 3  # the page, its stylesheet and its script
    assert results[0].checked == ["nav 1 links", "1/1 texts", "no overflow"]
    problems = results[1].problems
    assert "request to another host (blocked): https://cdn.example.invalid/lib.js" in problems
    base = results[1].url.removesuffix("broken/")
    assert f"HTTP 404: {base}broken/missing.css" in problems
    assert f"HTTP 404: {base}img/missing.png" in problems
    assert "console error: planted console error" in problems
    assert "text not visible: 'text that is not there'" in problems
    assert "the navigation (nav.md-nav--primary) is not visible" in problems
    assert "operation not rendered: POST /b" in problems
    assert "operation not listed by Swagger UI: POST /b" in problems
    assert "Swagger UI's iframe is not as tall as its content" in problems
    assert len(problems) == 9, problems
    assert results[1].checked == [
        "1/2 texts",
        "1/2 operations",
        "1/2 Swagger UI operations",
        "no overflow",
    ]
    assert [(r.spec.name, r.viewport) for r in results[2:]] == [
        ("wide", "desktop"),
        ("wide", "phone"),
    ]
    for wide_result in results[2:]:
        assert wide_result.problems == [
            "diagrams drawn: 0 of 1; 1 left as text (is docs/assets/javascripts/mermaid.min.js "
            "loaded?)",
            f"overflows the screen horizontally: {'x' * 50!r}",
            "overflows the screen horizontally: '(the page itself)'",
        ], wide_result.problems

    lines, ok = browser_check.report(results)
    assert not ok
    assert lines[0].startswith("ok   clean @ desktop")
    assert lines[1].startswith("FAIL broken @ desktop")
    assert "     - request to another host (blocked): https://cdn.example.invalid/lib.js" in lines
    assert "3 of 4 pages failed" in lines[-1]


def test_cli_without_a_browser_fails_or_skips_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "index.html").write_text("<html></html>", encoding="utf-8")
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-chromium"))
    monkeypatch.delenv(REQUIRED_ENV, raising=False)
    assert browser_check.main([str(tmp_path)]) == 2
    assert "cannot run: CHROMIUM_PATH=" in capsys.readouterr().err
    assert browser_check.main([str(tmp_path), "--if-available"]) == 0
    assert "browser check: SKIPPED: CHROMIUM_PATH=" in capsys.readouterr().out
    monkeypatch.setenv(REQUIRED_ENV, "1")
    assert browser_check.main([str(tmp_path), "--if-available"]) == 2


def test_cli_without_a_built_site_says_how_to_build_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert browser_check.main([str(tmp_path / "nope")]) == 2
    assert "run `make docs` first" in capsys.readouterr().err
