"""The space's replies that wait for the creator go to the inbox's approval queue, the same
one as DMs, comments and groups (channels.inbox.approvals: the console's approvals page and
the JSON API decide them). A fan's space message becomes an inbox event already answered,
and its reply an outbox row held for review; once approved, the outbox deliverer publishes
it on `replies:{creator_id}`, where the fan's connection picks it up."""

from __future__ import annotations

from datetime import datetime

from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.settled import settled_event
from persona.engine import ReplyResult
from persona.store import Database

PLATFORM = "space"
CHANNEL = "space"


def hold_for_review(
    db: Database,
    creator_id: str,
    visitor_id: str,
    message: str,
    result: ReplyResult,
    label: str,
    reason: str,
    now: datetime,
) -> int:
    """Put the reply in the approval queue (one transaction); returns its id."""
    with db.session() as session:
        event = settled_event(
            platform=PLATFORM,
            source="space",
            creator_id=creator_id,
            channel=CHANNEL,
            thread_key=visitor_id,
            fan_id=visitor_id,
            text=message,
            payload={"source": "space", "visitor": visitor_id},
            reason="",
            now=now,
        )
        session.add(event)
        session.flush()
        reply = OutboxReply(
            event_id=event.id,
            creator_id=creator_id,
            platform=PLATFORM,
            channel=CHANNEL,
            thread_key=visitor_id,
            in_reply_to=event.message_id,
            fan_id=visitor_id,
            text=result.text,
            label=label,
            action=str(result.action),
            category=result.category,
            review_reason=reason[:300],
            status=ReplyStatus.HELD,
            callback_url=None,
            attempts=0,
            next_attempt_at=now,
            published=False,
            conversation_id=result.conversation_id,
            message_id=result.message_id,
            created_at=now,
        )
        session.add(reply)
        session.flush()
        return int(reply.id)
