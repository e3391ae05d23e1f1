"""The built docs site, opened in headless Chromium, works offline (ADR-0020).

``python -m tests.docs.browser_check site/`` (``make docs-browser``, after ``make docs``)
serves ``site/`` on a free port of 127.0.0.1, opens pages in headless Chromium (Debian's
``chromium`` package, driven by the ``playwright`` package; no browser download) and checks,
for each page of :data:`PAGES`:

* the navigation is visible and lists its sections;
* the page's own content is visible (the HTTP API reference: every operation of the
  published OpenAPI snapshot is a rendered ``METHOD /path`` heading; the Swagger UI page:
  every operation is listed inside its iframe);
* every request went to the local server: a request to another host is reported and
  aborted (so none leaves the machine), and so is every failed request, every response
  with a status >= 400, every console error and every uncaught script error.

It exits 0 when every page passes, 1 with one line per problem otherwise, and 2 when the
site is not built or no browser is available (with ``--if-available``: 0 and a notice,
unless ``DOCS_BROWSER_REQUIRED=1``). ``tests/docs/test_browser.py`` runs it on
``site/`` and proves, on a planted site, that it reports each kind of failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Page,
        Request,
        Response,
        Route,
        ViewportSize,
    )

#: Flags for a headless Chromium that talks to nobody but the pages it is given.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Looked up on PATH when ``CHROMIUM_PATH`` is not set.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Wide enough for Material to show the navigation sidebar (>= 76.25em).
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000
#: A page is loaded once no request has been open for this long (Playwright's
#: "networkidle" waits 500 ms; nothing on these pages starts a request that late).
QUIET_MS = 250
POLL_MS = 25

#: ``1``: a missing browser is a failure, never a skip (CI sets it).
REQUIRED_ENV = "DOCS_BROWSER_REQUIRED"

#: Top-level entries of ``mkdocs.yml`` nav that every page's sidebar shows.
SITE_NAV = ("Home", "Get started", "Guides", "Reference", "Code map", "Decisions (ADRs)")
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


PAGES = (
    PageSpec("home", "", ("FastAPI reference backend", "make test"), SITE_NAV),
    PageSpec(
        "ADR",
        "adr/0020-docs-site-mkdocs-offline/",
        ("Docs site: MkDocs, strict and offline", "Decision Outcome", "Confirmation"),
        SITE_NAV,
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
        ("HTTP API reference",),
        SITE_NAV,
        operations=SNAPSHOT,
    ),
    PageSpec(
        "Swagger UI",
        "docs/reference/swagger/",
        ("Interactive API (Swagger UI)",),
        SITE_NAV,
        swagger=SNAPSHOT,
    ),
)


@dataclass
class PageResult:
    """What one page did in the browser."""

    spec: PageSpec
    url: str
    requests: int = 0
    seconds: float = 0.0
    #: What was verified, for the report (``"nav: 58 links"``, ``"10/10 operations"``).
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --- environment ---------------------------------------------------------------------


def find_chromium() -> str | None:
    """``CHROMIUM_PATH`` if set, else the first Chromium on ``PATH``."""
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def unavailable() -> str | None:
    """Why the check cannot run here (no playwright package, no Chromium), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install, or pip install -e '.[dev]')"
    chromium = find_chromium()
    if chromium is None:
        return "no Chromium on PATH (apt-get install chromium, or set CHROMIUM_PATH)"
    if not os.access(chromium, os.X_OK):
        return f"CHROMIUM_PATH={chromium} is not an executable file"
    return None


