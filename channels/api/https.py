"""Served over https: whether a request came over TLS, and HSTS on every response then.

Behind a TLS-terminating proxy the app sees plain http. Two settings say otherwise:
`PERSONA_PUBLIC_URL=https://...` (the platform is public over https, whatever the hop from
the proxy), and `PERSONA_TRUSTED_PROXIES` (uvicorn then takes the scheme from
X-Forwarded-Proto, from those addresses only: anyone else could claim https). Either makes
the console's cookies Secure, so a browser never sends the session over plain http, and
sends Strict-Transport-Security, so it never tries plain http again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000"


def public_https(settings: Any) -> bool:
    url = getattr(settings, "public_url", None) or ""
    return url.lower().startswith("https://")


def served_over_https(connection: HTTPConnection) -> bool:
    """Whether the client reached the platform over TLS (cookies get `Secure`)."""
    if connection.url.scheme in ("https", "wss"):
        return True
    services = getattr(connection.app.state, "services", None)
    return services is not None and public_https(services.settings)


class HSTSMiddleware:
    """Adds Strict-Transport-Security to responses sent over https (browsers ignore it over
    plain http), or to every response when the public URL is https."""

    def __init__(self, app: ASGIApp, always: bool = False) -> None:
        self.app = app
        self.always = always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.always or scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"strict-transport-security" for name, _ in headers):
                    headers.append((b"strict-transport-security", HSTS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_hsts)
