"""Typed requests and results of the reply engine (no untyped dict messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    DM = "dm"
    COMMENT = "comment"
    GROUP = "group"
    LIVE = "live"
    SPACE = "space"
    API = "api"


# Longest reply a channel takes, in characters; a channel policy may lower it.
CHANNEL_MAX_CHARS: dict[Channel, int] = {
    Channel.DM: 400,
    Channel.COMMENT: 220,
    Channel.GROUP: 260,
    Channel.LIVE: 160,
    Channel.SPACE: 600,
    Channel.API: 600,
}


class ReplyAction(StrEnum):
    SEND = "send"  # a generated reply, checked, ready to deliver
    HOLD = "hold"  # generated, but waits for the creator's approval
    NO_ANSWER = "no_answer"  # the creator's message for what the double must not answer
    SAFE_REPLY = "safe_reply"  # a fixed caring/disclosure reply, not generated
    BLOCK = "block"  # nothing is sent
    PAUSED = "paused"  # the creator's kill switch is on


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str  # "fan", "ai", or a display name in group chats
    text: str


@dataclass(slots=True)
class ReplyRequest:
    creator_id: str
    message: str
    channel: Channel = Channel.DM
    fan_handle: str | None = None
    fan_name: str | None = None
    # Thread key on the channel (DM thread, post id, group id, stream id). Defaults per fan.
    thread_id: str | None = None
    # Extra context given by the channel: a post caption, the last lines of a group chat.
    context: list[Turn] = field(default_factory=list)
    context_note: str | None = None
    max_chars: int | None = None
    candidates: int | None = None
    record: bool = True


@dataclass(frozen=True, slots=True)
class SourceRef:
    kind: str  # post | reply | fan_msg
    text: str
    score: float
    post_id: int | None = None


@dataclass(slots=True)
class ReplyResult:
    creator_id: str
    text: str
    action: ReplyAction
    reason: str = ""
    category: str = "ok"
    label: str = ""
    sources: list[SourceRef] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    conversation_id: int | None = None
    message_id: int | None = None
    model: str = ""
    # Tokens the model server counted for this reply, every call included (OpenAI's names:
    # prompt_tokens, completion_tokens, total_tokens); None when not measured.
    usage: dict[str, int] | None = None

    @property
    def delivered_text(self) -> str:
        return self.text if self.action not in (ReplyAction.BLOCK, ReplyAction.PAUSED) else ""
