"""Conversations: what the AI said, per channel and per fan, searchable; flag a reply as
"not me" (it joins the creator's evaluation set)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from channels import takeover
from channels.console import history, naming
from channels.console.settings_forms import CHANNEL_NAMES
from channels.console.web import FormViewerDep, ViewerDep, redirect, render
from channels.deps import PlatformDep, RowIdPath
from channels.inbox.outbox import WAKE_OUTBOX
from channels.services import Platform

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 30
ALL_CHANNELS = {**CHANNEL_NAMES, "api": "API"}


@router.get("/conversations")
async def conversations_page(
    request: Request,
    viewer: ViewerDep,
    services: PlatformDep,
    channel: Annotated[str, Query(max_length=16)] = "",
    fan: Annotated[str, Query(max_length=200)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    channel = channel if channel in ALL_CHANNELS else ""
    rows, total = await run_in_threadpool(
        lambda: history.list_conversations(
            services.db,
            viewer.creator_id,
            channel=channel or None,
            fan=fan.strip() or None,
            q=q.strip() or None,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    )
    return render(
        request,
        "conversations.html",
        {
            "title": "Conversations",
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": {"channel": channel, "fan": fan, "q": q},
            "channels": ALL_CHANNELS,
        },
        viewer,
    )


@router.get("/conversations/{conversation_id}")
async def conversation_page(
    request: Request, conversation_id: RowIdPath, viewer: ViewerDep, services: PlatformDep
) -> Response:
    detail = await run_in_threadpool(
        history.get_conversation, services.db, viewer.creator_id, conversation_id
    )
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such conversation")
    held = await run_in_threadpool(
        takeover.taken_over, services.db, viewer.creator_id, conversation_id
    )
    return render(
        request,
        "conversation.html",
        {
            "title": f"Conversation with {naming.person(detail.fan_handle, detail.fan_name)}",
            "conversation": detail,
            "channel_name": ALL_CHANNELS.get(detail.channel, detail.channel),
            "replyable": detail.channel in takeover.REPLYABLE,
            "taken_over": held,
        },
        viewer,
    )


@router.post("/conversations/{conversation_id}/take-over")
async def take_over(
    conversation_id: RowIdPath, viewer: FormViewerDep, services: PlatformDep
) -> Response:
    done = await run_in_threadpool(
        takeover.take_over, services.db, viewer.creator_id, conversation_id, datetime.now(UTC)
    )
    if not done:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such conversation")
    return redirect(f"/console/conversations/{conversation_id}", "taken_over")


@router.post("/conversations/{conversation_id}/hand-back")
async def hand_back(
    conversation_id: RowIdPath, viewer: FormViewerDep, services: PlatformDep
) -> Response:
    await run_in_threadpool(takeover.hand_back, services.db, viewer.creator_id, conversation_id)
    return redirect(f"/console/conversations/{conversation_id}", "handed_back")


@router.post("/conversations/{conversation_id}/reply")
async def reply_in_person(
    conversation_id: RowIdPath,
    viewer: FormViewerDep,
    services: PlatformDep,
    text: Annotated[str, Form(max_length=takeover.MAX_REPLY_CHARS)],
) -> Response:
    """The creator's own reply, through the outbox like an approved one. Only in a
    conversation taken over: the AI must not answer the same fan at the same time."""
    db, creator_id = services.db, viewer.creator_id
    if not await run_in_threadpool(takeover.taken_over, db, creator_id, conversation_id):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "take this conversation over before you write in it"
        )
    try:
        await run_in_threadpool(
            takeover.reply_by_hand,
            db,
            creator_id,
            conversation_id,
            text,
            datetime.now(UTC),
            services.settings.webhook_callback_urls,
        )
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such conversation") from None
    except takeover.CannotReply as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    services.hub.publish(WAKE_OUTBOX, {"conversation_id": conversation_id})
    return redirect(f"/console/conversations/{conversation_id}", "sent_by_hand")


@router.post("/messages/{message_id}/flag")
async def flag_reply(
    message_id: RowIdPath,
    viewer: FormViewerDep,
    services: PlatformDep,
    note: Annotated[str, Form(max_length=history.MAX_NOTE_CHARS)] = "",
    better: Annotated[str, Form(max_length=history.MAX_BETTER_CHARS)] = "",
) -> Response:
    flag = await run_in_threadpool(
        history.flag_not_me,
        services.db,
        viewer.creator_id,
        message_id,
        note,
        better,
        datetime.now(UTC),
    )
    if flag is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such reply")
    return redirect(
        await _back_to(services, viewer.creator_id, message_id),
        "flagged",
        fragment=f"m{message_id}",
    )


@router.post("/messages/{message_id}/unflag")
async def unflag_reply(
    message_id: RowIdPath, viewer: FormViewerDep, services: PlatformDep
) -> Response:
    removed = await run_in_threadpool(history.unflag, services.db, viewer.creator_id, message_id)
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such flag")
    return redirect(
        await _back_to(services, viewer.creator_id, message_id),
        "unflagged",
        fragment=f"m{message_id}",
    )


async def _back_to(services: Platform, creator_id: str, message_id: int) -> str:
    conversation_id = await run_in_threadpool(
        history.conversation_of_message, services.db, creator_id, message_id
    )
    return f"/console/conversations/{conversation_id}" if conversation_id else "/console/flags"


@router.get("/flags")
async def flags_page(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    flags = await run_in_threadpool(history.list_flags, services.db, viewer.creator_id)
    return render(request, "flags.html", {"title": "Not me", "flags": flags}, viewer)
