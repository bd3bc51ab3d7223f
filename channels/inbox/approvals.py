"""The approval queue: replies held for the creator, who approves (maybe edited) or rejects
them. An approved reply goes to the outbox at once; the conversation record follows the
decision, so the fan's memory holds what the fan was really sent."""

from __future__ import annotations

from datetime import datetime

from channels.inbox import store
from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.policy import load_policy
from persona.store import Database, Message


class DecisionError(ValueError):
    """The reply cannot take this decision; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _held(db: Database, creator_id: str, reply_id: int) -> OutboxReply:
    reply = store.get_reply(db, creator_id, reply_id)
    if reply is None:
        raise DecisionError(404, f"no reply {reply_id} for this creator")
    if reply.status != ReplyStatus.HELD:
        raise DecisionError(409, f"reply {reply_id} is {reply.status}, not waiting for approval")
    return reply


def approve(
    db: Database, creator_id: str, reply_id: int, edited: str | None, now: datetime
) -> OutboxReply:
    reply = _held(db, creator_id, reply_id)
    values: dict[str, object] = {
        "status": ReplyStatus.PENDING,
        "next_attempt_at": now,
        "decided_at": now,
    }
    text = reply.text
    if edited is not None and edited.strip() and edited.strip() != reply.text:
        text = edited.strip()
        snapshot = store.creator_snapshot(db, creator_id)
        policy = load_policy(snapshot[1] if snapshot else {}, reply.channel)
        if len(text) > policy.max_chars:
            raise DecisionError(
                422,
                f"the edited reply has {len(text)} characters; this channel takes at most "
                f"{policy.max_chars} (change max_chars in the channel policy)",
            )
        values.update(text=text, original_text=reply.text)
    if not store.update_reply(db, reply_id, ReplyStatus.HELD, **values):
        raise DecisionError(409, f"reply {reply_id} was decided meanwhile")
    _write_back(db, reply, text, edited=text != reply.text, rejected=False)
    return store.get_reply(db, creator_id, reply_id) or reply


def reject(db: Database, creator_id: str, reply_id: int, reason: str, now: datetime) -> OutboxReply:
    reply = _held(db, creator_id, reply_id)
    note = f"rejected by the creator: {reason}" if reason else "rejected by the creator"
    if not store.update_reply(
        db,
        reply_id,
        ReplyStatus.HELD,
        status=ReplyStatus.REJECTED,
        decided_at=now,
        last_error=note[:500],
    ):
        raise DecisionError(409, f"reply {reply_id} was decided meanwhile")
    _write_back(db, reply, reply.text, edited=False, rejected=True)
    return store.get_reply(db, creator_id, reply_id) or reply


def _write_back(
    db: Database, reply: OutboxReply, text: str, *, edited: bool, rejected: bool
) -> None:
    if reply.message_id is None:
        return
    with db.session() as session:
        message = session.get(Message, reply.message_id)
        if message is None or message.role != "ai":
            return
        if rejected:
            # The fan never saw it: keep it out of the conversation the model reads next.
            session.delete(message)
            return
        meta = dict(message.meta or {})
        meta["approved"] = True
        if edited:
            meta["edited_by_creator"] = True
            meta["ai_text"] = message.text
            message.text = text
        message.meta = meta
