"""What the AI said in the creator's name: conversations by channel and fan, a text search,
and the creator's "not me" flags (the evaluation set's negative examples).

Every query is scoped to one creator: a conversation or message of another creator reads as
not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from channels.console.models import ReplyFlag
from persona.store import Conversation, Database, Fan, Message

MAX_NOTE_CHARS = 1000
MAX_BETTER_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    channel: str
    thread: str
    fan_handle: str | None
    fan_name: str | None
    messages: int
    last_at: datetime | None
    last_ai_text: str


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    conversation_id: int
    role: str
    text: str
    created_at: datetime | None
    label: str
    action: str
    category: str
    flagged: bool
    edited: bool
    ai_text: str


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    id: int
    channel: str
    thread: str
    fan_handle: str | None
    fan_name: str | None
    messages: list[MessageRow]


@dataclass(frozen=True, slots=True)
class FlagRow:
    id: int
    message_id: int | None
    channel: str
    fan_message: str
    reply: str
    note: str
    better_reply: str
    created_at: datetime


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_conversations(
    db: Database,
    creator_id: str,
    *,
    channel: str | None = None,
    fan: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 30,
) -> tuple[list[ConversationRow], int]:
    """Newest activity first. `fan` matches the handle or name; `q` the text of any message."""
    where: list[Any] = [Conversation.creator_id == creator_id]
    if channel:
        where.append(Conversation.channel == channel)
    if fan:
        pattern = _like(fan.strip().lstrip("@"))
        where.append(
            or_(
                Fan.handle.ilike(pattern, escape="\\"), Fan.display_name.ilike(pattern, escape="\\")
            )
        )
    if q:
        matching = select(Message.conversation_id).where(
            Message.text.ilike(_like(q.strip()), escape="\\")
        )
        where.append(Conversation.id.in_(matching))
    stats = (
        select(
            Message.conversation_id.label("cid"),
            func.count(Message.id).label("n"),
            func.max(Message.id).label("last_id"),
            func.max(Message.created_at).label("last_at"),
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    base = (
        select(
            Conversation.id,
            Conversation.channel,
            Conversation.external_id,
            Fan.handle,
            Fan.display_name,
            func.coalesce(stats.c.n, 0),
            stats.c.last_at,
        )
        .outerjoin(Fan, Fan.id == Conversation.fan_id)
        .outerjoin(stats, stats.c.cid == Conversation.id)
        .where(*where)
    )
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.execute(
            base.order_by(func.coalesce(stats.c.last_id, 0).desc(), Conversation.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        ids = [r[0] for r in rows]
        last_ai: dict[int, str] = {}
        if ids:
            latest = (
                select(Message.conversation_id, func.max(Message.id))
                .where(Message.conversation_id.in_(ids), Message.role == "ai")
                .group_by(Message.conversation_id)
            )
            message_ids = [m for _, m in session.execute(latest).all()]
            for cid, text in session.execute(
                select(Message.conversation_id, Message.text).where(Message.id.in_(message_ids))
            ).all():
                last_ai[cid] = text
    return [
        ConversationRow(
            id=r[0],
            channel=r[1],
            thread=r[2],
            fan_handle=r[3],
            fan_name=r[4],
            messages=int(r[5]),
            last_at=_utc(r[6]),
            last_ai_text=last_ai.get(r[0], ""),
        )
        for r in rows
    ], total


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _message_row(m: Message, flagged: set[int]) -> MessageRow:
    meta = m.meta or {}
    return MessageRow(
        id=m.id,
        conversation_id=m.conversation_id,
        role=m.role,
        text=m.text,
        created_at=_utc(m.created_at),
        label=str(meta.get("label") or ""),
        action=str(meta.get("action") or ""),
        category=str(meta.get("category") or ""),
        flagged=m.id in flagged,
        edited=bool(meta.get("edited_by_creator")),
        ai_text=str(meta.get("ai_text") or ""),
    )


def get_conversation(
    db: Database, creator_id: str, conversation_id: int, limit: int = 500
) -> ConversationDetail | None:
    with db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.creator_id != creator_id:
            return None
        fan = session.get(Fan, conversation.fan_id) if conversation.fan_id else None
        messages = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        ).all()
        flagged = set(
            session.scalars(
                select(ReplyFlag.message_id).where(
                    ReplyFlag.creator_id == creator_id,
                    ReplyFlag.message_id.in_([m.id for m in messages]),
                )
            )
        )
        return ConversationDetail(
            id=conversation.id,
            channel=conversation.channel,
            thread=conversation.external_id,
            fan_handle=fan.handle if fan else None,
            fan_name=fan.display_name if fan else None,
            messages=[_message_row(m, flagged) for m in reversed(messages)],
        )


def _owned_ai_message(session: Any, creator_id: str, message_id: int) -> tuple[Message, str] | None:
    row = session.execute(
        select(Message, Conversation.channel)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id, Conversation.creator_id == creator_id)
    ).first()
    if row is None or row[0].role != "ai":
        return None
    return row[0], row[1]


def conversation_of_message(db: Database, creator_id: str, message_id: int) -> int | None:
    with db.session() as session:
        return session.scalar(
            select(Message.conversation_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.id == message_id, Conversation.creator_id == creator_id)
        )


def flag_not_me(
    db: Database, creator_id: str, message_id: int, note: str, better: str, now: datetime
) -> FlagRow | None:
    """Mark an AI reply as "not me". Keeps a copy of the exchange (fan message and reply)
    so the evaluation set survives the conversation's deletion. None when the message is not
    one of this creator's AI replies. Flagging twice updates the note."""
    note, better = note.strip()[:MAX_NOTE_CHARS], better.strip()[:MAX_BETTER_CHARS]
    try:
        with db.session() as session:
            owned = _owned_ai_message(session, creator_id, message_id)
            if owned is None:
                return None
            message, channel = owned
            flag = session.scalars(
                select(ReplyFlag).where(
                    ReplyFlag.creator_id == creator_id, ReplyFlag.message_id == message_id
                )
            ).first()
            if flag is None:
                fan_message = session.scalars(
                    select(Message.text)
                    .where(
                        Message.conversation_id == message.conversation_id,
                        Message.id < message.id,
                        Message.role == "fan",
                    )
                    .order_by(Message.id.desc())
                    .limit(1)
                ).first()
                flag = ReplyFlag(
                    creator_id=creator_id,
                    message_id=message_id,
                    channel=channel,
                    fan_message=fan_message or "",
                    reply=message.text,
                    created_at=now,
                )
                session.add(flag)
            flag.note, flag.better_reply = note, better
            session.flush()
            return _flag_row(flag)
    except IntegrityError:
        # Two clicks raced: the other one stored the flag.
        return None