@contextmanager
def open_browser(executable: str | None = None) -> Iterator[Browser]:
    """A headless Chromium (Debian's binary, never a downloaded one), closed on exit."""
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if executable is None:
        raise RuntimeError(unavailable() or "no Chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on a free port of 127.0.0.1; yields the base URL (with a slash)."""
    handler = partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="docs-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- checks --------------------------------------------------------------------------


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


def _is_local(url: str, origin: str) -> bool:
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


def _check_nav(page: Page, spec: PageSpec, result: PageResult) -> None:
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


def _check_content(page: Page, spec: PageSpec, result: PageResult) -> None:
    content = page.locator(spec.content).first
    if content.count() == 0 or not content.is_visible():
        result.problems.append(f"the content ({spec.content}) is not visible")
        return
    text = _normalise(content.inner_text())
    missing = [t for t in spec.texts if _normalise(t) not in text]
    result.problems += [f"text not visible: {t!r}" for t in missing]
    if spec.texts:
        result.checked.append(f"{len(spec.texts) - len(missing)}/{len(spec.texts)} texts")


def _check_operations(page: Page, site: Path, spec: PageSpec, result: PageResult) -> None:
    assert spec.operations is not None
    expected = _expected_operations(site, spec.operations, result)
    headings = {
        _normalise(h) for h in page.locator(f"{spec.content} :is(h1, h2, h3, h4)").all_inner_texts()
    }
    missing = [op for op in expected if op not in headings]
    result.problems += [f"operation not rendered: {op}" for op in missing]
    result.checked.append(f"{len(expected) - len(missing)}/{len(expected)} operations")


def _check_swagger(page: Page, site: Path, spec: PageSpec, result: PageResult) -> None:
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


class _Session:
    """One browser context and tab that open the pages in turn, like a reader clicking
    through the site; every event is charged to the page being checked."""

    def __init__(self, browser: Browser, base_url: str, timeout_ms: int) -> None:
        self.origin = base_url.rstrip("/")
        self.timeout_ms = timeout_ms
        self.result = PageResult(PageSpec("", ""), base_url)
        self.pending: dict[Request, float] = {}
        self.last_activity = time.monotonic()
        self.error_responses: set[str] = set()
        self.context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        self.context.set_default_timeout(timeout_ms)
        self.context.route("**/*", self._on_route)
        self.context.on("request", self._on_request)
        self.context.on("requestfinished", self._on_done)
        self.context.on("requestfailed", self._on_failed)
        self.context.on("response", self._on_response)
        self.page = self.context.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)

    def _on_route(self, route: Route) -> None:
        url = route.request.url
        if _is_local(url, self.origin):
            route.continue_()
        else:
            self.result.problems.append(f"request to another host (blocked): {url}")
            route.abort("blockedbyclient")

    def _on_request(self, request: Request) -> None:
        self.result.requests += 1
        self.pending[request] = self.last_activity = time.monotonic()

    def _on_done(self, request: Request) -> None:
        self.pending.pop(request, None)
        self.last_activity = time.monotonic()

    def _on_failed(self, request: Request) -> None:
        self._on_done(request)
        # Blocked requests and error responses (which Chromium may also abort) are reported.
        if _is_local(request.url, self.origin) and request.url not in self.error_responses:
            self.result.problems.append(f"request failed: {request.url} ({request.failure})")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.error_responses.add(response.url)
            self.result.problems.append(f"HTTP {response.status}: {response.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        # Chromium also logs each failed load; the network listeners report those with the URL.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.result.problems.append(f"console error: {message.text}")

    def _on_page_error(self, error: Exception) -> None:
        self.result.problems.append(f"uncaught script error: {error}")

    def settle(self) -> None:
        """Wait until no request has been open for QUIET_MS: late requests (the search
        index, Swagger UI's schema) are checked too."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while self.pending or time.monotonic() - self.last_activity < QUIET_MS / 1000:
            if time.monotonic() > deadline:
                self.result.problems += [f"request never finished: {r.url}" for r in self.pending]
                self.pending.clear()
                return
            self.page.wait_for_timeout(POLL_MS)

    def check(self, site: Path, spec: PageSpec, screenshot: Path | None) -> PageResult:
        """Open one page and check it (see the module docstring)."""
        from playwright.sync_api import Error as PlaywrightError

        started = time.monotonic()
        result = self.result = PageResult(spec, self.origin + "/" + spec.path)
        try:
            self.page.goto(result.url, wait_until="load")
            self.settle()
            _check_nav(self.page, spec, result)
            _check_content(self.page, spec, result)
            if spec.operations:
                _check_operations(self.page, site, spec, result)
            if spec.swagger:
                _check_swagger(self.page, site, spec, result)
            if screenshot is not None:
                self.page.screenshot(path=str(screenshot))
        except PlaywrightError as exc:
            result.problems.append(f"browser: {str(exc).splitlines()[0]}")
        result.seconds = time.monotonic() - started
        return result


def check_site(
    site: Path,
    pages: Sequence[PageSpec] = PAGES,
    *,
    browser: Browser | None = None,
    screenshots: Path | None = None,
    timeout_ms: int = TIMEOUT_MS,
) -> list[PageResult]:
    """Serve ``site`` on 127.0.0.1 and check every page in one browsing session (a
    fresh browser context; launches Chromium if not given one)."""
    if browser is None:
        with open_browser() as own:
            return check_site(
                site, pages, browser=own, screenshots=screenshots, timeout_ms=timeout_ms
            )
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    with serve(site) as base_url:
        session = _Session(browser, base_url, timeout_ms)
        try:
            return [
                session.check(
                    site,
                    spec,
                    screenshots / f"{re.sub(r'[^a-z0-9]+', '-', spec.name.lower())}.png"
                    if screenshots
                    else None,
                )
                for spec in pages
            ]
        finally:
            session.context.close()


def report(results: Sequence[PageResult]) -> tuple[list[str], bool]:
    """Human-readable lines (one per page, one per problem) and whether all passed."""
    lines: list[str] = []
    for r in results:
        status = "ok  " if not r.problems else "FAIL"
        what = ", ".join([f"{r.requests} requests", *r.checked])
        lines.append(f"{status} {r.spec.name:<20} /{r.spec.path:<38} {what} ({r.seconds:.1f} s)")
        lines += [f"     - {problem}" for problem in r.problems]
    failed = [r for r in results if r.problems]
    total = sum(r.requests for r in results)
    if failed:
        lines.append(
            f"browser check: {len(failed)} of {len(results)} pages failed; the site must work "
            "offline with nothing missing (ADR-0020)"
        )
    else:
        lines.append(
            f"browser check: {len(results)} pages, {total} requests, all to 127.0.0.1, none failed"
        )
    return lines, not failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.docs.browser_check", description=__doc__)
    parser.add_argument("site", nargs="?", default="site", type=Path, help="built site (site/)")
    parser.add_argument("--screenshots", type=Path, help="save a PNG of each page here")
    parser.add_argument(
        "--if-available",
        action="store_true",
        help=f"exit 0 with a notice when there is no browser, unless {REQUIRED_ENV}=1",
    )
    args = parser.parse_args(argv)
    site: Path = args.site
    if not (site / "index.html").is_file():
        print(f"{site}/index.html does not exist: run `make docs` first", file=sys.stderr)
        return 2
    reason = unavailable()
    if reason:
        if args.if_available and os.environ.get(REQUIRED_ENV) != "1":
            print(f"browser check: SKIPPED: {reason} ({REQUIRED_ENV}=1 makes this a failure)")
            return 0
        print(f"browser check: cannot run: {reason}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = check_site(site, screenshots=args.screenshots)
    lines, ok = report(results)
    lines[-1] += f" ({time.monotonic() - started:.1f} s)"
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
