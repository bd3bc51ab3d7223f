"""Turns one taken queue item into an answer through the reply engine.

The engine runs the full moderation on the chosen message (the intake only ran cheap checks),
writes in the creator's voice, labels the reply as AI-generated, and records it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from channels.inbox.policy import LivePolicy as ChannelLivePolicy
from channels.inbox.policy import PolicyChannel, Verdict, gate
from channels.live.protocol import AnswerEvent
from channels.live.queue import Work
from persona.engine import Channel, ReplyAction, ReplyRequest, ReplyResult, fan_key
from persona.engine.types import LIVE_FANS
from persona.settings import CreatorSettings
from persona.store import Creator

if TYPE_CHECKING:
    from channels.services import Platform

# What becomes of a message whose reply the engine did not clear for the live chat.
_DROP_REASONS: dict[ReplyAction, str] = {
    ReplyAction.BLOCK: "moderation",
    ReplyAction.HOLD: "held_for_review",
    ReplyAction.PAUSED: "paused",
}
MIN_CADENCE_S = 0.1
MAX_CADENCE_S = 600.0


@dataclass(frozen=True, slots=True)
class LivePolicy:
    """What a running stream needs of the creator's live channel policy, re-read while it
    streams: the one every channel uses (channels.inbox.policy, `channels.live` in the
    settings), so a pause through the API, the console or the kill switch stops it."""

    cadence_s: float
    paused: bool = False
    reason: str = ""

    @classmethod
    def from_settings(
        cls,
        settings: CreatorSettings | dict[str, Any],
        default_cadence_s: float,
        now: datetime | None = None,
    ) -> LivePolicy:
        settings = CreatorSettings.of(settings)
        policy = settings.policy(PolicyChannel.LIVE)
        assert isinstance(policy, ChannelLivePolicy)
        cadence = policy.cadence_s if policy.cadence_s is not None else default_cadence_s
        cadence = min(MAX_CADENCE_S, max(MIN_CADENCE_S, cadence))
        moment = now or datetime.now(UTC)
        # The same gate as the inbox's (switches, hours, presence) for a question asked now.
        decision = gate(policy, settings, moment, moment)
        go = decision.verdict == Verdict.GO
        return cls(cadence_s=cadence, paused=not go, reason="" if go else decision.reason)


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    event: AnswerEvent | None
    dropped_reason: str | None = None


class Answerer(Protocol):
    """What a stream needs from the rest of the platform."""

    async def policy(self) -> LivePolicy: ...

    async def answer(self, work: Work) -> AnswerOutcome: ...


def welcome_line(names: list[str], count: int) -> str:
    """'Welcome Anna!', 'Welcome Anna and Tom!', 'Welcome Anna, Tom and 12 others!'."""
    shown = names[:3]
    others = count - len(shown)
    if not shown:
        return f"Welcome to the {count} of you who just joined!"
    if others > 0:
        return f"Welcome {', '.join(shown)} and {others} other{'s' if others > 1 else ''}!"
    if len(shown) == 1:
        return f"Welcome {shown[0]}!"
    return f"Welcome {', '.join(shown[:-1])} and {shown[-1]}!"


def _amount(value: float) -> str:
    return f"{value:g}"


class EngineAnswerer:
    def __init__(
        self, services: Platform, creator_id: str, stream_id: str, cadence_s: float
    ) -> None:
        self.services = services
        self.creator_id = creator_id
        self.stream_id = stream_id
        self.default_cadence_s = cadence_s

    async def policy(self) -> LivePolicy:
        return await asyncio.to_thread(self._read_policy)

    def _read_policy(self) -> LivePolicy:
        with self.services.db.session() as session:
            creator = session.get(Creator, self.creator_id)
            stored = creator.settings if creator is not None else None
        return LivePolicy.from_settings(
            CreatorSettings.from_stored(stored, lenient=True), self.default_cadence_s
        )

    def request(self, work: Work) -> ReplyRequest:
        base = {
            "channel": Channel.LIVE,
            "thread_id": self.stream_id,
        }
        if work.question is not None:
            cluster = work.question
            note = f"Live stream: {work.current_size} viewers asked this question."
            return ReplyRequest(
                self.creator_id,
                cluster.text,
                fan_handle=fan_key(LIVE_FANS, cluster.user),
                fan_name=cluster.name,
                context_note=note,
                **base,
            )
        if work.paid is not None:
            item = work.paid
            if item.kind == "gift":
                gifts = f"{item.count} gifts" if item.count > 1 else "a gift"
                note = (
                    f"Live stream: this viewer sent {gifts} worth {_amount(item.amount)}. "
                    "Thank them warmly in one short line."
                )
                message = item.text or "I sent you a gift!"
            else:
                note = (
                    f"Live stream: a paid message worth {_amount(item.amount)}. Thank the "
                    "viewer briefly and answer it."
                )
                message = item.text or "I sent you a paid message!"
            return ReplyRequest(
                self.creator_id,
                message,
                fan_handle=fan_key(LIVE_FANS, item.user),
                fan_name=item.name,
                context_note=note,
                **base,
            )
        batch = work.welcome
        assert batch is not None
        # Viewers' display names stay out of the prompt: the welcome line names them.
        return ReplyRequest(
            self.creator_id,
            "Hi! We just joined your live stream.",
            context_note="Live stream: new viewers just joined. Greet them in one short line.",
            record=False,
            **base,
        )

    async def answer(self, work: Work) -> AnswerOutcome:
        # The stream re-reads the policy every few seconds; a pause is effective at once:
        # checked before the model writes, and again before the answer goes out.
        if (await self.policy()).paused:
            return AnswerOutcome(None, "paused")
        engine = await asyncio.to_thread(lambda: self.services.engine)
        result: ReplyResult = await engine.reply(self.request(work))
        if (await self.policy()).paused:
            return AnswerOutcome(None, "paused")
        reason = _DROP_REASONS.get(result.action)
        if reason is not None or not result.text.strip():
            return AnswerOutcome(None, reason or "empty_reply")
        return AnswerOutcome(self.event(work, result))

    def event(self, work: Work, result: ReplyResult) -> AnswerEvent:
        common = {"label": result.label, "action": str(result.action), "at": time.time()}
        if work.question is not None:
            cluster = work.question
            return AnswerEvent(
                kind="question",
                text=result.text,
                question=cluster.text,
                names=[cluster.name],
                count=work.current_size,
                **common,
            )
        if work.paid is not None:
            item = work.paid
            return AnswerEvent(
                kind="paid" if item.kind == "paid" else "gift",
                text=result.text,
                question=item.text,
                names=[item.name],
                count=item.count,
                amount=item.amount,
                **common,
            )
        batch = work.welcome
        assert batch is not None
        line = welcome_line(batch.names, batch.count)
        # A fixed reply (disclosure, no-answer) makes no sense after "welcome": the line alone.
        text = f"{line} {result.text}" if result.action is ReplyAction.SEND else line
        return AnswerEvent(
            kind="welcome", text=text, names=batch.names[:3], count=batch.count, **common
        )
