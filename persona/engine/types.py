"""Typed requests and results of the reply engine (no untyped dict messages)."""

from __future__ import annotations

import re
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


# Fan sources that are the platform's own surfaces, not an outside platform's webhooks: no
# webhook platform may take these names (channels.inbox.config refuses them).
SPACE_FANS = "space"  # visitors of the interactive space (the id their browser keeps)
LIVE_FANS = "live"  # live-stream viewers (the user id the stream's feed gives)
API_FANS = "api"  # the `user` of API callers (OpenAI-compatible API, the reply playground)
CLI_FANS = "cli"  # `persona reply --fan`
RESERVED_FAN_SOURCES = frozenset({SPACE_FANS, LIVE_FANS, API_FANS, CLI_FANS})

FAN_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def fan_key(source: str, fan_id: str) -> str:
    """THE identity of a fan, wherever they write from: their source (a webhook platform, or
    one of the platform's own surfaces above) and the id that source gives them, which never
    changes. Handles and names are display only: anyone can pick a handle equal to another
    fan's id, so a key built from a handle would open that fan's memory to them. The source
    has no ':', so two different (source, id) pairs never make the same key."""
    if not FAN_SOURCE.match(source):
        raise ValueError(f"a fan source is 1-32 of a-z, 0-9, '_' or '-', not {source!r}")
    if not fan_id:
        raise ValueError("a fan key needs the fan's id")
    return f"{source}:{fan_id}"


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
    # The fan's identity: always `fan_key(source, id)`, never a handle (the memory's key).
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
class Candidate:
    """One draft as step 5 judged it."""

    text: str
    style: float  # the style profile's typicality score
    fluency: float | None  # the model's confidence in its words, when the server says
    rejected: str  # why it may not go out ("" when it may)
    voice: float | None = None  # how much it reads like this creator among the platform's
    score: float = 0.0  # the blend the ranking uses
    round: int | None = None  # 1 or 2 when a rescue round was needed
    # The outbound guardrails' decision (persona.engine.guard.OutboundOutcome), internal.
    outbound: Any = field(default=None, repr=False, compare=False)

    def public(self) -> dict[str, Any]:
        """What clients and reports see (the guardrails' internals left out)."""
        shown: dict[str, Any] = {
            "text": self.text,
            "style": self.style,
            "fluency": self.fluency,
            "rejected": self.rejected,
            "voice": self.voice,
            "score": self.score,
        }
        if self.round is not None:
            shown["round"] = self.round
        return shown


@dataclass(slots=True)
class ReplyResult:
    creator_id: str
    text: str
    action: ReplyAction
    reason: str = ""
    category: str = "ok"
    label: str = ""
    sources: list[SourceRef] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
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
