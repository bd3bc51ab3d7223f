"""One request-body limit for every route, enforced before anything parses a body.

FastAPI parses form and file parameters before it runs any dependency (authentication
included), and Starlette spools a multipart file to disk as it arrives: without a limit, an
anonymous client could stream hundreds of megabytes into a temp file before being told who
it is. This ASGI middleware, outside the routes, therefore:

- picks the limit by route template: `default_bytes` for every route, more only for the
  routes listed (the uploads);
- on routes with a `gate` (the uploads), authenticates first, from the headers alone, so an
  anonymous request is answered 401 with its body unread;
- refuses a declared Content-Length over the limit with 413, unread;
- counts the bytes of a body as they stream (chunked bodies have no Content-Length) and cuts
  the request off with 413 at the first chunk over the limit, whatever the app was doing.

Every 413 says `Connection: close`: the server then stops reading the rest of the upload.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from channels.services import Platform

DEFAULT_MAX_BODY_BYTES = 1 << 20
# Room for a multipart body's boundaries and part headers (per part), and small form fields.
MULTIPART_PART_OVERHEAD = 4 * 1024
MULTIPART_FIELDS_OVERHEAD = 64 * 1024

# (scope, path parameters) -> a response to send instead of running the app, or None.
Gate = Callable[[Scope, dict[str, str]], Awaitable[Response | None]]


def multipart_budget(files: int, file_bytes: int) -> int:
    """The largest multipart body that carries `files` files of up to `file_bytes` each."""
    return files * (file_bytes + MULTIPART_PART_OVERHEAD) + MULTIPART_FIELDS_OVERHEAD


@dataclass(frozen=True, slots=True)
class RouteLimit:
    method: str
    path: str  # a route template, as the router has it: /api/creators/{creator_id}/...
    max_bytes: int
    gate: Gate | None = None


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit. An HTTPException, so that code
    that re-raises those (FastAPI's body parsing) does not turn it into a 400; the
    middleware answers 413 whatever the app makes of it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"the request body is over this route's limit of {limit} bytes"


def too_large(limit: int) -> Response:
    return JSONResponse(
        {"detail": too_large_message(limit)}, status_code=413, headers={"Connection": "close"}
    )


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        default_bytes: int = DEFAULT_MAX_BODY_BYTES,
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.routes: list[tuple[RouteLimit, re.Pattern[str]]] = [
            (route, compile_path(route.path)[0]) for route in routes
        ]

    def route_for(self, method: str, path: str) -> tuple[RouteLimit | None, dict[str, str]]:
        for route, pattern in self.routes:
            match = pattern.match(path)
            if match and route.method == method:
                return route, match.groupdict()
        return None, {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, params = self.route_for(scope["method"], scope["path"])
        limit = route.max_bytes if route is not None else self.default_bytes
        if route is not None and route.gate is not None:
            refusal = await route.gate(scope, params)
            if refusal is not None:
                # Nothing of the body was read; close rather than drain it.
                refusal.headers["Connection"] = "close"
                await refusal(scope, receive, send)
                return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(limit)(scope, receive, send)
            return
        await _Limited(self.app, limit)(scope, receive, send)


class _Limited:
    """One request: counts its body and takes over the answer once it is too large."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.received = 0
        self.exceeded = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            if self.exceeded:
                raise BodyTooLarge(self.limit)
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    self.exceeded = True
                    raise BodyTooLarge(self.limit)
            return message

        async def guarded(message: Message) -> None:
            if self.exceeded and not self.started:
                return  # the app's answer to a cut-off body; ours follows
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            # The app may wrap or re-raise the cut-off as it likes (an ExceptionGroup from a
            # task group, say): the flag, not the exception's type, says what happened.
            if not self.exceeded or self.started:
                raise
        if self.exceeded and not self.started:
            await too_large(self.limit)(scope, receive, send)


async def creator_gate(scope: Scope, params: dict[str, str]) -> Response | None:
    """The creator API's authentication (an API token or the console's session), run before
    the body is read. The route's own dependency checks again; this only keeps anonymous
    and wrong-token uploads from being spooled."""
    from fastapi.security import HTTPAuthorizationCredentials
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request

    from channels.deps import authenticated_creator

    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    services: Platform = scope["app"].state.services
    try:
        await run_in_threadpool(
            authenticated_creator, services, params["creator_id"], credentials, Request(scope)
        )
    except HTTPException as exc:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return None
