"""Pure-ASGI middleware: the outermost guard and the body-size limit (ADR-0006).

No ``BaseHTTPMiddleware`` anywhere: it costs ~4x throughput (ADR-0006).

:class:`RequestGuardMiddleware` is the outermost layer. It assigns the request
id (ADR-0003), stamps ``X-Request-ID`` on every response, writes exactly one
summary log line per request, drops the body of every ``HEAD`` response (the
health probes answer ``HEAD``, ADR-0001), and turns any exception that escapes the
inner layers into the JSON envelope, so even a failing middleware never produces a
plain-text 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, RequestBodyTooLarge, render_exception
from app.core.logging import AccessLog
from app.core.request_context import REQUEST_ID_HEADER, request_id_var, sanitize_request_id

error_logger = logging.getLogger("app.errors")

_REQUEST_ID = REQUEST_ID_HEADER.lower().encode("ascii")
#: OpenTelemetry semantic-convention attribute for the response's ``X-Request-ID``.
SPAN_REQUEST_ID = f"http.response.header.{REQUEST_ID_HEADER.lower()}"

#: ``(method, route template, status, seconds)``: called once per request when set.
RequestObserver = Callable[[str, str, int, float], None]


class RequestGuardMiddleware:
    """Request id, one access-log line, and the last-resort error envelope (E6)."""

    def __init__(
        self,
        app: ASGIApp,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
        observer: RequestObserver | None = None,
        span_request_id: bool = False,
    ) -> None:
        self.app = app
        #: Defaults for every response (e.g. security headers, ADR-0027): a header the
        #: inner app already set keeps the app's value.
        self.extra_headers = [(k.lower(), v) for k, v in extra_headers or []]
        self.extra_names = frozenset(k for k, _ in self.extra_headers)
        #: Telemetry hook (ADR-0026); ``None`` costs nothing.
        self.observer = observer
        #: Put the request id on the current (FastAPI server) span, so a trace and the
        #: request's log lines are found by the same id (ADR-0026). Off: not even a lookup.
        self.span_request_id = span_request_id
        self.access_log = AccessLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id = next((v for k, v in scope["headers"] if k == _REQUEST_ID), None)
        request_id = sanitize_request_id(raw_id)
        token = request_id_var.set(request_id)
        if self.span_request_id:
            trace.get_current_span().set_attribute(SPAN_REQUEST_ID, (request_id,))
        rid_header = (_REQUEST_ID, request_id.encode())
        extra, extra_names = self.extra_headers, self.extra_names
        status = 500
        started = False
        start = perf_counter()
        #: RFC 9110 §9.3.2: the GET's status and headers, never a body, whichever server
        #: runs the app (uvicorn drops it too; an in-process client would not).
        head = scope["method"] == "HEAD"

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if head and message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}  # a HEAD response has no content
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                # ASGI header names are lowercase (Starlette guarantees it).
                headers = [h for h in message.get("headers", ()) if h[0] != _REQUEST_ID]
                if extra:
                    present = {h[0] for h in headers}
                    if present.isdisjoint(extra_names):
                        headers += extra
                    else:
                        headers += [h for h in extra if h[0] not in present]
                headers.append(rid_header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if not isinstance(exc, AppError | RequestBodyTooLarge):
                error_logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
            if not started:
                await render_exception(exc)(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - start
            # The template without path convertors: "/users/{user_id}", as in the schema.
            route = getattr(scope.get("route"), "path_format", None) or "<unmatched>"
            self.access_log(scope["method"], route, status, round(seconds * 1000, 2))
            if self.observer is not None:
                try:
                    self.observer(scope["method"], route, status, seconds)
                except Exception:  # telemetry never breaks a request
                    error_logger.exception("telemetry observer failed")
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Reject bodies over ``max_bytes`` with 413, by ``Content-Length`` or while streaming (R1)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                raise RequestBodyTooLarge
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLarge
            return message

        await self.app(scope, limited_receive, send)
