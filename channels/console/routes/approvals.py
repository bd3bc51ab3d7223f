"""The approval queue: replies held for the creator, with the fan's message and its context;
approve as is, edit and approve, or reject. Decisions go through the inbox's own
`channels.inbox.approvals` (the same rules as its JSON API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from channels.console import naming
from channels.console.settings_forms import CHANNEL_NAMES
from channels.console.web import FormViewerDep, Viewer, ViewerDep, redirect, render
from channels.deps import PlatformDep, RowIdPath
from channels.inbox import approvals
from channels.inbox import store as inbox_store
from channels.inbox.models import InboxEvent, ReplyStatus
from channels.inbox.outbox import WAKE_OUTBOX
from persona.store import Message

if TYPE_CHECKING:
    from channels.services import Platform

router = APIRouter(prefix="/console", include_in_schema=False)

CONTEXT_TURNS = 6


@dataclass(frozen=True, slots=True)
class HeldReply:
    id: int
    channel: str
    channel_name: str
    platform: str
    fan: str
    fan_message: str
    received_at: datetime | None
    text: str
    label: str
    category: str
    review_reason: str
    # The post a comment answers, or the group's name.
    where: str
    context: list[tuple[str, str]]


def _context(
    session: Any, conversation_id: int | None, before_id: int | None
) -> list[tuple[str, str]]:
    """The thread's turns before the held exchange (fan message + held reply excluded)."""
    if conversation_id is None:
        return []
    query = select(Message.role, Message.text).where(Message.conversation_id == conversation_id)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = session.execute(query.order_by(Message.id.desc()).limit(CONTEXT_TURNS + 1)).all()
    # The newest fan message is the one being answered: it is shown on its own.
    turns = [(role, text) for role, text in reversed(rows)]
    if turns and turns[-1][0] == "fan":
        turns = turns[:-1]
    return turns[-CONTEXT_TURNS:]


def _where(event: InboxEvent | None) -> str:
    payload = (event.payload or {}) if event else {}
    post = payload.get("post") or {}
    if isinstance(post, dict) and post.get("caption"):
        return f"Comment on your post: “{str(post['caption'])[:300]}”"
    if payload.get("group_name"):
        return f"In the group “{str(payload['group_name'])[:100]}”"
    return ""


def held_replies(
    services: Platform, creator_id: str, limit: int = 50
) -> tuple[list[HeldReply], int]:
    rows, total = inbox_store.list_replies(services.db, creator_id, [ReplyStatus.HELD], 0, limit)
    held = []
    with services.db.session() as session:
        for reply in rows:
            event = session.get(InboxEvent, reply.event_id)
            handle = event.fan_handle if event else None
            # A space visitor's id is a random key: name them as the creator would.
            fan = event.fan_name or (f"@{handle}" if handle else None) if event else None
            fan = fan or naming.person(f"{reply.platform}:{reply.fan_id}")
            held.append(
                HeldReply(
                    id=reply.id,
                    channel=reply.channel,
                    channel_name=CHANNEL_NAMES.get(reply.channel, reply.channel),
                    platform=reply.platform,
                    fan=fan,
                    fan_message=event.text if event else "",
                    received_at=inbox_store.utc(event.received_at) if event else None,
                    text=reply.text,
                    label=reply.label,
                    category=reply.category,
                    review_reason=reply.review_reason,
                    where=_where(event),
                    context=_context(session, reply.conversation_id, reply.message_id),
                )
            )
    return held, total


async def _page(
    request: Request,
    viewer: Viewer,
    services: Platform,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    held, total = await run_in_threadpool(held_replies, services, viewer.creator_id)
    return render(
        request,
        "approvals.html",
        {"title": "Approvals", "held": held, "total": total, "error": error},
        viewer,
        status_code=status_code,
    )


@router.get("/approvals")
async def approvals_page(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    return await _page(request, viewer, services)


@router.post("/approvals/{reply_id}/approve")
async def approve(
    request: Request,
    reply_id: RowIdPath,
    viewer: FormViewerDep,
    services: PlatformDep,
    text: Annotated[str | None, Form(max_length=4000)] = None,
) -> Response:
    try:
        await run_in_threadpool(
            approvals.approve,
            services.db,
            viewer.creator_id,
            reply_id,
            text,
            datetime.now(UTC),
        )
    except approvals.DecisionError as exc:
        return await _page(request, viewer, services, str(exc), status_code=exc.status)
    services.hub.publish(WAKE_OUTBOX, {"reply_id": reply_id})
    return redirect("/console/approvals", "approved")


@router.post("/approvals/{reply_id}/reject")
async def reject(
    request: Request,
    reply_id: RowIdPath,
    viewer: FormViewerDep,
    services: PlatformDep,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        await run_in_threadpool(
            approvals.reject,
            services.db,
            viewer.creator_id,
            reply_id,
            reason.strip(),
            datetime.now(UTC),
        )
    except approvals.DecisionError as exc:
        return await _page(request, viewer, services, str(exc), status_code=exc.status)
    return redirect("/console/approvals", "rejected")
