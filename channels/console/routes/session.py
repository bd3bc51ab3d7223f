"""Signing in and out, the kill switch (on every page), the overview, and static assets."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from channels.api.https import served_over_https
from channels.console.auth import (
    SignInBusy,
    SignInRefused,
    client_key,
    same_token,
    sign_in,
    sign_out,
)
from channels.console.middleware import SESSION_COOKIE, cookie_value
from channels.console.models import ReplyFlag
from channels.console.web import (
    STATIC_DIR,
    FormViewerDep,
    ViewerDep,
    redirect,
    render,
    safe_console_path,
    session_of,
)
from channels.deps import CREATOR_ID_PATTERN, PlatformDep
from channels.inbox import store as inbox_store
from channels.inbox.models import ReplyStatus
from persona.settings import CreatorSettings
from persona.store import Conversation, Creator, Message, Post, VoiceEval

if TYPE_CHECKING:
    from channels.services import Platform

router = APIRouter(prefix="/console", include_in_schema=False)

LOGIN_COOKIE = "persona_console_login"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@router.get("/static/{name}")
def console_static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if path.suffix not in STATIC_TYPES or path.parent != STATIC_DIR or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# -- sign in / out ---------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    # https at the client, not on the last hop: PERSONA_PUBLIC_URL or a trusted proxy's word.
    return served_over_https(request)


def _login_page(
    request: Request, next_path: str, error: str | None = None, creator_id: str = ""
) -> Response:
    # Double-submit token against login CSRF (being signed in to someone else's account).
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"next": next_path, "error": error, "login_token": token, "creator_id": creator_id},
        status_code=status.HTTP_401_UNAUTHORIZED if error else status.HTTP_200_OK,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console/login",
        max_age=3600,
    )
    return response


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + "."


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if session_of(request) is not None:
        return redirect(safe_console_path(next))
    return _login_page(request, safe_console_path(next))


@router.post("/login")
async def login(
    request: Request,
    services: PlatformDep,
    creator_id: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console",
    login_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    next_path = safe_console_path(next)
    creator_id = creator_id.strip().lower().lstrip("@")
    if not same_token(cookie_value(dict(request.headers), LOGIN_COOKIE) or "", login_token):
        return _login_page(
            request, next_path, "This page was open too long: please sign in again.", creator_id
        )
    if not re.match(CREATOR_ID_PATTERN, creator_id) or not password:
        return _login_page(request, next_path, "Enter your creator id and password.", creator_id)
    config = request.app.state.console_auth
    client = client_key(request.client.host if request.client else None)
    try:
        signed = await run_in_threadpool(
            sign_in, services.db, creator_id, password, datetime.now(UTC), config, client
        )
    except SignInBusy as exc:
        page = _login_page(request, next_path, _sentence(str(exc)), creator_id)
        page.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    except SignInRefused as exc:
        return _login_page(request, next_path, _sentence(str(exc)), creator_id)
    response = redirect(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
        max_age=config.session_max_s,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: FormViewerDep, services: PlatformDep) -> Response:
    info = session_of(request)
    if info is not None:
        await run_in_threadpool(sign_out, services.db, info.token_sha256)
    response = redirect("/console/login", "signed_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- kill switch -----------------------------------------------------------------------------


def _set_paused(services: Platform, creator_id: str, paused: bool) -> None:
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is not None:
            current = CreatorSettings.from_stored(creator.settings, lenient=True)
            creator.settings = current.with_changes(paused=paused).to_stored()


@router.post("/pause")
async def pause(
    viewer: FormViewerDep,
    services: PlatformDep,
    back: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    """The kill switch: one click, every channel stops answering at once."""
    await run_in_threadpool(_set_paused, services, viewer.creator_id, True)
    return redirect(safe_console_path(back), "paused")


@router.post("/resume")
async def resume(
    viewer: FormViewerDep,
    services: PlatformDep,
    back: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    await run_in_threadpool(_set_paused, services, viewer.creator_id, False)
    return redirect(safe_console_path(back), "resumed")


# -- overview --------------------------------------------------------------------------------


def _overview(services: Platform, creator_id: str) -> dict[str, Any]:
    with services.db.session() as session:
        posts = session.scalar(select(func.count(Post.id)).where(Post.creator_id == creator_id))
        conversations = session.scalar(
            select(func.count(Conversation.id)).where(Conversation.creator_id == creator_id)
        )
        ai_replies = session.scalar(
            select(func.count(Message.id))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.creator_id == creator_id, Message.role == "ai")
        )
        flags = session.scalar(
            select(func.count(ReplyFlag.id)).where(ReplyFlag.creator_id == creator_id)
        )
        latest_eval = session.scalars(
            select(VoiceEval)
            .where(VoiceEval.creator_id == creator_id)
            .order_by(VoiceEval.created_at.desc())
            .limit(1)
        ).first()
        score = latest_eval.attribution if latest_eval and latest_eval.attribution >= 0 else None
    return {
        "posts": posts or 0,
        "conversations": conversations or 0,
        "ai_replies": ai_replies or 0,
        "flags": flags or 0,
        "held": inbox_store.list_replies(services.db, creator_id, [ReplyStatus.HELD], 0, 1)[1],
        "score": score,
    }


@router.get("")
async def overview(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    counts = await run_in_threadpool(_overview, services, viewer.creator_id)
    return render(request, "overview.html", {"counts": counts, "title": "Overview"}, viewer)


@router.get("/counters")
async def counters(viewer: ViewerDep, services: PlatformDep) -> JSONResponse:
    """The overview's numbers, polled by its page so they move while it is open."""
    counts = await run_in_threadpool(_overview, services, viewer.creator_id)
    return JSONResponse(counts, headers={"Cache-Control": "no-store"})
