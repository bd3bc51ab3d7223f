"""Paid live messages (paid messages, gifts) are durable; the rest of the live chat is not.

Each paid message is a row of the inbox table (channel and platform "live", thread = the
stream), committed before the frame that carried it is acknowledged, and leased to the
process whose stream holds it in memory (renewed while it waits). The stream settles the
row when it answers or drops the message. If that process dies, the lease runs out and an
inbox worker (any process) claims the row and answers the message itself
(`answer_claimed`): the reply row is unique per event and written in the same transaction
that marks the event done, before the answer is published to the stream's viewers, so each
paid message is answered once whoever finishes it.

Chatter, questions and welcomes stay in memory only: best-effort, lost with their worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from channels.inbox import store
from channels.inbox.comments import text_hash
from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus
from channels.live.answering import EngineAnswerer
from channels.live.config import LiveConfig
from channels.live.protocol import AnswerEvent
from channels.live.queue import PaidItem, Work
from channels.live.topics import topic
from persona.store import Database

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

LIVE = "live"  # the platform and the channel of paid live messages in the inbox
# Message-id column width: longer stream:id keys are hashed.
_KEY_CHARS = 200


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PaidMessage:
    """One paid message or gift, as the stream's intake cleaned it."""

    message_id: str  # the feed's id
    kind: str  # paid | gift
    text: str
    user: str
    name: str
    amount: float


def message_key(stream_id: str, message_id: str) -> str:
    """The inbox's message id: feed ids are unique per stream, not per creator."""
    key = f"{stream_id}:{message_id}"
    if len(key) <= _KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class PaidLedger:
    """The rows of one process's paid live messages (lease owner `owner`)."""

    def __init__(self, db: Database, lease_s: float, owner: str | None = None) -> None:
        self.db = db
        self.lease_s = lease_s
        self.owner = owner or f"live-{uuid.uuid4().hex[:16]}"

    def store(
        self, creator_id: str, stream_id: str, messages: Sequence[PaidMessage], now: datetime
    ) -> list[int | None]:
        """Commit the messages, leased to this process; None for one stored already (the
        feed sent it again, to this worker or another): it is answered once, from its row."""
        keys = [message_key(stream_id, m.message_id) for m in messages]
        until = now + timedelta(seconds=self.lease_s)
        try:
            with self.db.engine.begin() as connection:
                known = set(
                    connection.scalars(
                        select(InboxEvent.message_id).where(
                            InboxEvent.creator_id == creator_id,
                            InboxEvent.platform == LIVE,
                            InboxEvent.message_id.in_(set(keys)),
                        )
                    )
                )
                fresh = [i for i, key in enumerate(keys) if key not in known]
                rows = [
                    _row(creator_id, stream_id, keys[i], messages[i], self.owner, until, now)
                    for i in fresh
                ]
                ids = dict(zip(fresh, store.insert_rows(connection, rows), strict=True))
        except IntegrityError:
            # Another process stored one of them meanwhile: one at a time.
            return [self._store_one(creator_id, stream_id, m, now) for m in messages]
        return [ids.get(i) for i in range(len(messages))]

    def _store_one(
        self, creator_id: str, stream_id: str, message: PaidMessage, now: datetime
    ) -> int | None:
        until = now + timedelta(seconds=self.lease_s)
        key = message_key(stream_id, message.message_id)
        try:
            with self.db.engine.begin() as connection:
                row = _row(creator_id, stream_id, key, message, self.owner, until, now)
                return store.insert_rows(connection, [row])[0]
        except IntegrityError:
            return None

    def renew(self, event_ids: Sequence[int], now: datetime) -> None:
        store.renew_leases(self.db, self.owner, set(event_ids), self.lease_s, now)

    def give_back(self, event_ids: Sequence[int], reason: str, now: datetime) -> None:
        """Due now for an inbox worker (an engine error, a timeout, the stream ended)."""
        for event_id in event_ids:
            store.release(self.db, self.owner, event_id, now, reason, counts_as_attempt=True)


def _row(
    creator_id: str,
    stream_id: str,
    key: str,
    message: PaidMessage,
    owner: str,
    until: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "platform": LIVE,
        "message_id": key,
        "creator_id": creator_id,
        "channel": LIVE,
        "thread_key": stream_id,
        "fan_id": message.user,
        "fan_handle": message.user,
        "fan_name": message.name,
        "text": message.text,
        "text_hash": text_hash(message.text),
        "payload": {
            "kind": message.kind,
            "amount": message.amount,
            "stream_id": stream_id,
            "id": message.message_id,
        },
        "callback_url": None,
        # Held by the stream that read it: an inbox worker takes it only once the lease ran out.
        "status": EventStatus.PROCESSING,
        "reason": "",
        "not_before": now,
        "lease_owner": owner,
        "lease_until": until,
        "attempts": 0,
        "received_at": now,
    }


