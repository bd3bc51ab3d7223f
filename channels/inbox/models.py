"""Tables of the platform inbox and outbox (schema changes: channels/migrations, 0003_inbox,
0006_inbox_creator_key).

Every accepted webhook is one `InboxEvent` row, committed before we answer 202. Every reply
is one `OutboxReply` row, unique per inbound event: that uniqueness is what makes a reply
happen exactly once, whatever crashes or retries happen around it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from persona.store.models import Base, utcnow


class EventStatus(StrEnum):
    PENDING = "pending"  # waiting for a worker (maybe until `not_before`)
    PROCESSING = "processing"  # claimed by a worker until `lease_until`
    DONE = "done"  # decided, and a reply row exists
    SKIPPED = "skipped"  # decided not to answer; `reason` says why
    FAILED = "failed"  # gave up after repeated errors; `reason` names the last one


class ReplyStatus(StrEnum):
    HELD = "held"  # waits for the creator in the approval queue
    PENDING = "pending"  # due for delivery at `next_attempt_at`
    SENT = "sent"
    DEAD = "dead"  # delivery gave up; `last_error` says why
    REJECTED = "rejected"  # the creator rejected it
    CANCELLED = "cancelled"  # the kill switch stopped it before delivery


class InboxEvent(Base):
    __tablename__ = "inbox_events"
    __table_args__ = (
        # Message ids are unique per creator's integration, not across creators: one creator's
        # id must never make another creator's message a "duplicate".
        UniqueConstraint(
            "creator_id", "platform", "message_id", name="uq_inbox_creator_platform_message"
        ),
        Index("ix_inbox_due", "status", "not_before"),
        Index("ix_inbox_thread", "creator_id", "channel", "thread_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(200))
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    # dm | comment | group
    channel: Mapped[str] = mapped_column(String(16))
    # DM thread (or fan id), post id, or group id: events of one thread are handled in order.
    thread_key: Mapped[str] = mapped_column(String(200))
    fan_id: Mapped[str] = mapped_column(String(200))
    fan_handle: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fan_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    # Hash of the normalised text, to spot duplicate comments.
    text_hash: Mapped[str] = mapped_column(String(32))
    # The validated event as received (post caption, mentions, ...).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    callback_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    reason: Mapped[str] = mapped_column(String(300), default="")
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OutboxReply(Base):
    __tablename__ = "outbox_replies"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_outbox_event"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_creator_status", "creator_id", "status", "id"),
        Index("ix_outbox_thread", "creator_id", "channel", "thread_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("inbox_events.id", ondelete="CASCADE"))
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    thread_key: Mapped[str] = mapped_column(String(200))
    # The platform's id of the message this reply answers.
    in_reply_to: Mapped[str] = mapped_column(String(200))
    fan_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    # The text the AI wrote, when the creator edited it before approving.
    original_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    label: Mapped[str] = mapped_column(String(300), default="")
    # The engine's decision: send, hold, no_answer, safe_reply.
    action: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64), default="ok")
    # Why a reply waits for review (policy review mode, a sensitive category...).
    review_reason: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16))
    callback_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # Published to websocket subscribers (at most once per process that delivers it).
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the engine recorded the exchange (an edit or a rejection is written back there).
    conversation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
