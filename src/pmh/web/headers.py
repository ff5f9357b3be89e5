"""Security headers on every response: a Content-Security-Policy without inline script, no sniffing,
no referrer, no framing, and no caching of anything but the static files."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The pages' policy: scripts and styles only from the hub's own files (htmx is vendored), never inline."""

DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""The /docs page: Swagger UI served by the hub itself and started by a static script (nothing from a
CDN, no inline script); Swagger UI sets styles from script, so inline styles are allowed there only.
The page carries no personal data."""

DOCS_PATHS = frozenset({"/docs"})
STATIC_PREFIX = "/static/"

_COMMON = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
)


class SecurityHeaders:
    """Add the security headers to every HTTP response.

    A plain ASGI middleware (as ``RequestLog``): it only rewrites the response's start message.
    ``Cache-Control: no-store`` goes on every response except the static files, so that no API
    answer or page, all of which may carry personal data, is kept by a browser or proxy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_CSP if path in DOCS_PATHS else CSP
        cacheable = path.startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = policy
                for name, value in _COMMON:
                    headers[name] = value
                if not cacheable:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