# -- settling ---------------------------------------------------------------------------------


def record_answer(
    db: Database,
    owner: str,
    event_ids: Sequence[int],
    answer: AnswerEvent,
    now: datetime,
) -> int | None:
    """In ONE transaction: the reply row (unique per event) and the events settled (the
    first answered, the rest thanked with it: a viewer's merged gifts). Returns the reply's
    id, or None when `owner` no longer holds the first event (another worker answers it)."""
    first, *merged = event_ids
    try:
        with db.session() as session:
            event = session.get(InboxEvent, first)
            claimed = session.execute(
                update(InboxEvent)
                .where(store.mine(first, owner))
                .values(
                    status=EventStatus.DONE,
                    reason="",
                    lease_owner=None,
                    lease_until=None,
                    decided_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if event is None or claimed.rowcount != 1:
                session.rollback()
                return None
            for other in merged:
                session.execute(
                    update(InboxEvent)
                    .where(store.mine(other, owner))
                    .values(
                        status=EventStatus.SKIPPED,
                        reason=f"merged: thanked in the answer to event {first}",
                        lease_owner=None,
                        lease_until=None,
                        decided_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            reply = OutboxReply(
                event_id=first,
                creator_id=event.creator_id,
                platform=LIVE,
                channel=LIVE,
                thread_key=event.thread_key,
                in_reply_to=event.message_id,
                fan_id=event.fan_id,
                text=answer.text,
                label=answer.label,
                action=answer.action,
                category="ok",
                review_reason="",
                # Published to the stream's viewers, not delivered to a callback.
                status=ReplyStatus.SENT,
                attempts=0,
                next_attempt_at=now,
                published=False,
                created_at=now,
                decided_at=now,
                sent_at=now,
            )
            session.add(reply)
            session.flush()
            return reply.id
    except IntegrityError:
        return None  # a reply exists already: this one is not


def record_drop(
    db: Database, owner: str, event_ids: Sequence[int], reason: str, now: datetime
) -> None:
    """The message is decided without an answer (moderation, review, the kill switch)."""
    for event_id in event_ids:
        store.finish(db, owner, event_id, EventStatus.SKIPPED, f"live: {reason}", now)


def mark_published(db: Database, reply_id: int) -> None:
    with db.session() as session:
        session.execute(
            update(OutboxReply)
            .where(OutboxReply.id == reply_id)
            .values(published=True)
            .execution_options(synchronize_session=False)
        )


# Dropped for good (decided); the other reasons hand the message to an inbox worker.
DECIDED = frozenset({"moderation", "held_for_review", "paused", "empty_reply"})


# -- an inbox worker answering a paid message whose stream's worker died ----------------------


def paid_work(event: InboxEvent) -> Work:
    """The queue item a stream would have answered, rebuilt from the row."""
    payload = event.payload or {}
    item = PaidItem(
        seq=event.id,
        kind=str(payload.get("kind") or "paid"),
        text=event.text,
        user=event.fan_id,
        name=event.fan_name or event.fan_id,
        amount=float(payload.get("amount") or 0.0),
        at=time.time(),
        event_ids=[event.id],
    )
    return Work(item.kind, 1, paid=item)


async def answer_claimed(
    services: Platform,
    owner: str,
    event: InboxEvent,
    publish: Callable[[str, dict[str, Any]], object],
) -> None:
    """Answer a paid live message an inbox worker claimed, as its stream would have: the
    creator's live policy, the engine, the reply recorded once, then published to the
    stream's viewers. Engine errors propagate (the inbox retries with backoff)."""
    stream_id = event.thread_key
    answerer = EngineAnswerer(services, event.creator_id, stream_id, LiveConfig().cadence_s)
    work = paid_work(event)
    outcome = await answerer.answer(work)
    now = now_utc()
    if outcome.event is None:
        reason = outcome.dropped_reason or "empty_reply"
        await asyncio.to_thread(record_drop, services.db, owner, [event.id], reason, now)
        return
    reply_id = await asyncio.to_thread(
        record_answer, services.db, owner, [event.id], outcome.event, now
    )
    if reply_id is None:
        return
    publish(topic(event.creator_id, stream_id), outcome.event.model_dump(mode="json"))
    await asyncio.to_thread(mark_published, services.db, reply_id)
    log.info(
        "paid live message answered after its stream's worker was gone",
        extra={"event_id": event.id, "stream": stream_id},
    )
