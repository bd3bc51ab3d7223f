"""HTTP and websocket routes of the platform integration (thin: the logic lives beside it).

- `POST /webhooks/{platform}`: signed events from a social platform;
- `WS /ws/creators/{creator_id}/replies`: replies as they are delivered;
- `/api/creators/{creator_id}/...`: channel policies and kill switches, presence, the
  approval queue, the outbox and the inbox (creator auth on each).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Body,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from channels.api import safejson
from channels.api.protocol import Page
from channels.auth_tokens import TokenRejected, authenticate_creator
from channels.deps import (
    CREATOR_ID_PATTERN,
    CreatorDep,
    OffsetQuery,
    PlatformDep,
    RowIdPath,
)
from channels.inbox import approvals, store, webhooks
from channels.inbox.config import InboxConfig
from channels.inbox.models import EventStatus, InboxEvent, ReplyStatus
from channels.inbox.outbox import WAKE_OUTBOX, replies_topic, reply_out
from channels.inbox.policy import (
    POLICY_MODELS,
    WAITING_FOR_OFFLINE,
    ChannelPolicy,
    PolicyChannel,
    is_online,
    load_policy,
    presence_until,
)
from channels.inbox.protocol import (
    PLATFORM,
    ApproveIn,
    EventOut,
    PresenceIn,
    PresenceOut,
    RejectIn,
    ReplyOut,
    WebhookAck,
)
from channels.inbox.worker import WAKE_INBOX
from channels.services import Platform
from persona.settings import CreatorSettings
from persona.store import Creator

router = APIRouter()

PlatformPath = Annotated[str, Path(pattern=PLATFORM)]
# Seconds a websocket client has to authenticate with its first message.
WS_AUTH_TIMEOUT_S = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


# -- webhooks --------------------------------------------------------------------------------


@router.post(
    "/webhooks/{platform}",
    tags=["webhooks"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAck,
    responses={200: {"model": WebhookAck, "description": "already received (duplicate)"}},
)
async def webhook(platform: PlatformPath, request: Request, response: Response) -> WebhookAck:
    """Receive one signed event (dm, comment, group_message). 202 once it is stored."""
    # Not PlatformDep: the path's `platform` is the messaging platform's name.
    services: Platform = request.app.state.services
    # The group-commit writer the platform's inbox runs (only within the app's lifespan),
    # and the config the inbox was built with (validated once, not per webhook).
    handle = services.inbox
    writer = handle.intake if handle is not None and handle.started else None
    config = (
        handle.worker.config if handle is not None else InboxConfig.from_settings(services.settings)
    )
    intake = await webhooks.receive(services, config, platform, request, writer)
    response.status_code = intake.http_status
    # The writer wakes the workers once a batch (its on_commit).
    if writer is None and not intake.ack.duplicate:
        services.hub.publish(WAKE_INBOX, {"event_id": intake.ack.event_id})
    return intake.ack


# -- websocket -------------------------------------------------------------------------------


def _token_ok(services: Platform, creator_id: str, token: str) -> bool:
    try:
        authenticate_creator(services.db, creator_id, token)
    except TokenRejected:
        return False
    return True


async def _first_message_token(websocket: WebSocket) -> str | None:
    try:
        async with asyncio.timeout(WS_AUTH_TIMEOUT_S):  # not wait_for: channels/aio.py
            raw = await websocket.receive_text()
        message = safejson.loads(raw, what="the message")
    except (TimeoutError, safejson.JSONInputError, WebSocketDisconnect, KeyError):
        return None
    if isinstance(message, dict) and message.get("type") == "auth":
        token = message.get("token")
        return token if isinstance(token, str) else None
    return None


@router.websocket("/ws/creators/{creator_id}/replies")
async def replies_socket(
    websocket: WebSocket,
    creator_id: Annotated[str, Path(pattern=CREATOR_ID_PATTERN)],
    services: PlatformDep,
    token: str | None = None,
) -> None:
    """Replies of one creator as they go out. Authenticate with a first message
    `{"type": "auth", "token": "..."}` (keeps the token out of access logs; `?token=` works
    too, redacted from our logs but not from a proxy's). The server answers
    `{"type": "ready"}`, then sends `{"type": "reply", ...}` events."""
    await websocket.accept()
    session_creator = getattr(websocket.state, "creator_id", None)
    if session_creator != creator_id:
        token = token or await _first_message_token(websocket)
        if not token or not await run_in_threadpool(_token_ok, services, creator_id, token):
            await websocket.close(code=1008, reason="authenticate with this creator's API token")
            return
    async with services.hub.subscribe(replies_topic(creator_id)) as subscription:
        await websocket.send_json({"type": "ready", "creator_id": creator_id})

        async def pump() -> None:
            while True:
                await websocket.send_json(await subscription.get())

        async def listen() -> None:
            # Reads until the client leaves; answers pings so clients can check liveness.
            while True:
                raw = await websocket.receive_text()
                with contextlib.suppress(safejson.JSONInputError):
                    if safejson.loads(raw, what="the message") == {"type": "ping"}:
                        await websocket.send_json({"type": "pong"})

        tasks = [asyncio.create_task(pump()), asyncio.create_task(listen())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


# -- channel policies and kill switches ------------------------------------------------------

creators = APIRouter(prefix="/api/creators/{creator_id}", tags=["channels"])


def _settings_of(services: Platform, creator_id: str) -> CreatorSettings:
    snapshot = store.creator_snapshot(services.db, creator_id)
    if snapshot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown creator")
    return snapshot[1]


def _update_policy(
    services: Platform, creator_id: str, channel: PolicyChannel, change: Any
) -> tuple[ChannelPolicy, int]:
    """Apply `change` to the stored policy; a paused or disabled channel's unsent replies are
    cancelled at once. Returns the policy and how many replies were cancelled."""
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown creator")
        settings = CreatorSettings.from_stored(creator.settings, lenient=True)
        policy = change(settings.policy(channel))
        creator.settings = settings.with_policy(channel, policy).to_stored()
    cancelled = 0
    if policy.paused or not policy.enabled:
        cancelled = store.cancel_unsent(
            services.db,
            creator_id,
            str(channel),
            f"not sent: the {channel} channel is paused",
            _now(),
        )
    return policy, cancelled


@creators.get("/channels")
def list_policies(creator_id: CreatorDep, services: PlatformDep) -> dict[str, dict[str, Any]]:
    settings = _settings_of(services, creator_id)
    return {str(c): load_policy(settings, c).model_dump(mode="json") for c in PolicyChannel}


@creators.get("/channels/{channel}")
def get_policy(
    creator_id: CreatorDep, channel: PolicyChannel, services: PlatformDep
) -> dict[str, Any]:
    return load_policy(_settings_of(services, creator_id), channel).model_dump(mode="json")


@creators.put("/channels/{channel}")
def put_policy(
    creator_id: CreatorDep,
    channel: PolicyChannel,
    services: PlatformDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Replace the channel's policy; fields left out take their defaults."""
    try:
        policy = POLICY_MODELS[channel].model_validate(body)
    except ValidationError as exc:
        # FastAPI's own shape (loc, msg, type), as the schema's 422 response declares.
        detail = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False)
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    return _update_policy(services, creator_id, channel, lambda _: policy)[0].model_dump(
        mode="json"
    )


