"""Wire schemas of the interactive space's websocket: one tagged class per message type.

Client -> server: `{"type": "message", "text": "..."}`.
Server -> client: `ready` once after connecting (with the fan's history), then for each
message `token` deltas and one `final` (whose text replaces the streamed one), or an
`error`. Tokens are what the engine's release gate let through (persona.engine.streaming):
never more than the checked final text keeps, except in the rare case where a guardrail
replaced the draft (the final text then replaces it on the page).

The creator's space policy applies (channels.inbox.policy, as for the inbox channels): when
the space is disabled, paused or outside its hours, the `final` has no text and a notice; in
review mode nothing streams, the reply waits in the creator's approval queue, the `final`
says so (`review_id` set), and once approved the reply arrives on the socket as another
`final` with `reviewed: true` (if the fan is still connected).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from persona.engine import ReplyAction, ReplyResult


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- client -> server ----------------------------------------------------------------------


class MessageEvent(_Event):
    """A fan's chat message. Length is checked by the connection (its limit is configurable)."""

    type: Literal["message"] = "message"
    text: str


ClientEvent = Annotated[MessageEvent, Field(discriminator="type")]
client_event_adapter: TypeAdapter[MessageEvent] = TypeAdapter(ClientEvent)


# -- server -> client ----------------------------------------------------------------------


class SeenMessage(_Event):
    role: Literal["fan", "ai", "creator"]
    text: str


class ReadyEvent(_Event):
    """Sent once the connection is accepted: what the page needs to label the chat, and this
    fan's earlier messages and the replies they were shown, oldest first (kept by the server,
    so a reload or another tab shows the same chat)."""

    type: Literal["ready"] = "ready"
    creator_id: str
    display_name: str
    label: str
    max_message_chars: int
    history: list[SeenMessage] = []


class TokenEvent(_Event):
    type: Literal["token"] = "token"
    delta: str


class FinalEvent(_Event):
    """The checked reply. Its `text` replaces the streamed tokens (a guardrail may have trimmed
    or replaced them); an empty text with a `notice` means nothing is shown from the AI."""

    type: Literal["final"] = "final"
    text: str
    action: ReplyAction
    label: str
    message_id: int | None = None
    notice: str | None = None
    # The reply's id in the creator's approval queue, while it waits there.
    review_id: int | None = None
    # A reply the creator approved (maybe edited), delivered after the fact.
    reviewed: bool = False
    # Written by the creator in person (they took the conversation over): not AI.
    by_creator: bool = False


class ErrorCode(StrEnum):
    BAD_MESSAGE = "bad_message"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"  # a reply is still being written on this connection
    FULL = "full"  # too many fans are chatting with this creator right now
    TOO_MANY_CHATS = "too_many_chats"  # too many open chats from this client address
    IDLE = "idle"  # closed after a long time without a message; reconnect to go on
    UNKNOWN_CREATOR = "unknown_creator"
    BAD_VISITOR = "bad_visitor"
    UNAVAILABLE = "unavailable"


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    detail: str
    code: ErrorCode


ServerEvent = Annotated[
    ReadyEvent | TokenEvent | FinalEvent | ErrorEvent, Field(discriminator="type")
]
server_event_adapter: TypeAdapter[ReadyEvent | TokenEvent | FinalEvent | ErrorEvent] = TypeAdapter(
    ServerEvent
)


# Actions whose text the fan sees; the others show only a notice.
_VISIBLE = {ReplyAction.SEND, ReplyAction.NO_ANSWER, ReplyAction.SAFE_REPLY}


def notice_event(action: ReplyAction, label: str, notice: str) -> FinalEvent:
    """A final without text: the policy stopped the reply before the engine ran."""
    return FinalEvent(text="", action=action, label=label, notice=notice)


def review_notice(display_name: str) -> str:
    return (
        f"Your message was sent to {display_name}; the reply will appear here after "
        f"{display_name} has reviewed it."
    )


def held_event(result: ReplyResult, display_name: str, review_id: int) -> FinalEvent:
    """The reply waits in the creator's approval queue: nothing of it is shown."""
    return FinalEvent(
        text="",
        action=ReplyAction.HOLD,
        label=result.label,
        message_id=result.message_id,
        notice=review_notice(display_name),
        review_id=review_id,
    )


def final_event(result: ReplyResult, display_name: str) -> FinalEvent:
    """What the fan sees of a reply: held, blocked and paused replies show a notice instead."""
    text = result.text if result.action in _VISIBLE else ""
    notice = None
    if result.action == ReplyAction.PAUSED:
        notice = f"{display_name} has paused their AI double for now. Please come back later."
    elif result.action == ReplyAction.HOLD:
        notice = f"This reply waits for {display_name}'s review before it is shown."
    elif result.action == ReplyAction.BLOCK or not text:
        notice = "This message can't be answered here."
    return FinalEvent(
        text=text,
        action=result.action,
        label=result.label,
        message_id=result.message_id,
        notice=notice,
    )
