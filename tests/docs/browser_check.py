"""The built docs site, opened in headless Chromium, works offline (ADR-0020, ADR-0040).

``python -m tests.docs.browser_check site/`` (``make docs-browser``, after ``make docs``)
serves ``site/`` on a free port of 127.0.0.1 (:mod:`tests.docs.browser_env`), opens the
pages of :data:`~tests.docs.browser_pages.PAGES` in headless Chromium at desktop width, and
the tutorial, the HTTP reference, an ADR and the architecture page at phone width too, and
checks (:mod:`tests.docs.browser_pages`):

* the navigation is visible and lists its sections (desktop);
* the page's own content is visible (the HTTP API reference: every operation of the
  published OpenAPI snapshot is a rendered ``METHOD /path`` heading; the Swagger UI page:
  every operation is listed inside its iframe);
* no code block, and not the page itself, is wider than the screen;
* every Mermaid diagram is drawn;
* every request went to the local server: a request to another host is reported and
  aborted (so none leaves the machine), and so is every failed request, every response
  with a status >= 400, every console error and every uncaught script error.

``--screenshots DIR`` saves a PNG of each page at each width (CI keeps ``reports/``).
It exits 0 when every page passes, 1 with one line per problem otherwise, and 2 when the
site is not built or no browser is available (with ``--if-available``: 0 and a notice,
unless ``DOCS_BROWSER_REQUIRED=1``). ``tests/docs/test_browser.py`` runs it on
``site/`` and proves, on a planted site, that it reports each kind of failure.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tests.docs.browser_env import open_browser, serve, unavailable
from tests.docs.browser_pages import (
    PAGES,
    SNAPSHOT,
    VIEWPORTS,
    PageResult,
    PageSpec,
    check_content,
    check_diagrams,
    check_layout,
    check_nav,
    check_operations,
    check_swagger,
    is_local,
    operations_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Request, Response, Route

__all__ = [
    "PAGES",
    "SNAPSHOT",
    "PageResult",
    "PageSpec",
    "check_site",
    "main",
    "open_browser",
    "operations_in",
    "report",
    "unavailable",
]

TIMEOUT_MS = 10_000
#: A page is loaded once no request has been open for this long (Playwright's
#: "networkidle" waits 500 ms; nothing on these pages starts a request that late).
QUIET_MS = 250
POLL_MS = 25

#: ``1``: a missing browser is a failure, never a skip (CI sets it).
REQUIRED_ENV = "DOCS_BROWSER_REQUIRED"


class _Session:
    """One browser context and tab that open the pages in turn, like a reader clicking
    through the site; every event is charged to the page being checked."""

    def __init__(
        self, browser: Browser, base_url: str, timeout_ms: int, viewport: str = "desktop"
    ) -> None:
        self.origin = base_url.rstrip("/")
        self.timeout_ms = timeout_ms
        self.result = PageResult(PageSpec("", ""), base_url)
        self.pending: dict[Request, float] = {}
        #: Requests of ``spec.late``, answered by :meth:`open_late`.
        self.held: list[Route] = []
        self.last_activity = time.monotonic()
        self.error_responses: set[str] = set()
        self.viewport = viewport
        self.context = browser.new_context(viewport=VIEWPORTS[viewport], service_workers="block")
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
        if is_local(url, self.origin) and any(part in url for part in self.result.spec.late):
            self.held.append(route)
        elif is_local(url, self.origin):
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
        if is_local(request.url, self.origin) and request.url not in self.error_responses:
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

    def open_late(self, spec: PageSpec, url: str) -> None:
        """Open a page whose ``spec.late`` requests wait until its content has rendered
        (Swagger UI: its iframe lists operations), then answer them."""
        self.page.goto(url, wait_until="commit")  # A held script delays "load".
        try:
            if spec.swagger:
                self.page.frame_locator("iframe").first.locator(".opblock-summary").first.wait_for()
        finally:
            for route in self.held:
                route.continue_()
            self.held.clear()
        self.page.wait_for_load_state("load")

    def check(self, site: Path, spec: PageSpec, screenshot: Path | None) -> PageResult:
        """Open one page and check it (see the module docstring)."""
        from playwright.sync_api import Error as PlaywrightError

        started = time.monotonic()
        result = self.result = PageResult(spec, self.origin + "/" + spec.path, self.viewport)
        try:
            if spec.late:
                self.open_late(spec, result.url)
            else:
                self.page.goto(result.url, wait_until="load")
            self.settle()
            if self.viewport == "desktop":
                check_nav(self.page, spec, result)
            check_content(self.page, spec, result)
            if spec.operations:
                check_operations(self.page, site, spec, result)
            if spec.swagger:
                check_swagger(self.page, site, spec, result)
            if spec.diagrams:
                check_diagrams(self.page, spec, result)
            check_layout(self.page, spec, result)
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
    """Serve ``site`` on 127.0.0.1 and check every page, one browsing session (a fresh
    browser context) per viewport; launches Chromium if not given one."""
    if browser is None:
        with open_browser() as own:
            return check_site(
                site, pages, browser=own, screenshots=screenshots, timeout_ms=timeout_ms
            )
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    results: list[PageResult] = []
    with serve(site) as base_url:
        for viewport in VIEWPORTS:
            session = _Session(browser, base_url, timeout_ms, viewport)
            try:
                for spec in pages:
                    if viewport != "desktop" and not spec.phone:
                        continue
                    name = re.sub(r"[^a-z0-9]+", "-", spec.name.lower())
                    shot = screenshots / f"{name}-{viewport}.png" if screenshots else None
                    results.append(session.check(site, spec, shot))
            finally:
                session.context.close()
    return results


def report(results: Sequence[PageResult]) -> tuple[list[str], bool]:
    """Human-readable lines (one per page, one per problem) and whether all passed."""
    lines: list[str] = []
    for r in results:
        status = "ok  " if not r.problems else "FAIL"
        what = ", ".join([f"{r.requests} requests", *r.checked])
        name = f"{r.spec.name} @ {r.viewport}"
        lines.append(f"{status} {name:<30} /{r.spec.path:<38} {what} ({r.seconds:.1f} s)")
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