def _switch(services: Platform, creator_id: str, channel: PolicyChannel, paused: bool) -> dict:
    policy, cancelled = _update_policy(
        services, creator_id, channel, lambda p: p.model_copy(update={"paused": paused})
    )
    return {
        "creator_id": creator_id,
        "channel": str(channel),
        "paused": policy.paused,
        "cancelled_replies": cancelled,
    }


@creators.post("/channels/{channel}/pause")
def pause_channel(creator_id: CreatorDep, channel: PolicyChannel, services: PlatformDep) -> dict:
    """The channel's kill switch, effective at once: no new answers, and replies waiting for
    their delivery time are cancelled (held ones stay in the approval queue)."""
    return _switch(services, creator_id, channel, True)


@creators.post("/channels/{channel}/resume")
def resume_channel(creator_id: CreatorDep, channel: PolicyChannel, services: PlatformDep) -> dict:
    return _switch(services, creator_id, channel, False)


@creators.post("/presence", response_model=PresenceOut)
async def set_presence(
    creator_id: CreatorDep, body: PresenceIn, services: PlatformDep
) -> PresenceOut:
    """The creator is online (for `ttl_s`, renew to stay) or offline: channels set to
    `only_when_offline` wait while they are online, and answer as soon as they go offline."""
    now = _now()

    def save() -> CreatorSettings:
        until = now + timedelta(seconds=body.ttl_s) if body.online else None
        with services.db.session() as session:
            creator = session.get(Creator, creator_id)
            if creator is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown creator")
            settings = CreatorSettings.from_stored(creator.settings, lenient=True).with_presence(
                until
            )
            creator.settings = settings.to_stored()
        if not body.online:
            store.wake_waiting(services.db, creator_id, WAITING_FOR_OFFLINE, now)
        return settings

    settings = await run_in_threadpool(save)
    if not body.online:
        services.hub.publish(WAKE_INBOX, {"creator_id": creator_id})
    return PresenceOut(
        creator_id=creator_id,
        online=is_online(settings, now),
        online_until=presence_until(settings),
    )


