"""Live-stream transport (thin): the chat feed in, the answers and top questions out, stats.

- `WS /ws/live/{creator_id}/{stream_id}/in`: the platform's chat feed, authenticated with the
  creator's API token (`Authorization: Bearer`; `?token=` for clients that cannot send
  headers, redacted from our logs but not from a proxy's); each frame is one message or an
  array of them, each acknowledged with `{"ack": last_id, "accepted": n, ...}`.
- `WS /ws/live/{creator_id}/{stream_id}/out`: public, for the stream's viewers: answers and the
  running top-questions view (display names only).
- `GET /api/creators/{creator_id}/live[/{stream_id}/stats]`: counters, dropped by reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, WebSocket, status
from starlette.websockets import WebSocketDisconnect, WebSocketState

from channels.auth_tokens import TokenRejected, authenticate_creator
from channels.capacity import Refusal, client_address
from channels.deps import (
    CREATOR_ID_PATTERN,
    CreatorDep,
    HubDep,
    LiveDep,
    PlatformDep,
)
from channels.live.manager import LiveCapacityError, LiveManager
from channels.live.metrics import DROP_REASONS
from channels.live.topics import topic

if TYPE_CHECKING:
    from channels.services import Platform

STREAM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

router = APIRouter(tags=["live"])

CreatorId = Annotated[str, Path(pattern=CREATOR_ID_PATTERN)]
StreamId = Annotated[str, Path(pattern=STREAM_ID_PATTERN)]


def _token(websocket: WebSocket, query_token: str | None) -> str | None:
    # The header first: a query string ends up in access logs.
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query_token or None


def _token_problem(services: Platform, creator_id: str, token: str | None) -> str | None:
    """None when the token is the creator's; otherwise what is wrong and how to fix it."""
    if not token:
        return (
            "missing API token: send 'Authorization: Bearer <token>' (or ?token=...) "
            "(create one with `persona token CREATOR`)"
        )
    try:
        authenticate_creator(services.db, creator_id, token)
    except TokenRejected:
        return "this token does not belong to that creator"
    return None


@router.websocket("/ws/live/{creator_id}/{stream_id}/in")
async def live_in(
    websocket: WebSocket,
    creator_id: CreatorId,
    stream_id: StreamId,
    services: PlatformDep,
    manager: LiveDep,
    token: Annotated[str | None, Query()] = None,
) -> None:
    problem = await asyncio.to_thread(
        _token_problem, services, creator_id, _token(websocket, token)
    )
    # Accept first so that the close frame can say what is wrong.
    await websocket.accept()
    if problem is not None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=problem)
        return
    try:
        stream = manager.open(creator_id, stream_id)
    except LiveCapacityError as exc:
        await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER, reason=str(exc)[:120])
        return
    stream.feed_opened()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            # Intake is synchronous and quick: the ack goes back before the next frame is read,
            # once the frame's paid messages are committed (channels.live.paid).
            ack = stream.intake_frame(raw)
            await stream.paid_stored()
            await websocket.send_text(ack.model_dump_json(exclude_none=True))
    except WebSocketDisconnect:
        pass
    finally:
        stream.feed_closed()


# Close codes of a viewer socket: 1013 (try again later) over a cap, 1001 (going away) when
# idle on a stream that is not running.
CLOSE_TRY_LATER = 1013
CLOSE_IDLE = 1001


class _Viewer:
    """One output connection: forwards hub events, and ends when the client leaves, or when
    its stream is not running here and nothing was published for the idle timeout."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def _until_disconnect(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    async def run(self, manager: LiveManager, creator_id: str, stream_id: str) -> None:
        hub = manager.services.hub
        idle_s = manager.config.viewer_idle_timeout_s
        async with hub.subscribe(topic(creator_id, stream_id)) as subscription:
            for event in manager.replay(creator_id, stream_id):
                await self.websocket.send_json(event)
            leaving = asyncio.create_task(self._until_disconnect())
            getting: asyncio.Task[Any] | None = None
            last_event = time.monotonic()
            try:
                while True:
                    if getting is None:
                        getting = asyncio.create_task(subscription.get())
                    # Woken at least every idle_s / 4 to look whether the stream still runs.
                    await asyncio.wait(
                        {getting, leaving},
                        timeout=idle_s / 4,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if leaving.done():
                        return
                    if getting.done():
                        await self.websocket.send_json(getting.result())
                        getting = None
                        last_event = time.monotonic()
                    elif manager.running(creator_id, stream_id):
                        last_event = time.monotonic()
                    elif time.monotonic() - last_event >= idle_s:
                        # Another worker's stream still publishes here (the hub is shared).
                        await self.websocket.close(
                            code=CLOSE_IDLE, reason="this stream is not running"
                        )
                        return
            finally:
                for task in (getting, leaving):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                            await task


@router.websocket("/ws/live/{creator_id}/{stream_id}/out")
async def live_out(
    websocket: WebSocket, creator_id: CreatorId, stream_id: StreamId, manager: LiveDep
) -> None:
    client = client_address(websocket)
    # Accept first so that the close frame can say why.
    await websocket.accept()
    refusal = manager.viewers.take(creator_id, client)
    if refusal is not None:
        reason = (
            "too many viewers on this creator's streams right now; try again later"
            if refusal is Refusal.CREATOR_FULL
            else "too many live connections from your network; close one and try again"
        )
        await websocket.close(code=CLOSE_TRY_LATER, reason=reason)
        return
    try:
        await _Viewer(websocket).run(manager, creator_id, stream_id)
    except WebSocketDisconnect:
        pass
    finally:
        manager.viewers.give_back(creator_id, client)
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await websocket.close()


@router.get("/api/creators/{creator_id}/live")
async def live_streams(creator_id: CreatorDep, manager: LiveDep) -> dict[str, Any]:
    """The creator's running and recently ended streams, with their counters (async: the
    streams live on the event loop, not in the thread pool)."""
    return {"streams": manager.streams(creator_id), "drop_reasons": DROP_REASONS}


@router.get("/api/creators/{creator_id}/live/{stream_id}/stats")
async def live_stats(
    creator_id: CreatorDep, stream_id: StreamId, manager: LiveDep, hub: HubDep
) -> dict[str, Any]:
    """Counters of one stream: received = answered + merged + dropped + pending."""
    stats = manager.stats(creator_id, stream_id)
    if stats is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "no such live stream: it starts when its feed connects to "
            f"/ws/live/{creator_id}/{stream_id}/in",
        )
    stats["viewers"] = hub.subscribers(topic(creator_id, stream_id))
    return stats
