"""HTTP security: default response headers, CORS from an allowlist, trusted hosts
(ADR-0027, SECURITY H1, H2).

* :func:`security_headers` is handed to the outermost guard as its ``extra_headers``,
  so every response carries them, the guard's own last-resort 500 included. They are
  defaults: a route that sets one of them itself (the docs pages' CSP) keeps its value.
* :class:`EnvelopeCORSMiddleware` is Starlette's ``CORSMiddleware`` (exact origins
  only) whose refused preflight is the JSON error envelope instead of plain text.
* :class:`TrustedHostMiddleware` refuses a ``Host`` outside ``TRUSTED_HOSTS`` with a
  400 envelope (Starlette's version answers plain text); ``*`` accepts any host.
* :class:`RelativeSlashRedirect` replaces Starlette's trailing-slash redirect, whose
  absolute ``Location`` repeats the request's ``Host`` header: ours is the path and
  query only, so no response ever reflects a ``Host`` (:func:`install_slash_redirects`).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import error_response
from app.core.request_context import REQUEST_ID_HEADER
from app.core.settings import Settings

#: API responses are JSON: nothing may be loaded, framed or executed from them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
#: Swagger UI / ReDoc pages: self-hosted assets only, plus their inline bootstrap script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)
#: Headers CORS lets browsers read on cross-origin responses.
EXPOSED_HEADERS = [
    REQUEST_ID_HEADER,
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The static headers every response carries (H1)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", API_CSP.encode()),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.hsts_max_age_seconds > 0:
        value = f"max-age={settings.hsts_max_age_seconds}; includeSubDomains"
        headers.append((b"strict-transport-security", value.encode()))
    return headers


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS with the error envelope for a refused preflight."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        return error_response(
            400,
            "The CORS preflight request was refused.",
            details={"reason": bytes(response.body).decode("utf-8", "replace")},
            headers={"Vary": response.headers.get("vary", "Origin")},
        )


def cors_options(settings: Settings) -> dict[str, object]:
    """Keyword arguments for :class:`EnvelopeCORSMiddleware` (H2)."""
    return {
        "allow_origins": settings.cors_origins,
        "allow_credentials": settings.cors_allow_credentials,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type", REQUEST_ID_HEADER],
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }


class TrustedHostMiddleware:
    """Pure ASGI: only ``Host`` values in ``allowed_hosts`` (``*.example.com`` wildcards;
    ``*`` alone accepts any host, as in Starlette). Entries are validated by ``Settings``."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.exact = {h.lower() for h in allowed_hosts if not h.startswith("*")}
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))

    def allowed(self, host: str) -> bool:
        if self.any_host:
            return True
        host = host.lower()
        # Drop the port: "[v6]:port" keeps its brackets, "name:port" loses ":port".
        host = host.split("]", 1)[0] + "]" if host.startswith("[") else host.split(":", 1)[0]
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if self.allowed(host):
            await self.app(scope, receive, send)
            return
        await error_response(400, "Invalid host header.")(scope, receive, send)


class RelativeSlashRedirect:
    """The router's fallback for a path no route matches (``Router.default``).

    Like Starlette's ``redirect_slashes``: when the same path with its trailing slash
    removed (or added) matches a route, answer 307 to it; otherwise the 404 envelope.
    Unlike Starlette's, the ``Location`` is relative (path and query, RFC 9110 allows
    it), so it never carries the request's ``Host`` header, whether or not
    ``TRUSTED_HOSTS`` is set (ADR-0027). A target that would start with ``//`` or
    ``/\\`` (a network-path reference, i.e. another host) is never produced.
    """

    def __init__(self, router: Router) -> None:
        self.router = router

    def location(self, scope: Scope) -> str | None:
        """The relative URL to redirect ``scope`` to, or ``None``."""
        path: str = scope["path"]
        root = scope.get("root_path", "")
        # The path below the mount point (``root_path``), as the routes see it.
        route_path = path[len(root) :] if root and path.startswith(root + "/") else path
        if route_path == "/":
            return None
        target = path.rstrip("/") if route_path.endswith("/") else path + "/"
        if not target.startswith("/") or target.startswith(("//", "/\\")):
            return None
        candidate = {**scope, "path": target}
        if all(route.matches(candidate)[0] is Match.NONE for route in self.router.routes):
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        return f"{target}?{query}" if query else target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        location = self.location(scope) if scope["type"] == "http" else None
        if location is None:
            await self.router.not_found(scope, receive, send)
            return
        await RedirectResponse(location, status_code=307)(scope, receive, send)


def install_slash_redirects(app: FastAPI) -> None:
    """Swap Starlette's absolute trailing-slash redirect for :class:`RelativeSlashRedirect`."""
    app.router.redirect_slashes = False
    app.router.default = RelativeSlashRedirect(app.router)
