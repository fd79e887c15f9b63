"""Security headers, request size limits and an optional per-client rate limit.

Three small pure-ASGI middlewares (no response buffering, so they cost little per request).
`install_security(app, settings, render_error)` adds the limits inside the FastAPI app;
`SecurityHeaders` wraps the whole app at the ASGI boundary (minutes/web/asgi.py):

- `SecurityHeaders`: Content-Security-Policy without inline script, X-Content-Type-Options:
  nosniff, X-Frame-Options: DENY (and CSP frame-ancestors 'none'), Referrer-Policy. The
  OpenAPI pages (/docs, /redoc) are FastAPI's own and load Swagger UI / ReDoc from a CDN with
  an inline bootstrap script, so they get a policy that allows exactly that and nothing else.
- `RequestLimits`: a URL (path and query string) over `max_url_bytes` answers 414; a body over
  `max_body_bytes` (by Content-Length, or counted while it streams) answers 413.
- `RateLimit`: off unless `rate_limit` > 0; then each client (an IPv4 address, or an IPv6
  /64 network, which one machine can rotate through) may make about `rate_limit` requests in
  any 60 seconds (the `limits` library's sliding-window counter, in memory); more answer 429 with
  Retry-After. Static files and /healthz are not counted. The client is the connecting address
  unless the connection comes from a configured trusted proxy (`trusted_proxies`).

Every refusal uses the one error shape: JSON `{"ok": false, "error", "status"}` for the API,
error.html for pages.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minutes.web import urls
from minutes.web.schemas import ErrorBody
from minutes.web.settings import WebSettings

RenderError = Callable[[Request, int, str], Response]

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
# FastAPI's /docs and /redoc pages: CDN assets and one inline bootstrap script each.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = (urls.API_DOCS, "/redoc")
COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
REPLACED = frozenset({b"content-security-policy", *(name for name, _ in COMMON_HEADERS)})
UNCOUNTED_PREFIXES = (urls.STATIC + "/", "/healthz")


def error_response(scope: Scope, status: int, message: str, render_error: RenderError | None,
                   headers: dict[str, str] | None = None) -> Response:
    """The one error shape, for a request refused before it reached a route."""
    from minutes.web.errors import wants_html

    request = Request(scope)
    if render_error is not None and wants_html(request):
        response = render_error(request, status, message)
    else:
        response = JSONResponse(ErrorBody(error=message, status=status).model_dump(), status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = (DOCS_CSP if path in DOCS_PATHS or path.startswith(urls.API_DOCS + "/") else PAGE_CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in REPLACED]
                headers += [(b"content-security-policy", csp), *COMMON_HEADERS]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(StarletteHTTPException):
    """Raised while a body streams past the limit; routes turn it into the one error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class RequestLimits:
    def __init__(self, app: ASGIApp, max_url_bytes: int, max_body_bytes: int,
                 render_error: RenderError | None = None) -> None:
        self.app, self.render_error = app, render_error
        self.max_url_bytes, self.max_body_bytes = max_url_bytes, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        url_bytes = len(scope.get("raw_path") or scope.get("path", "").encode()) + (len(query) + 1 if query else 0)
        if url_bytes > self.max_url_bytes:
            await error_response(scope, 414, f"the address is {url_bytes} bytes long; the limit is "
                                             f"{self.max_url_bytes}", self.render_error)(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(scope, 413, f"the request body is larger than the limit of "
                                              f"{self.max_body_bytes} bytes", self.render_error,
                                  {"connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def client_key(scope: Scope) -> str:
    """Whose budget a request spends: its IPv4 address, or its IPv6 /64 (one host's usual share)."""
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ClientLimiter:
    """About `window.amount` requests per key in any `window`: `limits`' sliding-window counter
    (this window's count plus the last one's, weighted by how much of it still overlaps), in
    memory. Each request touches only its own key's two counters, and the storage's timer drops
    counters whose windows have passed, so memory follows the clients of the last two windows.

    Not the moving window: limits' in-memory moving window empties an idle client's list of
    timestamps but never drops the key, so a flood of distinct clients would grow without bound."""

    def __init__(self, window: RateLimitItem) -> None:
        self.window = window
        self.storage = MemoryStorage()
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    def wait(self, key: str) -> float:
        """0 when the request may go ahead (and counts it), otherwise the seconds until it may."""
        if self.limiter.hit(self.window, key):
            return 0.0
        reset, _ = self.limiter.get_window_stats(self.window, key)
        return max(reset - time.time(), 0.001)

    def keys(self) -> int:
        """How many counters (two a client at most) are held now."""
        return len(self.storage.storage)


class RateLimit:
    def __init__(self, app: ASGIApp, per_minute: int, render_error: RenderError | None = None) -> None:
        self.app, self.render_error = app, render_error
        self.per_minute = per_minute
        self.clients = ClientLimiter(RateLimitItemPerMinute(per_minute))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(UNCOUNTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        wait = self.clients.wait(client_key(scope))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            response = error_response(scope, 429, f"too many requests: the limit is {self.per_minute} a minute; "
                                                  f"try again in {retry} s", self.render_error,
                                      {"retry-after": str(retry)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_security(app: FastAPI, settings: WebSettings, render_error: RenderError | None = None) -> None:
    """Add the limits, inside Starlette's error middleware so refusals use the app's error shape.
    The headers are not added here: `SecurityHeaders` wraps the whole app (see app.py), so even
    a 500 from an unexpected exception carries them."""
    if settings.rate_limit > 0:
        app.add_middleware(RateLimit, per_minute=settings.rate_limit,  # type: ignore[arg-type]
                           render_error=render_error)
    app.add_middleware(RequestLimits, max_url_bytes=settings.max_url_bytes,  # type: ignore[arg-type]
                       max_body_bytes=settings.max_body_bytes, render_error=render_error)
