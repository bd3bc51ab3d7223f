"""Which conversations the creator answers in person (channels.takeover). Its own module,
free of the inbox package, so that the inbox worker and the space can import it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from persona.store import Conversation, Database
from persona.store.models import Base
from persona.store.types import UTCDateTime


class ConversationTakeover(Base):
    """A conversation the creator answers in person (schema: migration 0012)."""

    __tablename__ = "conversation_takeovers"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(64), default="console")


def is_taken_over(db: Database, creator_id: str, channel: str, thread: str) -> bool:
    """Whether the creator answers this thread in person (the double stays quiet)."""
    with db.session() as session:
        return (
            session.scalar(
                select(ConversationTakeover.conversation_id)
                .join(Conversation, Conversation.id == ConversationTakeover.conversation_id)
                .where(
                    Conversation.creator_id == creator_id,
                    Conversation.channel == channel,
                    Conversation.external_id == thread,
                )
            )
            is not None
        )
