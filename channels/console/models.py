"""Tables of the creator console (schema changes: channels/migrations, 0005_console).

Only password hashes, hashed session tokens and the creator's own decisions are stored here;
the console's other pages read the tables of the parts they show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from persona.store.models import Base, utcnow
from persona.store.types import UTCDateTime


class ConsoleUser(Base):
    """A creator's console account: one per creator, created by an admin from the CLI."""

    __tablename__ = "console_users"

    creator_id: Mapped[str] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), primary_key=True
    )
    # argon2id, in the PHC string format (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Consecutive failed sign-ins; the account locks for a while after too many.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConsoleLoginFailure(Base):
    """Failed sign-ins to one account from one client address (an IPv6 /64): the lock after
    too many applies to that address only, so a stranger cannot lock the creator out."""

    __tablename__ = "console_login_failures"

    creator_id: Mapped[str] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), primary_key=True
    )
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Attempts since the last success, counted before the password is checked.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database does not let anyone sign in."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_creator", "creator_id"),
        Index("ix_console_sessions_expires", "expires_at"),
    )

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    # Sent back in forms and the X-CSRF-Token header of every state-changing request.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsoleImport(Base):
    """One import of posts started from the console, and its progress (read by the page's
    progress bar, possibly in another worker process)."""

    __tablename__ = "console_imports"
    __table_args__ = (Index("ix_console_imports_creator", "creator_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    # queued | running | done | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    # parse | store | embed | profile (the pipeline's stages)
    stage: Mapped[str] = mapped_column(String(16), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # A sentence for the creator when the import failed.
    message: Mapped[str] = mapped_column(Text, default="")
    # parsed / added / duplicates, once done.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written with every progress step: an import not updated for long was interrupted.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReplyFlag(Base):
    """A reply the creator marked "not me": a copy of the exchange (it outlives the
    conversation's retention) that feeds the voice evaluation set."""

    __tablename__ = "console_flags"
    __table_args__ = (
        UniqueConstraint("creator_id", "message_id", name="uq_console_flags_message"),
        Index("ix_console_flags_creator", "creator_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    fan_message: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[str] = mapped_column(Text)
    # What is wrong, in the creator's words (optional).
    note: Mapped[str] = mapped_column(Text, default="")
    # What the creator would have said instead (optional): a positive example.
    better_reply: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
