"""The console's session middleware (pure ASGI).

For a request that carries the console cookie it looks the session up and sets
`request.state.console_session`. It also sets `request.state.creator_id` — which the JSON
API's `authenticated_creator` accepts in place of an API token — but only when the request
cannot be a cross-site forgery: a safe method (GET/HEAD/OPTIONS), or a state-changing one
that sends the session's CSRF token in the `X-CSRF-Token` header. Requests whose Origin (or
Sec-Fetch-Site) says they come from another site get no session at all.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from channels.console.auth import AuthConfig, load_session, same_token, touch_session

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

SESSION_COOKIE = "persona_console"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Only these paths read the session (the cookie is sent everywhere on the site).
SESSION_PATHS = ("/console", "/api/", "/ws/")
STATIC_PREFIX = "/console/static/"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def cookie_value(headers: dict[str, str], name: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def cross_site(headers: dict[str, str]) -> bool:
    """True when the browser says the request comes from another site."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    host = headers.get("host", "")
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


class ConsoleSessionMiddleware:
    def __init__(self, app: ASGIApp, config: AuthConfig | None = None) -> None:
        self.app = app
        self.config = config or AuthConfig()
        self._touching: set[asyncio.Future[None]] = set()

    def _touch_later(self, db: Any, token_hash: str) -> None:
        """Slide the session's expiry in a worker thread, without making the request wait."""

        def touch() -> None:
            try:
                touch_session(db, token_hash, datetime.now(UTC), self.config)
            except Exception:  # noqa: BLE001 - best effort: the next request tries again
                log.warning("could not extend a console session", exc_info=True)

        future = asyncio.get_running_loop().run_in_executor(None, touch)
        self._touching.add(future)
        future.add_done_callback(self._touching.discard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            await self._authenticate(scope)
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> None:
        path: str = scope.get("path", "")
        if not path.startswith(SESSION_PATHS) or path.startswith(STATIC_PREFIX):
            return
        headers = _headers(scope)
        token = cookie_value(headers, SESSION_COOKIE)
        if not token:
            return
        websocket = scope["type"] == "websocket"
        # A websocket handshake is a GET that any site can start: same origin only.
        if cross_site(headers) or (websocket and "origin" not in headers):
            return
        services: Platform = getattr(scope["app"].state, "services", None)
        if services is None:
            return
        info = await anyio.to_thread.run_sync(
            load_session, services.db, token, datetime.now(UTC), self.config
        )
        if info is None:
            return
        if info.needs_touch:
            self._touch_later(services.db, info.token_sha256)
        state = scope.setdefault("state", {})
        state["console_session"] = info
        method = scope.get("method", "GET")
        if (
            websocket
            or method in SAFE_METHODS
            or same_token(info.csrf_token, headers.get(CSRF_HEADER))
        ):
            state["creator_id"] = info.creator_id
