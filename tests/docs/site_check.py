"""Offline check of the built docs site (ADR-0020): no page loads an asset from another host.

``python -m tests.docs.site_check site`` (run by ``make docs``) exits non-zero and lists
every ``<script src>``, ``<link href>``, ``<img src>``, ``<iframe src>`` or CSS ``url()``
in ``site/`` that points at an ``http(s)://`` or protocol-relative URL. Ordinary ``<a href>``
links to other sites are allowed: they load nothing until clicked.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

_EXTERNAL = re.compile(r"^(?:https?:)?//", re.I)
_CSS_URL = re.compile(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", re.I)
_IMPORT = re.compile(r"""@import\s+['"]((?:https?:)?//[^'"]+)""", re.I)
_ASSET_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
}
_LINK_LOADS = {
    "stylesheet",
    "icon",
    "preload",
    "prefetch",
    "preconnect",
    "modulepreload",
    "dns-prefetch",
    "manifest",
    "apple-touch-icon",
    "shortcut",
}


class _AssetFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "link":
            rel = set(values.get("rel", "").lower().split())
            if rel & _LINK_LOADS and _EXTERNAL.match(values.get("href", "")):
                self.found.append(f"<link rel={values.get('rel')} href={values['href']}>")
            return
        for attr in _ASSET_ATTRS.get(tag, ()):
            value = values.get(attr, "")
            if _EXTERNAL.match(value):
                self.found.append(f"<{tag} {attr}={value}>")


def external_assets_in_html(html: str) -> list[str]:
    """Assets an HTML page would fetch from another host."""
    finder = _AssetFinder()
    finder.feed(html)
    found = finder.found
    for style in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S | re.I):
        found += _CSS_URL.findall(style) + _IMPORT.findall(style)
    return found


def external_assets_in_css(css: str) -> list[str]:
    return _CSS_URL.findall(css) + _IMPORT.findall(css)


def check_site(site: Path) -> list[str]:
    """Every external asset reference in a built site, as ``file: reference``."""
    problems: list[str] = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            refs = external_assets_in_html(path.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix == ".css":
            refs = external_assets_in_css(path.read_text(encoding="utf-8", errors="replace"))
        else:
            continue
        problems += [f"{path.relative_to(site)}: loads {ref}" for ref in refs]
    return problems


def main(argv: list[str]) -> int:
    site = Path(argv[0] if argv else "site")
    if not site.is_dir():
        print(f"{site}/ does not exist: run `make docs` first", file=sys.stderr)
        return 2
    problems = check_site(site)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} external asset(s): the site must work offline (ADR-0020); "
            "vendor the asset or drop the feature that loads it",
            file=sys.stderr,
        )
        return 1
    print(f"site check: {site}/ loads no external assets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
