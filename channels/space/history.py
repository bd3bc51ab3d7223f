"""What a fan sees again when they come back to the space: their own thread, as they saw it.

The server keeps it (the conversation the engine records under the fan's key), so a reload, a
new tab or a reconnect shows the same chat. Only what reached the fan is shown: their
messages, the AI replies they were sent (a reply still waiting in the approval queue is not),
and the replies the creator wrote by hand."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from channels.inbox.models import OutboxReply, ReplyStatus
from channels.space import review
from persona.engine import Channel, ReplyAction, fan_key
from persona.engine.types import SPACE_FANS
from persona.store import Conversation, Database, Message

# Engine actions whose text the fan was shown (channels.space.protocol's _VISIBLE).
SHOWN = {str(ReplyAction.SEND), str(ReplyAction.NO_ANSWER), str(ReplyAction.SAFE_REPLY)}


@dataclass(frozen=True, slots=True)
class SeenMessage:
    role: str  # fan | ai | creator
    text: str


def fan_history(
    db: Database, creator_id: str, visitor_id: str, limit: int = 60
) -> list[SeenMessage]:
    """The last `limit` messages of this fan's space thread, oldest first."""
    key = fan_key(SPACE_FANS, visitor_id)
    with db.session() as session:
        conversation_id = session.scalar(
            select(Conversation.id).where(
                Conversation.creator_id == creator_id,
                Conversation.channel == str(Channel.SPACE),
                Conversation.external_id == key,
            )
        )
        if conversation_id is None:
            return []
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        ).all()
        waiting = set(
            session.scalars(
                select(OutboxReply.message_id).where(
                    OutboxReply.creator_id == creator_id,
                    OutboxReply.platform == review.PLATFORM,
                    OutboxReply.fan_id == visitor_id,
                    OutboxReply.status == ReplyStatus.HELD,
                )
            )
        )
    seen = []
    for m in reversed(rows):
        meta = m.meta or {}
        if m.role == "ai" and (
            m.id in waiting or not (meta.get("approved") or meta.get("action") in SHOWN)
        ):
            continue
        if m.text.strip():
            seen.append(SeenMessage(m.role if m.role in ("fan", "creator") else "ai", m.text))
    return seen
