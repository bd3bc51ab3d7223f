"""The seam between the reply engine and the trust-and-safety checks (persona.safety)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from persona.engine.types import Channel, ReplyAction
from persona.settings import CreatorSettings


@dataclass(slots=True)
class GuardContext:
    creator_id: str
    creator_name: str
    channel: Channel
    # The creator's settings; a stored dict is read into the typed model.
    settings: CreatorSettings
    system_prompt: str
    # True when the creator has published this string (a fact may then be repeated).
    is_published: Callable[[str], bool]
    message: str = ""
    sources: list[str] = field(default_factory=list)
    best_source_score: float = 0.0
    lang: str | None = None

    def __post_init__(self) -> None:
        self.settings = CreatorSettings.of(self.settings)


@dataclass(slots=True)
class InboundOutcome:
    # SEND: go on and generate; HOLD: generate but hold for review; others end the request.
    action: ReplyAction
    category: str = "ok"
    reason: str = ""
    reply_text: str | None = None
    # A question about facts: answer only if the creator's posts support it (strict mode).
    factual: bool = False
    escalate: bool = False
    # Guidance for the prompt when the message passes with a caveat (asks for personal data).
    hint: str | None = None


@dataclass(slots=True)
class OutboundOutcome:
    action: ReplyAction
    category: str = "ok"
    reason: str = ""
    text: str = ""


class Guard(Protocol):
    def inbound(self, message: str, ctx: GuardContext) -> InboundOutcome: ...

    def outbound(self, reply: str, ctx: GuardContext) -> OutboundOutcome: ...

    def label(self, ctx: GuardContext) -> str: ...
