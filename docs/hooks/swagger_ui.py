"""MkDocs hook: Swagger UI's iframe can size itself before the theme's scripts have run.

``mkdocs-swagger-ui-tag`` puts Swagger UI in an iframe whose ``ResizeObserver`` calls
``parent.update_swagger_ui_iframe_height(id)``. With the Material theme the plugin defines
that function inside ``document$.subscribe(...)``, i.e. only once the theme's bundle (and
the scripts before it, such as Mermaid) have loaded at the end of the page. The iframe
starts loading as soon as the parser meets it, so on a busy machine it rendered first and
every resize raised ``parent.update_swagger_ui_iframe_height is not a function``, leaving
the frame at its default height (caught by CI's browser check).

:func:`on_post_page` defines the same function at the top of ``<head>`` on every page
that holds a Swagger UI iframe; the plugin's later definition replaces it with an
identical one. ``tests/docs/browser_pages.py`` holds the theme's script back until the
iframe has rendered, so the browser check meets the late order on every run (ADR-0040).
"""

from __future__ import annotations

from typing import Any

#: The plugin's own definition (mkdocs-swagger-ui-tag 0.8), usable before the theme loads.
EARLY_SCRIPT = """<script>
window.update_swagger_ui_iframe_height = function (id) {
  var frame = document.getElementById(id);
  if (frame) {
    var height = (frame.contentWindow.document.body.scrollHeight + 80) + "px";
    frame.height = height;
    frame.style.height = height;
  }
};
</script>"""


def on_post_page(output: str, page: Any, config: Any) -> str:
    if 'class="swagger-ui-iframe"' not in output or "<head>" not in output:
        return output
    return output.replace("<head>", "<head>\n" + EARLY_SCRIPT, 1)
