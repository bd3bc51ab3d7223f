"""Tables of the text path. Schema changes go through Alembic (channels/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class Creator(Base):
    __tablename__ = "creators"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The measured voice profile (persona.style.VoiceProfile.to_dict()).
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    profile_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # Creator-controlled settings: boundaries, no-answer message, AI label, kill switch...
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # SHA-256 of the creator's API token (channels.auth_tokens): never in `settings`.
    api_token_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    posts: Mapped[list[Post]] = relationship(back_populates="creator", passive_deletes=True)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("creator_id", "content_hash", name="uq_posts_creator_hash"),
        Index("ix_posts_creator_kind", "creator_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    clean_text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="post")
    lang: Mapped[str] = mapped_column(String(8), default="und")
    reply_to_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    source: Mapped[str] = mapped_column(String(500), default="")
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    creator: Mapped[Creator] = relationship(back_populates="posts")


class Fan(Base):
    __tablename__ = "fans"
    __table_args__ = (UniqueConstraint("creator_id", "handle", name="uq_fans_creator_handle"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    # The fan's identity, persona.engine.fan_key(source, id): never their (display) handle.
    handle: Mapped[str] = mapped_column(String(300))
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Rolling summary of what the fan told us, refreshed off the hot path.
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("creator_id", "channel", "external_id", name="uq_conv_channel_ext"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    fan_id: Mapped[int | None] = mapped_column(
        ForeignKey("fans.id", ondelete="SET NULL"), nullable=True
    )
    # dm, comment, group, live, space, api
    channel: Mapped[str] = mapped_column(String(16))
    # The platform's thread id (DM thread, post id, group id, stream id); fan handle for DMs.
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conv_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    fan_id: Mapped[int | None] = mapped_column(
        ForeignKey("fans.id", ondelete="SET NULL"), nullable=True
    )
    # fan | ai | creator
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Labels, sources, moderation decision, model, timings.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class VoiceEval(Base):
    """One run of `persona eval voice` for one creator ("how much it sounds like you")."""

    __tablename__ = "voice_evals"
    __table_args__ = (Index("ix_voice_evals_creator", "creator_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Share of generated replies the independent judge attributes to this creator.
    attribution: Mapped[float] = mapped_column()
    real_attribution: Mapped[float] = mapped_column()
    style_distance: Mapped[float] = mapped_column()
    copy_rate: Mapped[float] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
