"""One fan's websocket in the interactive space: an object that owns its tasks and cancels
them when the fan leaves, plus the per-creator connection registry and the limits.

Each message first passes the creator's space policy, read by the same code as the inbox
channels (channels.inbox.policy: `load_policy`, `gate`, `review_reason`): a disabled,
paused or off-hours space answers with a notice and no reply; the policy's `max_chars`
bounds the reply; in review mode the reply is written without streaming (ranked drafts, as
the inbox does), goes to the creator's approval queue (channels.space.review), and reaches
the fan on this socket once approved."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from channels.api.safejson import unstorable
from channels.capacity import Refusal, SocketSlots
from channels.inbox import store
from channels.inbox.outbox import approvals_topic, replies_topic
from channels.inbox.policy import (
    CHANNEL_DISABLED,
    ChannelPolicy,
    PolicyChannel,
    Verdict,
    gate,
    halted,
    is_crisis_support,
    load_policy,
    review_reason,
)
from channels.space import review
from channels.space.creator_info import SpaceCreator
from channels.space.history import fan_history
from channels.space.protocol import (
    ErrorCode,
    ErrorEvent,
    FinalEvent,
    ReadyEvent,
    SeenMessage,
    TokenEvent,
    client_event_adapter,
    final_event,
    held_event,
    notice_event,
)
from channels.takeover_state import is_taken_over
from persona.engine import Channel, ReplyAction, ReplyRequest, ReplyResult, fan_key
from persona.engine.engine import CreatorNotFound
from persona.engine.memory import ConversationStore
from persona.engine.types import SPACE_FANS
from persona.settings import CreatorSettings

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

# Visitor ids: from the signed fan cookie (channels/space/fan_cookie.py) or `?visitor=` (scripts).
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

# Close codes: 1008 policy violation (bad request), 1013 try again later (full).
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013
# 1000 (normal): an idle chat closed by the server; the page does not reconnect by itself.
CLOSE_IDLE = 1000


@dataclass(frozen=True, slots=True)
class SpaceLimits:
    max_message_chars: int = 1000
    messages_per_minute: int = 12
    max_connections_per_creator: int = 100
    # Open chats from one client address, all creators together: without it one client's
    # idle sockets filled a creator's space for every fan.
    max_connections_per_client: int = 8
    # A chat the fan has sent nothing on for this long is closed (the page reconnects when
    # they type again).
    idle_timeout_s: float = 600.0
    # A frame larger than this is refused before it is parsed.
    max_frame_chars: int = 16_384

    def __post_init__(self) -> None:
        if self.max_connections_per_creator < 1 or self.max_connections_per_client < 1:
            raise ValueError("space connection caps must be at least 1")
        if self.idle_timeout_s <= 0:
            raise ValueError("the space idle timeout must be positive")

    @classmethod
    def from_settings(cls, settings: Any) -> SpaceLimits:
        """The defaults, with the `space_*` settings that are set (PERSONA_SPACE_...)."""
        names = ("max_connections_per_creator", "max_connections_per_client", "idle_timeout_s")
        values = {n: getattr(settings, f"space_{n}", None) for n in names}
        return cls(**{n: v for n, v in values.items() if v is not None})


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
    """Counts live connections per creator and per client address in this process (one
    registry per app)."""

    def __init__(self, limits: SpaceLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.limits = limits or SpaceLimits()
        self.clock = clock
        self._slots = SocketSlots(
            self.limits.max_connections_per_creator, self.limits.max_connections_per_client
        )

    def join(self, creator_id: str, client: str) -> Refusal | None:
        """A connection slot (None), or why not; `leave` gives it back."""
        return self._slots.take(creator_id, client)

    def leave(self, creator_id: str, client: str) -> None:
        self._slots.give_back(creator_id, client)

    def live(self, creator_id: str) -> int:
        return self._slots.creator(creator_id)


def space_registry(app: object) -> SpaceRegistry:
    """The app's registry (the platform's, with the settings' limits); a test may set
    `app.state.space_registry` to use another."""
    state = app.state  # type: ignore[attr-defined]
    registry = getattr(state, "space_registry", None)
    return registry if registry is not None else state.services.space


class SpaceConnection:
    """Reads the fan's messages, answers one at a time, and cleans up on disconnect."""

    def __init__(
        self,
        websocket: WebSocket,
        services: Platform,
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
        # Delivers this fan's approved replies (started when one is first held).
        self._review_task: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

    @property
    def fan_identity(self) -> str:
        return fan_key(SPACE_FANS, self.visitor_id)

    async def run(self) -> None:
        """Until the fan disconnects; any reply still being written is cancelled then."""
        try:
            seen = await asyncio.to_thread(
                fan_history, self.services.db, self.creator.id, self.visitor_id
            )
            await self.send(
                ReadyEvent(
                    creator_id=self.creator.id,
                    display_name=self.creator.display_name,
                    label=self.creator.label,
                    max_message_chars=self.limits.max_message_chars,
                    history=[SeenMessage(role=m.role, text=m.text) for m in seen],
                )
            )
            # Approved replies and the creator's own (a conversation taken over) arrive here.
            self._watch_reviews()
            while True:
                try:
                    # asyncio.timeout, not wait_for: see channels/aio.py.
                    async with asyncio.timeout(self.limits.idle_timeout_s):
                        message = await self.websocket.receive()
                except TimeoutError:
                    await self._close_idle()
                    break
                if message["type"] == "websocket.disconnect":
                    break
                await self._on_frame(message.get("text"))
        except WebSocketDisconnect:
            pass
        finally:
            await self.close()

    async def _close_idle(self) -> None:
        """A fan who sent nothing for a long time gives their slot back (idle sockets held
        slots forever and could fill the space); the page reconnects when they type."""
        if self.busy:
            # Not while their reply is still being written.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([self._reply_task])  # type: ignore[list-item]
        minutes = self.limits.idle_timeout_s / 60
        await self._error(
            ErrorCode.IDLE, f"closed after {minutes:g} minutes without a message; write to go on"
        )
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.close(CLOSE_IDLE)

    async def close(self) -> None:
        for task in (self._reply_task, self._review_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reply_task = self._review_task = None

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
        if problem := unstorable(text):  # the same rule as every HTTP body (safejson)
            await self._error(ErrorCode.BAD_MESSAGE, problem)
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
        try:
            snapshot = await asyncio.to_thread(
                store.creator_snapshot, self.services.db, self.creator.id
            )
            if snapshot is None:
                raise CreatorNotFound(self.creator.id)
            settings = snapshot[1]
            policy = load_policy(settings, PolicyChannel.SPACE)
            now = datetime.now(UTC)
            decision = gate(policy, settings, now, now)
            if decision.verdict != Verdict.GO:
                await self.send(self._closed(policy, settings, decision.verdict))
                return
            if await asyncio.to_thread(
                is_taken_over, self.services.db, self.creator.id, "space", self.fan_identity
            ):
                await self._to_the_creator(text)
                return
            request = ReplyRequest(
                self.creator.id,
                text,
                Channel.SPACE,
                fan_handle=self.fan_identity,
                record=True,
                max_chars=policy.max_chars,
            )
            # The engine starts the model on first use: keep that off the event loop.
            engine = await asyncio.to_thread(lambda: self.services.engine)
            if policy.mode == "review":
                # Nothing is shown before the creator's review: no stream, ranked drafts.
                await self._conclude(text, policy, await engine.reply(request))
                return
            async for item in engine.stream(request):
                if isinstance(item, ReplyResult):
                    await self._conclude(text, policy, item)
                elif item:
                    await self.send(TokenEvent(delta=item))
        except CreatorNotFound:
            await self._error(ErrorCode.UNKNOWN_CREATOR, "this creator's space is not open")
        except Exception:  # noqa: BLE001 - logged here; the fan gets a plain message
            log.exception("space reply failed", extra={"creator": self.creator.id})
            await self._error(
                ErrorCode.UNAVAILABLE, "the AI double could not answer right now; try again soon"
            )

    async def _to_the_creator(self, text: str) -> None:
        """The creator answers this fan in person: keep the message for them, say so, and let
        the double stay quiet (their reply arrives through `_deliver_reviewed`)."""

        def record() -> None:
            conversations = ConversationStore(self.services.db)
            state = conversations.open(
                self.creator.id, Channel.SPACE, self.fan_identity, self.fan_identity, None, 0
            )
            conversations.record(state, text, None, {})

        await asyncio.to_thread(record)
        self.services.hub.publish(
            approvals_topic(self.creator.id), {"type": "fan_message", "channel": "space"}
        )
        name = self.creator.display_name
        await self.send(
            notice_event(
                ReplyAction.HOLD,
                self.creator.label,
                f"{name} is answering you in person: their reply will appear here.",
            )
        )

    def _closed(
        self, policy: ChannelPolicy, settings: CreatorSettings, verdict: Verdict
    ) -> FinalEvent:
        """The notice for a message the policy does not let the AI answer now."""
        name = self.creator.display_name
        if verdict == Verdict.WAIT:  # outside its hours, or the creator is online
            notice = f"{name}'s AI double is not answering right now. Please come back later."
        elif halted(policy, settings) == CHANNEL_DISABLED:
            notice = f"{name}'s AI double is not available here."
        else:
            notice = f"{name} has paused their AI double for now. Please come back later."
        return notice_event(ReplyAction.PAUSED, policy.ai_label or self.creator.label, notice)

    async def _conclude(self, message: str, policy: ChannelPolicy, result: ReplyResult) -> None:
        """Show the reply, or put it in the approval queue when the policy says it waits."""
        name = self.creator.display_name
        held = review_reason(policy, result.action, result.category, result.reason)
        if held and result.delivered_text.strip():
            self._watch_reviews()
            review_id = await asyncio.to_thread(
                review.hold_for_review,
                self.services.db,
                self.creator.id,
                self.visitor_id,
                message,
                result,
                policy.ai_label or result.label,
                held,
                datetime.now(UTC),
            )
            self.services.hub.publish(
                approvals_topic(self.creator.id),
                {"type": "held", "reply_id": review_id, "reason": held},
            )
            await self.send(held_event(result, name, review_id))
            return
        if is_crisis_support(result.action, result.category):
            log.warning(
                "crisis support sent in the space; the creator is alerted",
                extra={"creator": self.creator.id, "message_id": result.message_id},
            )
            self.services.hub.publish(
                approvals_topic(self.creator.id),
                {"type": "alert", "message_id": result.message_id, "channel": "space"},
            )
        await self.send(final_event(result, name))

    def _watch_reviews(self) -> None:
        if self._review_task is None or self._review_task.done():
            self._review_task = asyncio.create_task(self._deliver_reviewed(), name="space-review")

    async def _deliver_reviewed(self) -> None:
        """Approved replies to this fan, as the outbox publishes them, while connected."""
        async with self.services.hub.subscribe(replies_topic(self.creator.id)) as subscription:
            while True:
                event = await subscription.get()
                if event.get("platform") != review.PLATFORM or (
                    event.get("fan_id") != self.visitor_id
                ):
                    continue
                writing = self._reply_task
                if writing is not None and not writing.done():
                    # Not in the middle of another reply's tokens.
                    await asyncio.wait([writing])
                by_creator = event.get("ai_generated") is False
                await self.send(
                    FinalEvent(
                        text=str(event.get("text") or ""),
                        action=ReplyAction.SEND,
                        label=(
                            f"Written by {self.creator.display_name}"
                            if by_creator
                            else str(event.get("label") or self.creator.label)
                        ),
                        review_id=event.get("reply_id"),
                        reviewed=True,
                        by_creator=by_creator,
                    )
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
