"""Per-fan memory: the recent turns of the thread plus a rolling summary of the fan.

Reads are on the hot path (one indexed query); the summary is refreshed off it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from persona.engine.types import Channel, Turn
from persona.store import Conversation, Database, Fan, Message


@dataclass(slots=True)
class FanState:
    fan_id: int | None
    conversation_id: int
    summary: str
    history: list[Turn]
    fan_messages_since_summary: int


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(
        self,
        creator_id: str,
        channel: Channel,
        thread_id: str,
        fan_handle: str | None,
        fan_name: str | None,
        history_turns: int,
    ) -> FanState:
        with self.db.session() as session:
            fan = None
            if fan_handle:
                fan = session.scalars(
                    select(Fan).where(Fan.creator_id == creator_id, Fan.handle == fan_handle)
                ).first()
                if fan is None:
                    fan = Fan(creator_id=creator_id, handle=fan_handle, display_name=fan_name)
                    session.add(fan)
                    session.flush()
            conversation = session.scalars(
                select(Conversation).where(
                    Conversation.creator_id == creator_id,
                    Conversation.channel == str(channel),
                    Conversation.external_id == thread_id,
                )
            ).first()
            if conversation is None:
                conversation = Conversation(
                    creator_id=creator_id,
                    fan_id=fan.id if fan else None,
                    channel=str(channel),
                    external_id=thread_id,
                )
                session.add(conversation)
                session.flush()
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.id.desc())
                .limit(history_turns)
            ).all()
            history = [Turn("fan" if m.role == "fan" else "ai", m.text) for m in reversed(rows)]
            since = 0
            if fan is not None:
                since = (
                    session.scalar(
                        select(func.count(Message.id)).where(
                            Message.fan_id == fan.id,
                            Message.role == "fan",
                            Message.id > (fan.summary_message_id or 0),
                        )
                    )
                    or 0
                )
            return FanState(
                fan_id=fan.id if fan else None,
                conversation_id=conversation.id,
                summary=fan.summary if fan else "",
                history=history,
                fan_messages_since_summary=since,
            )

    def record(
        self,
        state: FanState,
        fan_text: str,
        reply_text: str | None,
        meta: dict,
    ) -> int | None:
        """Store the fan's message and the AI reply; returns the reply's message id."""
        with self.db.session() as session:
            session.add(
                Message(
                    conversation_id=state.conversation_id,
                    fan_id=state.fan_id,
                    role="fan",
                    text=fan_text,
                    meta={},
                )
            )
            if reply_text is None:
                return None
            reply = Message(
                conversation_id=state.conversation_id,
                fan_id=state.fan_id,
                role="ai",
                text=reply_text,
                meta=meta,
            )
            session.add(reply)
            session.flush()
            return reply.id

    def fan_messages(self, fan_id: int, limit: int = 20) -> tuple[str, list[str], int]:
        with self.db.session() as session:
            fan = session.get(Fan, fan_id)
            rows = session.scalars(
                select(Message)
                .where(Message.fan_id == fan_id, Message.role == "fan")
                .order_by(Message.id.desc())
                .limit(limit)
            ).all()
            last_id = rows[0].id if rows else 0
            return (fan.summary if fan else "", [m.text for m in reversed(rows)], last_id)

    def save_summary(self, fan_id: int, summary: str, last_message_id: int) -> None:
        with self.db.session() as session:
            fan = session.get(Fan, fan_id)
            if fan is not None:
                fan.summary = summary
                fan.summary_message_id = last_message_id
