"""The interactive space: a page where a fan chats with a creator's AI double, and its
websocket. Thin transport; the work is in `connection.py`."""

from __future__ import annotations

import asyncio
import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, WebSocket, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from channels.api.https import served_over_https
from channels.api.safejson import JSONInputError, loads
from channels.capacity import Refusal, client_address
from channels.console.middleware import cross_site
from channels.deps import PlatformDep
from channels.services import Platform
from channels.space.connection import (
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    VISITOR_ID,
    SpaceConnection,
    refuse,
    space_registry,
)
from channels.space.creator_info import load_space_creator, studio_picture
from channels.space.fan_cookie import FAN_COOKIE, fan_cookies, new_visitor_id
from channels.space.protocol import ErrorCode
from persona.engine import Channel, fan_key
from persona.engine.types import SPACE_FANS
from persona.store import Conversation

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(tags=["space"])


@cache
def _asset_version(name: str) -> str:
    # Content hash in the URL: browsers may cache assets for long and still get new versions.
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def _asset_url(request: Request, name: str) -> str:
    root = request.scope.get("root_path", "")
    return f"{root}/space/static/{name}?v={_asset_version(name)}"


def _page_headers(request: Request) -> dict[str, str]:
    host = request.headers.get("host", "")
    ws_origin = f"{'wss' if request.url.scheme == 'https' else 'ws'}://{host}" if host else ""
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' https: http: data:; "
        f"connect-src 'self' {ws_origin}; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@router.get("/space/static/{name}", include_in_schema=False)
def space_static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if path.suffix not in STATIC_TYPES or path.parent != STATIC_DIR or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/space/{creator_id}/picture", include_in_schema=False)
async def space_picture(creator_id: str, services: PlatformDep) -> FileResponse:
    """The creator's profile picture from the avatar studio, public like their space."""
    creator = await asyncio.to_thread(load_space_creator, services, creator_id)
    path = await asyncio.to_thread(studio_picture, services, creator_id) if creator else None
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no picture")
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/space/{creator_id}", response_class=HTMLResponse)
async def space_page(creator_id: str, request: Request, services: PlatformDep) -> HTMLResponse:
    creator = await asyncio.to_thread(load_space_creator, services, creator_id)
    assets = {"css": _asset_url(request, "space.css"), "js": _asset_url(request, "space.js")}
    if creator is None:
        return templates.TemplateResponse(
            request,
            "not_found.html",
            {"creator_id": creator_id, "assets": assets},
            status_code=status.HTTP_404_NOT_FOUND,
            headers=_page_headers(request),
        )
    root = request.scope.get("root_path", "")
    cookies = fan_cookies(request.app)
    visitor_id = cookies.read(request.cookies.get(FAN_COOKIE))
    response = templates.TemplateResponse(
        request,
        "space.html",
        {
            "creator": creator,
            "assets": assets,
            "ws_path": f"{root}/ws/space/{creator.id}",
            "fan_path": f"{root}/space/{creator.id}/fan",
            # A new cookie: the page offers the id an older version kept in localStorage.
            "new_fan": visitor_id is None,
            "max_chars": space_registry(request.app).limits.max_message_chars,
        },
        headers={**_page_headers(request), "Cache-Control": "no-store"},
    )
    # Re-signed on every visit: the cookie expires 180 days after the fan's last visit.
    cookies.set(response, visitor_id or new_visitor_id(), served_over_https(request))
    return response


def _has_space_history(services: Platform, visitor_id: str) -> bool:
    key = fan_key(SPACE_FANS, visitor_id)
    with services.db.session() as session:
        found = session.scalar(
            select(Conversation.id)
            .where(Conversation.channel == str(Channel.SPACE), Conversation.external_id == key)
            .limit(1)
        )
    return found is not None


@router.post("/space/{creator_id}/fan", include_in_schema=False)
async def adopt_visitor(creator_id: str, request: Request, services: PlatformDep) -> JSONResponse:
    """Moves a fan from the visitor id that earlier pages kept in localStorage to the signed
    cookie, so their chats stay theirs. Same-origin JSON only (another site must not set a
    fan's cookie to an id it knows), and only an id that has chatted in the space."""
    if cross_site(dict(request.headers)) or "origin" not in request.headers:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the space's own page may do this")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send JSON")
    try:
        body = loads(await request.body())
    except JSONInputError as exc:
        raise HTTPException(exc.status_code, str(exc)) from None
    legacy = body.get("visitor") if isinstance(body, dict) else None
    if not isinstance(legacy, str) or not VISITOR_ID.match(legacy):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "visitor: 8-64 letters, digits, '-' or '_'",
        )
    if not await asyncio.to_thread(_has_space_history, services, legacy):
        return JSONResponse({"adopted": False})
    response = JSONResponse({"adopted": True})
    fan_cookies(request.app).set(response, legacy, served_over_https(request))
    return response


def _socket_visitor(websocket: WebSocket) -> str | None:
    """The fan: the signed cookie's visitor when the page is this site's (a websocket
    handshake from another site carries the cookie too), else `?visitor=ID`, which scripts
    and tests may use (a browser whose cookies are blocked gets an id for that page only)."""
    headers = dict(websocket.headers)
    if not cross_site(headers):
        visitor_id = fan_cookies(websocket.app).read(websocket.cookies.get(FAN_COOKIE))
        if visitor_id is not None:
            return visitor_id
    given = websocket.query_params.get("visitor", "")
    return given if VISITOR_ID.match(given) else None


@router.websocket("/ws/space/{creator_id}")
async def space_socket(websocket: WebSocket, creator_id: str, services: PlatformDep) -> None:
    visitor_id = _socket_visitor(websocket)
    if visitor_id is None:
        await refuse(
            websocket,
            ErrorCode.BAD_VISITOR,
            "this chat lost its cookie: reload the page (scripts: connect with ?visitor=ID, "
            "8-64 letters, digits, '-' or '_')",
            CLOSE_POLICY,
        )
        return
    creator = await asyncio.to_thread(load_space_creator, services, creator_id)
    if creator is None:
        await refuse(
            websocket, ErrorCode.UNKNOWN_CREATOR, "this creator's space is not open", CLOSE_POLICY
        )
        return
    registry = space_registry(websocket.app)
    client = client_address(websocket)
    refusal = registry.join(creator.id, client)
    if refusal is Refusal.CREATOR_FULL:
        await refuse(
            websocket,
            ErrorCode.FULL,
            f"{creator.display_name}'s space is full right now; try again in a minute",
            CLOSE_TRY_LATER,
        )
        return
    if refusal is Refusal.CLIENT_FULL:
        await refuse(
            websocket,
            ErrorCode.TOO_MANY_CHATS,
            "too many chats are open from your network; close one and try again",
            CLOSE_TRY_LATER,
        )
        return
    try:
        await websocket.accept()
        await SpaceConnection(websocket, services, creator, visitor_id, registry).run()
    finally:
        registry.leave(creator.id, client)