def unflag(db: Database, creator_id: str, message_id: int) -> bool:
    with db.session() as session:
        flag = session.scalars(
            select(ReplyFlag).where(
                ReplyFlag.creator_id == creator_id, ReplyFlag.message_id == message_id
            )
        ).first()
        if flag is None:
            return False
        session.delete(flag)
        return True


def _flag_row(flag: ReplyFlag) -> FlagRow:
    return FlagRow(
        id=flag.id,
        message_id=flag.message_id,
        channel=flag.channel,
        fan_message=flag.fan_message,
        reply=flag.reply,
        note=flag.note,
        better_reply=flag.better_reply,
        created_at=flag.created_at,
    )


def list_flags(db: Database, creator_id: str, limit: int = 200) -> list[FlagRow]:
    with db.session() as session:
        rows = session.scalars(
            select(ReplyFlag)
            .where(ReplyFlag.creator_id == creator_id)
            .order_by(ReplyFlag.created_at.desc(), ReplyFlag.id.desc())
            .limit(limit)
        ).all()
        return [_flag_row(f) for f in rows]


def evaluation_set(db: Database, creator_id: str) -> list[dict[str, str]]:
    """The creator's "not me" examples for the voice evaluation: the fan message, the reply
    the creator disowned, their note, and what they would have said (may be empty)."""
    return [
        {
            "fan": f.fan_message,
            "reply": f.reply,
            "note": f.note,
            "better": f.better_reply,
            "channel": f.channel,
        }
        for f in list_flags(db, creator_id, limit=10_000)
    ]
