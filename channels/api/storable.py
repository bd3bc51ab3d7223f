"""Refuse text no store can keep, before any handler sees it: NUL characters (PostgreSQL's
text type rejects them) and lone surrogates (not valid Unicode, so not valid UTF-8).

One ASGI middleware covers every route, present and future: the path, the query string, and
form or JSON bodies whatever their declared content type (the webhooks parse `text/plain` or
untyped bodies as JSON themselves). The answer is a 422 in FastAPI's own validation-error
shape, so it matches the response every operation with parameters declares. Multipart
bodies (photo uploads) carry binary files and are left to their handlers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse

from channels.api import safejson
from channels.api.safejson import unstorable

# JSON escapes that may decode to a NUL or a surrogate; without one, a JSON body cannot hold
# either (raw NUL bytes and raw surrogates are invalid JSON / invalid UTF-8 already).
_SUSPICIOUS_JSON = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
# Bodies larger than this are passed on unchecked (the body limit keeps every route but the
# uploads below it, and the database refusing a value is still a 422: handle_data_errors).
MAX_CHECKED_BODY = 1 << 20
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def problems_in_url(scope: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    problem = unstorable(scope.get("path", ""))
    if problem:
        found.append((("path",), problem))
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                found.append((("query", name.replace("\x00", "\\x00")), _NUL))
        if not found:
            found.append((("query",), _NUL))
    return found


_NUL = "text must not contain NUL characters"


def problems_in_body(content_type: str, body: bytes) -> list[tuple[tuple[str | int, ...], str]]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return [(("body",), _NUL)] if b"%00" in body or b"\x00" in body else []
    if not _SUSPICIOUS_JSON.search(body):
        return []
    try:
        value = safejson.loads(body, storable=False)
    except safejson.JSONInputError:
        return []  # not JSON we read: the handler answers that itself
    return list(safejson.unstorable_strings(value, ("body",)))


def validation_error(problems: list[tuple[tuple[str | int, ...], str]]) -> JSONResponse:
    detail = [
        {"loc": list(loc), "msg": msg, "type": "string_not_storable"} for loc, msg in problems
    ]
    return JSONResponse({"detail": detail}, status_code=422)


class StorableTextMiddleware:
    def __init__(self, app: Any, max_body: int = MAX_CHECKED_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = problems_in_url(scope)
        if problems:
            await validation_error(problems)(scope, receive, send)
            return
        content_type = ""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.decode("latin-1")
                break
        if content_type.lower().startswith("multipart/") or scope.get("method") in _NO_BODY:
            await self.app(scope, receive, send)
            return
        # Read the body (up to the limit), check it, then hand the same messages on.
        buffered: list[dict[str, Any]] = []
        size, complete = 0, False
        while size <= self.max_body:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                complete = True
                break
        if complete:
            body = b"".join(m.get("body", b"") for m in buffered)
            problems = problems_in_body(content_type, body)
            if problems:
                await validation_error(problems)(scope, receive, send)
                return

        async def replay() -> dict[str, Any]:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)
