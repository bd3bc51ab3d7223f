"""The creator takes a conversation over from their AI double, writes to the fan in person,
and hands it back (what every helpdesk tool and Meta AI Studio let a person do).

While a conversation is taken over the double stays quiet in it: the space and the inbox
worker record the fan's message and answer nothing. The creator's reply goes out through the
same outbox as approved replies (websocket subscribers, the platform's callback with retries),
marked `action="creator"`: not AI-generated, and not stopped by the AI's kill switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from channels.inbox.models import InboxEvent, OutboxReply, ReplyStatus
from channels.inbox.outbox import BY_CREATOR
from channels.inbox.settled import settled_event
from channels.takeover_state import ConversationTakeover
from persona.engine import Channel
from persona.engine.types import SPACE_FANS
from persona.store import Conversation, Database, Message

MAX_REPLY_CHARS = 2000
# Channels whose conversation names one fan's thread that a reply can go back to.
REPLYABLE = (str(Channel.SPACE), str(Channel.DM), str(Channel.GROUP))


class CannotReply(ValueError):
    """The conversation cannot get a hand-written reply; the message says why."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a reply in this conversation goes: as the inbox worker would address it."""

    platform: str
    channel: str
    thread_key: str
    fan_id: str
    in_reply_to: str
    callback_url: str | None


def _owned(session, creator_id: str, conversation_id: int) -> Conversation | None:  # noqa: ANN001
    conversation = session.get(Conversation, conversation_id)
    return conversation if conversation and conversation.creator_id == creator_id else None


def taken_over(db: Database, creator_id: str, conversation_id: int) -> bool:
    with db.session() as session:
        row = session.get(ConversationTakeover, conversation_id)
        return row is not None and row.creator_id == creator_id


def take_over(db: Database, creator_id: str, conversation_id: int, now: datetime) -> bool:
    """False when the conversation is not this creator's. Taking over twice is fine."""
    try:
        with db.session() as session:
            if _owned(session, creator_id, conversation_id) is None:
                return False
            if session.get(ConversationTakeover, conversation_id) is None:
                session.add(
                    ConversationTakeover(
                        conversation_id=conversation_id, creator_id=creator_id, since=now
                    )
                )
    except IntegrityError:
        pass  # two clicks raced: it is taken over either way
    return True


def hand_back(db: Database, creator_id: str, conversation_id: int) -> bool:
    with db.session() as session:
        row = session.get(ConversationTakeover, conversation_id)
        if row is None or row.creator_id != creator_id:
            return False
        session.delete(row)
        return True


def route_of(session, conversation: Conversation) -> Route:  # noqa: ANN001
    """The thread a reply goes back to, from the conversation's key (space) or its latest
    inbound event (DMs and groups, whose callback URL the platform gave)."""
    channel, thread = conversation.channel, conversation.external_id
    if channel == str(Channel.SPACE):
        visitor = thread.removeprefix(f"{SPACE_FANS}:")
        return Route("space", channel, visitor, visitor, "", None)
    if channel not in REPLYABLE:
        raise CannotReply(
            f"replies by hand go to direct messages, groups and the space, not {channel}"
        )
    platform, _, thread_key = thread.partition(f":{channel}:")
    event = session.scalars(
        select(InboxEvent)
        .where(
            InboxEvent.creator_id == conversation.creator_id,
            InboxEvent.platform == platform,
            InboxEvent.channel == channel,
            InboxEvent.thread_key == thread_key,
        )
        .order_by(InboxEvent.id.desc())
        .limit(1)
    ).first()
    if event is None:
        raise CannotReply("no message from the fan in this conversation to answer")
    return Route(platform, channel, thread_key, event.fan_id, event.message_id, event.callback_url)


def reply_by_hand(
    db: Database,
    creator_id: str,
    conversation_id: int,
    text: str,
    now: datetime,
    default_callback: dict[str, str] | None = None,
) -> int:
    """Record the creator's reply in the conversation and queue it in the outbox, due now;
    returns the outbox reply's id (publish `outbox:wake` to send it at once)."""
    text = text.strip()
    if not text:
        raise CannotReply("the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise CannotReply(f"the reply has {len(text)} characters; at most {MAX_REPLY_CHARS}")
    with db.session() as session:
        conversation = _owned(session, creator_id, conversation_id)
        if conversation is None:
            raise LookupError(conversation_id)
        route = route_of(session, conversation)
        message = Message(
            conversation_id=conversation.id,
            fan_id=conversation.fan_id,
            role="creator",
            text=text,
            meta={"ai_generated": False, "by_creator": True},
        )
        session.add(message)
        # The outbox answers an inbound event: this one stands for the creator's own message.
        event = settled_event(
            platform=route.platform,
            source="creator",
            creator_id=creator_id,
            channel=route.channel,
            thread_key=route.thread_key,
            fan_id=route.fan_id,
            text=text,
            payload={"source": "console", "by_creator": True},
            reason="written by the creator",
            now=now,
        )
        session.add(event)
        session.flush()
        callback = route.callback_url or (default_callback or {}).get(route.platform)
        reply = OutboxReply(
            event_id=event.id,
            creator_id=creator_id,
            platform=route.platform,
            channel=route.channel,
            thread_key=route.thread_key,
            in_reply_to=route.in_reply_to or event.message_id,
            fan_id=route.fan_id,
            text=text,
            label="",
            action=BY_CREATOR,
            category="ok",
            review_reason="",
            status=ReplyStatus.PENDING,
            callback_url=callback if route.platform != "space" else None,
            attempts=0,
            next_attempt_at=now,
            published=False,
            conversation_id=conversation.id,
            message_id=message.id,
            created_at=now,
            decided_at=now,
        )
        session.add(reply)
        session.flush()
        return int(reply.id)
