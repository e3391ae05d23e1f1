"""The browser and the server of the docs browser check (:mod:`tests.docs.browser_check`).

Debian's ``chromium`` driven by the ``playwright`` package (never a downloaded browser),
headless and talking to nobody but the pages it is given; the built site served from a
free port of 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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