# -- approvals -------------------------------------------------------------------------------


def _page(
    services: Platform, creator_id: str, statuses: list[str], offset: int, limit: int
) -> Page[ReplyOut]:
    rows, total = store.list_replies(services.db, creator_id, statuses, offset, limit)
    return Page(items=[reply_out(r) for r in rows], total=total, offset=offset, limit=limit)


@creators.get("/approvals", response_model=Page[ReplyOut])
def list_approvals(
    creator_id: CreatorDep,
    services: PlatformDep,
    offset: OffsetQuery = 0,
    limit: int = Query(50, ge=1, le=200),
) -> Page[ReplyOut]:
    """Replies waiting for the creator, oldest first."""
    return _page(services, creator_id, [ReplyStatus.HELD], offset, limit)


def _decide(action: Any, *args: Any) -> ReplyOut:
    try:
        return reply_out(action(*args))
    except approvals.DecisionError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@creators.post("/approvals/{reply_id}/approve", response_model=ReplyOut)
async def approve(
    creator_id: CreatorDep,
    reply_id: RowIdPath,
    services: PlatformDep,
    body: ApproveIn | None = None,
) -> ReplyOut:
    """Send the held reply now, as is or with the creator's edited text."""
    edited = body.text if body else None
    out = await run_in_threadpool(
        _decide, approvals.approve, services.db, creator_id, reply_id, edited, _now()
    )
    services.hub.publish(WAKE_OUTBOX, {"reply_id": reply_id})
    return out


@creators.post("/approvals/{reply_id}/reject", response_model=ReplyOut)
def reject(
    creator_id: CreatorDep,
    reply_id: RowIdPath,
    services: PlatformDep,
    body: RejectIn | None = None,
) -> ReplyOut:
    return _decide(
        approvals.reject, services.db, creator_id, reply_id, body.reason if body else "", _now()
    )


# -- outbox and inbox ------------------------------------------------------------------------


@creators.get("/outbox", response_model=Page[ReplyOut])
def list_outbox(
    creator_id: CreatorDep,
    services: PlatformDep,
    status_: Annotated[list[ReplyStatus] | None, Query(alias="status")] = None,
    offset: OffsetQuery = 0,
    limit: int = Query(50, ge=1, le=200),
) -> Page[ReplyOut]:
    """Replies by status (e.g. `?status=dead` for the dead letters)."""
    return _page(services, creator_id, [str(s) for s in status_ or []], offset, limit)


@creators.post("/outbox/{reply_id}/retry", response_model=ReplyOut)
async def retry_dead(
    creator_id: CreatorDep, reply_id: RowIdPath, services: PlatformDep
) -> ReplyOut:
    """Give a dead-lettered reply a fresh set of delivery attempts."""

    def revive() -> ReplyOut:
        reply = store.get_reply(services.db, creator_id, reply_id)
        if reply is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reply {reply_id}")
        if not store.update_reply(
            services.db,
            reply_id,
            ReplyStatus.DEAD,
            status=ReplyStatus.PENDING,
            attempts=0,
            next_attempt_at=_now(),
            last_error="",
        ):
            raise HTTPException(status.HTTP_409_CONFLICT, f"reply {reply_id} is not dead")
        return reply_out(store.get_reply(services.db, creator_id, reply_id) or reply)

    out = await run_in_threadpool(revive)
    services.hub.publish(WAKE_OUTBOX, {"reply_id": reply_id})
    return out


def _event_out(event: InboxEvent) -> EventOut:
    return EventOut(
        event_id=event.id,
        platform=event.platform,
        message_id=event.message_id,
        channel=event.channel,
        thread=event.thread_key,
        fan_id=event.fan_id,
        text=event.text,
        status=event.status,
        reason=event.reason,
        attempts=event.attempts,
        received_at=store.utc(event.received_at),
        decided_at=store.utc(event.decided_at),
    )


@creators.get("/inbox", response_model=Page[EventOut])
def list_inbox(
    creator_id: CreatorDep,
    services: PlatformDep,
    status_: Annotated[list[EventStatus] | None, Query(alias="status")] = None,
    offset: OffsetQuery = 0,
    limit: int = Query(50, ge=1, le=200),
) -> Page[EventOut]:
    """Inbound messages, newest first, with what was decided and why."""
    rows, total = store.list_events(
        services.db, creator_id, [str(s) for s in status_ or []], offset, limit
    )
    return Page(items=[_event_out(e) for e in rows], total=total, offset=offset, limit=limit)


router.include_router(creators)
