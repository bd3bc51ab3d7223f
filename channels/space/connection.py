"""One fan's websocket in the interactive space: an object that owns its tasks and cancels
them when the fan leaves, plus the per-creator connection registry and the limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from channels.services import Services
from channels.space.creator_info import SpaceCreator
from channels.space.protocol import (
    ErrorCode,
    ErrorEvent,
    FinalEvent,
    ReadyEvent,
    TokenEvent,
    client_event_adapter,
    final_event,
)
from persona.engine import Channel, ReplyRequest, ReplyResult
from persona.engine.engine import CreatorNotFound

log = logging.getLogger(__name__)

# Visitor ids are made by the page (a random UUID kept in localStorage).
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

# Close codes: 1008 policy violation (bad request), 1013 try again later (full).
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013


@dataclass(frozen=True, slots=True)
class SpaceLimits:
    max_message_chars: int = 1000
    messages_per_minute: int = 12
    max_connections_per_creator: int = 100
    # A frame larger than this is refused before it is parsed.
    max_frame_chars: int = 16_384


Clock = Callable[[], float]


class RateWindow:
    """At most `limit` events in any `period` seconds (sliding window)."""

    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = self.clock()
        while self._times and now - self._times[0] >= self.period:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


class SpaceRegistry:
    """Counts live connections per creator in this process (one registry per app)."""

    def __init__(self, limits: SpaceLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.limits = limits or SpaceLimits()
        self.clock = clock
        self._live: dict[str, int] = defaultdict(int)

    def try_join(self, creator_id: str) -> bool:
        if self._live[creator_id] >= self.limits.max_connections_per_creator:
            return False
        self._live[creator_id] += 1
        return True

    def leave(self, creator_id: str) -> None:
        self._live[creator_id] -= 1
        if self._live[creator_id] <= 0:
            del self._live[creator_id]

    def live(self, creator_id: str) -> int:
        return self._live.get(creator_id, 0)


def space_registry(app: object) -> SpaceRegistry:
    """The app's registry, made on first use; set `app.state.space_registry` to change limits."""
    state = app.state  # type: ignore[attr-defined]
    registry = getattr(state, "space_registry", None)
    if registry is None:
        registry = SpaceRegistry()
        state.space_registry = registry
    return registry


class SpaceConnection:
    """Reads the fan's messages, answers one at a time, and cleans up on disconnect."""

    def __init__(
        self,
        websocket: WebSocket,
        services: Services,
        creator: SpaceCreator,
        visitor_id: str,
        registry: SpaceRegistry,
    ) -> None:
        self.websocket = websocket
        self.services = services
        self.creator = creator
        self.visitor_id = visitor_id
        self.limits = registry.limits
        self.rate = RateWindow(registry.limits.messages_per_minute, 60.0, registry.clock)
        self._reply_task: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

    @property
    def fan_handle(self) -> str:
        return "space:" + self.visitor_id

    async def run(self) -> None:
        """Until the fan disconnects; any reply still being written is cancelled then."""
        try:
            await self.send(
                ReadyEvent(
                    creator_id=self.creator.id,
                    display_name=self.creator.display_name,
                    label=self.creator.label,
                    max_message_chars=self.limits.max_message_chars,
                )
            )
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._on_frame(message.get("text"))
        except WebSocketDisconnect:
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        task, self._reply_task = self._reply_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def busy(self) -> bool:
        return self._reply_task is not None and not self._reply_task.done()

    async def _on_frame(self, raw: str | None) -> None:
        if raw is None:
            await self._error(ErrorCode.BAD_MESSAGE, "send text frames (JSON), not binary")
            return
        if len(raw) > self.limits.max_frame_chars:
            await self._error(ErrorCode.TOO_LONG, self._too_long())
            return
        try:
            event = client_event_adapter.validate_json(raw)
        except ValidationError:
            await self._error(
                ErrorCode.BAD_MESSAGE, 'send {"type": "message", "text": "..."} as JSON'
            )
            return
        text = event.text.strip()
        if not text:
            await self._error(ErrorCode.BAD_MESSAGE, "the message is empty")
            return
        if len(text) > self.limits.max_message_chars:
            await self._error(ErrorCode.TOO_LONG, self._too_long())
            return
        if not self.rate.allow():
            await self._error(
                ErrorCode.RATE_LIMITED,
                f"slow down: at most {self.limits.messages_per_minute} messages a minute",
            )
            return
        if self.busy:
            await self._error(ErrorCode.BUSY, "wait for the reply before sending another message")
            return
        self._reply_task = asyncio.create_task(self._reply(text), name="space-reply")

    def _too_long(self) -> str:
        return f"messages are limited to {self.limits.max_message_chars} characters"

    async def _reply(self, text: str) -> None:
        request = ReplyRequest(
            self.creator.id, text, Channel.SPACE, fan_handle=self.fan_handle, record=True
        )
        try:
            # The engine starts the model on first use: keep that off the event loop.
            engine = await asyncio.to_thread(lambda: self.services.engine)
            async for item in engine.stream(request):
                if isinstance(item, ReplyResult):
                    await self.send(final_event(item, self.creator.display_name))
                elif item:
                    await self.send(TokenEvent(delta=item))
        except CreatorNotFound:
            await self._error(ErrorCode.UNKNOWN_CREATOR, "this creator's space is not open")
        except Exception:  # noqa: BLE001 - logged here; the fan gets a plain message
            log.exception("space reply failed", extra={"creator": self.creator.id})
            await self._error(
                ErrorCode.UNAVAILABLE, "the AI double could not answer right now; try again soon"
            )

    async def _error(self, code: ErrorCode, detail: str) -> None:
        await self.send(ErrorEvent(code=code, detail=detail))

    async def send(self, event: ReadyEvent | TokenEvent | FinalEvent | ErrorEvent) -> None:
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        async with self._send_lock:
            # The fan may leave between the check and the send: their reader ends the task.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.websocket.send_text(event.model_dump_json())


async def refuse(websocket: WebSocket, code: ErrorCode, detail: str, close_code: int) -> None:
    """Accept, say why in an error event (browsers cannot read a refused handshake), close."""
    await websocket.accept()
    await websocket.send_text(ErrorEvent(code=code, detail=detail).model_dump_json())
    await websocket.close(close_code)
