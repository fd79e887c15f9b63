"""What wraps the FastAPI app at the ASGI boundary, outside Starlette's own error middleware.

- `ProxyHeadersMiddleware` (uvicorn's), only for the configured `trusted_proxies`: by default no
  forwarded header is believed, so a client cannot choose its own rate-limit bucket.
- `SecurityHeaders`: on every response, a 500 from an unexpected exception included.
- `HeadAsGet`: HEAD on every GET route, the GET response without its body (RFC 9110, 9.3.2).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from minutes.web.security import SecurityHeaders
from minutes.web.settings import WebSettings


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def wrap(app: ASGIApp, settings: WebSettings) -> ASGIApp:
    """The app as uvicorn serves it (and as the tests call it)."""
    wrapped: ASGIApp = SecurityHeaders(HeadAsGet(app))
    if settings.trusted_proxies:
        wrapped = ProxyHeadersMiddleware(wrapped, trusted_hosts=settings.trusted_proxies)  # type: ignore[arg-type,assignment]
    return wrapped
