"""What the docs browser check opens and what it verifies on each page (ADR-0020, ADR-0040).

:data:`PAGES` are opened at each width of :data:`VIEWPORTS` they ask for; the ``_check_*``
functions each add what they verified to ``PageResult.checked`` and what is wrong to
``PageResult.problems``. :mod:`tests.docs.browser_check` drives them.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Desktop: wide enough for Material's navigation sidebar (>= 76.25em); phone: a small one.
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1400, "height": 900},
    "phone": {"width": 400, "height": 860},
}
#: Top-level entries of ``mkdocs.yml`` nav that every page's sidebar shows (desktop).
SITE_NAV = ("Home", "Tutorial", "How-to guides", "Reference", "Explanation")
SNAPSHOT = "docs/reference/openapi.json"


@dataclass(frozen=True)
class PageSpec:
    """One page to open, and what must be visible on it."""

    name: str
    #: URL path under the site root ("" is the home page).
    path: str
    #: Texts that must be visible (whitespace-normalised) inside ``content``.
    texts: tuple[str, ...] = ()
    #: Entries the primary navigation must show; empty: no navigation expected.
    nav: tuple[str, ...] = ()
    #: CSS selector of the page's main content.
    content: str = "article"
    #: Site-relative OpenAPI file: each operation must be a ``METHOD /path`` heading.
    operations: str | None = None
    #: Site-relative OpenAPI file: Swagger UI (in an iframe) must list each operation.
    swagger: str | None = None
    #: Mermaid diagrams the page must show drawn.
    diagrams: int = 0
    #: Also checked at the phone width (no code block may overflow there either).
    phone: bool = False
    #: URL fragments of requests held back until every other request has finished:
    #: the worst order a slow network or a busy machine can deliver them in.
    late: tuple[str, ...] = ()


PAGES = (
    PageSpec("home", "", ("FastAPI reference backend", "make test"), SITE_NAV),
    PageSpec(
        "tutorial",
        "docs/tutorial/",
        ("Tutorial: from clone to your own resource", "Authorization: Bearer"),
        SITE_NAV,
        phone=True,
    ),
    PageSpec(
        "ADR",
        "adr/0020-docs-site-mkdocs-offline/",
        ("Docs site: MkDocs, strict and offline", "Decision Outcome", "Confirmation"),
        SITE_NAV,
        phone=True,
    ),
    PageSpec(
        "folder README",
        "backend/app/core/",
        ("app.core: cross-cutting building blocks", "ADR-0023"),
        SITE_NAV,
    ),
    PageSpec(
        "HTTP API reference",
        "docs/reference/api/",
        ("HTTP API reference", "Authorization: Bearer <access_token>", "grant_type=password"),
        SITE_NAV,
        operations=SNAPSHOT,
        phone=True,
    ),
    PageSpec(
        "Swagger UI",
        "docs/reference/swagger/",
        ("Interactive API (Swagger UI)",),
        SITE_NAV,
        swagger=SNAPSHOT,
        # The iframe renders before the theme's script has run (docs/hooks/swagger_ui.py).
        late=("/assets/javascripts/bundle.",),
    ),
    PageSpec(
        "architecture",
        "docs/architecture/",
        ("Request lifecycle", "Deployment"),
        SITE_NAV,
        diagrams=2,
        phone=True,
    ),
    PageSpec("auth model", "docs/auth-model/", ("token lifecycle",), SITE_NAV, diagrams=1),
    PageSpec("Redis breaker", "docs/rate-limiting/", ("breaker",), SITE_NAV, diagrams=1),
)


@dataclass
class PageResult:
    """What one page did in the browser."""

    spec: PageSpec
    url: str
    #: Name of the viewport (a key of :data:`VIEWPORTS`).
    viewport: str = "desktop"
    requests: int = 0
    seconds: float = 0.0
    #: What was verified, for the report (``"nav: 58 links"``, ``"10/10 operations"``).
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _normalise(text: str) -> str:
    return " ".join(text.replace("\u00b6", " ").replace("\u200b", "").split())


def operations_in(spec_file: Path) -> list[str]:
    """``METHOD /path`` for every operation of an OpenAPI document."""
    document = json.loads(spec_file.read_text(encoding="utf-8"))
    return [
        f"{method.upper()} {path}"
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    ]


def is_local(url: str, origin: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return f"{parts.scheme}://{parts.netloc}" == origin


def _expected_operations(site: Path, relative: str, result: PageResult) -> list[str]:
    spec_file = site / relative
    if not spec_file.is_file():
        result.problems.append(f"{relative} is not in the site: cannot list the operations")
        return []
    found = operations_in(spec_file)
    if not found:
        result.problems.append(f"{relative} lists no operations")
    return found


def check_nav(page: Page, spec: PageSpec, result: PageResult) -> None:
    if not spec.nav:
        return
    nav = page.locator("nav.md-nav--primary").first
    if nav.count() == 0 or not nav.is_visible():
        result.problems.append("the navigation (nav.md-nav--primary) is not visible")
        return
    text = _normalise(nav.inner_text())
    result.problems += [
        f"navigation does not show {entry!r}" for entry in spec.nav if entry not in text
    ]
    links = nav.locator("a.md-nav__link:visible").count()
    result.checked.append(f"nav {links} links")
    if links < len(spec.nav):
        result.problems.append(f"navigation shows only {links} links")


def check_content(page: Page, spec: PageSpec, result: PageResult) -> None:
    content = page.locator(spec.content).first
    if content.count() == 0 or not content.is_visible():
        result.problems.append(f"the content ({spec.content}) is not visible")
        return
    text = _normalise(content.inner_text())
    missing = [t for t in spec.texts if _normalise(t) not in text]
    result.problems += [f"text not visible: {t!r}" for t in missing]
    if spec.texts:
        result.checked.append(f"{len(spec.texts) - len(missing)}/{len(spec.texts)} texts")


def check_operations(page: Page, site: Path, spec: PageSpec, result: PageResult) -> None:
    assert spec.operations is not None
    expected = _expected_operations(site, spec.operations, result)
    headings = {
        _normalise(h) for h in page.locator(f"{spec.content} :is(h1, h2, h3, h4)").all_inner_texts()
    }
    missing = [op for op in expected if op not in headings]
    result.problems += [f"operation not rendered: {op}" for op in missing]
    result.checked.append(f"{len(expected) - len(missing)}/{len(expected)} operations")


def check_swagger(page: Page, site: Path, spec: PageSpec, result: PageResult) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    assert spec.swagger is not None
    expected = _expected_operations(site, spec.swagger, result)
    frame = page.frame_locator("iframe").first
    try:
        frame.locator(".opblock-summary").first.wait_for(state="visible")
    except PlaywrightTimeoutError:
        result.problems.append("Swagger UI (in its iframe) shows no operation")
        return
    pairs = frame.locator(".opblock-summary").evaluate_all(
        """els => els.map(e => [
            (e.querySelector('.opblock-summary-method') || {}).textContent || '',
            (e.querySelector('[data-path]') || {}).dataset?.path || ''])"""
    )
    listed = {_normalise(f"{method.upper()} {path}") for method, path in pairs}
    missing = [op for op in expected if op not in listed]
    result.problems += [f"operation not listed by Swagger UI: {op}" for op in missing]
    result.checked.append(f"{len(expected) - len(missing)}/{len(expected)} Swagger UI operations")
    try:  # The frame grows to its content (else the reader scrolls a 150 px window).
        page.wait_for_function(
            """() => { const f = document.querySelector('iframe');
                return f.getBoundingClientRect().height
                    >= f.contentWindow.document.body.scrollHeight; }"""
        )
    except PlaywrightTimeoutError:
        result.problems.append("Swagger UI's iframe is not as tall as its content")
    else:
        result.checked.append("iframe sized")


def check_layout(page: Page, spec: PageSpec, result: PageResult) -> None:
    """No code block (nor the page) is wider than the screen: its text would be cut off."""
    overflowing: list[str] = page.evaluate(
        """sel => {
            const out = [];
            for (const pre of document.querySelectorAll(sel + ' pre')) {
                let code = pre.querySelector('code') || pre;
                if (getComputedStyle(code).display === 'inline') code = pre;
                if (code.scrollWidth > code.clientWidth + 1)
                    out.push(code.textContent.trim().slice(0, 50));
            }
            if (document.documentElement.scrollWidth > window.innerWidth + 1)
                out.push('(the page itself)');
            return out;
        }""",
        spec.content,
    )
    result.problems += [f"overflows the screen horizontally: {text!r}" for text in overflowing]
    result.checked.append("no overflow")


def check_diagrams(page: Page, spec: PageSpec, result: PageResult) -> None:
    """Every Mermaid block was drawn: Material replaces each ``pre.mermaid`` by a
    ``div.mermaid`` whose (closed) shadow root holds the SVG, so a drawn diagram is a
    ``div.mermaid`` with a height, and no ``pre.mermaid`` is left."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "n => document.querySelectorAll('div.mermaid').length >= n", arg=spec.diagrams
        )
    heights: list[float] = page.locator(f"{spec.content} div.mermaid").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    drawn = sum(1 for h in heights if h > 40)
    left = page.locator(f"{spec.content} pre.mermaid").count()
    if drawn < spec.diagrams or left:
        result.problems.append(
            f"diagrams drawn: {drawn} of {spec.diagrams}; {left} left as text "
            "(is docs/assets/javascripts/mermaid.min.js loaded?)"
        )
    result.checked.append(f"{drawn}/{spec.diagrams} diagrams")
