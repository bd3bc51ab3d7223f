"""Database work of the inbox and the outbox: small synchronous functions, each one unit of
work (run them in a thread from async code). Claims are conditional UPDATEs, so several
workers (or a restarted one) never process the same row at once."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.inbox.comments import text_hash
from channels.inbox.duplicates import near_duplicate
from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus
from channels.inbox.protocol import EVENT_CHANNEL, CommentEvent, DMEvent, GroupMessageEvent
from persona.settings import CreatorSettings
from persona.store import Creator, Database

ThreadKey = tuple[str, str, str, str]  # (creator_id, platform, channel, thread_key)


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; ours are always UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def thread_of(event: InboxEvent) -> ThreadKey:
    return (event.creator_id, event.platform, event.channel, event.thread_key)


# -- intake ----------------------------------------------------------------------------------


class UnknownCreator(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Accepted:
    event_id: int
    status: str
    duplicate: bool


Inbound = DMEvent | CommentEvent | GroupMessageEvent


@dataclass(frozen=True, slots=True)
class Arrival:
    """One validated webhook waiting to be stored (`accept_events` takes many)."""

    platform: str
    event: Inbound
    callback_url: str | None
    now: datetime
    not_before: datetime | None = None


def _row(arrival: Arrival) -> dict[str, Any]:
    event = arrival.event
    return {
        "platform": arrival.platform,
        "message_id": event.message_id,
        "creator_id": event.creator_id,
        "channel": EVENT_CHANNEL[event.type],
        "thread_key": event.thread_key,
        "fan_id": event.fan.id,
        "fan_handle": event.fan.handle,
        "fan_name": event.fan.name,
        "text": event.text,
        "text_hash": text_hash(event.text),
        "payload": event.model_dump(mode="json"),
        "callback_url": arrival.callback_url,
        "status": EventStatus.PENDING,
        "reason": "",
        "not_before": arrival.not_before or arrival.now,
        "attempts": 0,
        "received_at": arrival.now,
    }


def accept_event(
    db: Database,
    platform: str,
    event: Inbound,
    callback_url: str | None,
    now: datetime,
    not_before: datetime | None = None,
) -> Accepted:
    """Persist one inbound event; a second delivery of the same (creator, platform, message id)
    gives back the first one's id. Returns only after the row is committed.

    The hot path is one INSERT: the unique key catches duplicates and the foreign key an
    unknown creator, and only then do we look at why it failed."""
    values = _row(Arrival(platform, event, callback_url, now, not_before))
    try:
        with db.engine.begin() as connection:
            result = connection.execute(insert(InboxEvent).values(**values))
            event_id = int(result.inserted_primary_key[0])
    except IntegrityError:
        existing = _find(db, event.creator_id, platform, event.message_id)
        if existing is not None:
            return existing
        with db.session() as session:
            if session.get(Creator, event.creator_id) is None:
                raise UnknownCreator(event.creator_id) from None
        raise
    return Accepted(event_id, EventStatus.PENDING, False)


def accept_events(db: Database, arrivals: Sequence[Arrival]) -> list[Accepted | UnknownCreator]:
    """Group commit: persist many inbound events in ONE transaction, each answered as
    `accept_event` would answer it alone (an `UnknownCreator` in its place for an unknown
    creator). Returns only after the commit.

    Duplicates and unknown creators are looked up first, so that one bad row does not abort
    the others; when another process inserts one of the same keys between that look and the
    INSERT, the unique key refuses the whole batch, and each event is then stored alone."""
    if not arrivals:
        return []
    try:
        return _accept_batch(db, arrivals)
    except IntegrityError:
        answers: list[Accepted | UnknownCreator] = []
        for a in arrivals:
            try:
                answers.append(
                    accept_event(db, a.platform, a.event, a.callback_url, a.now, a.not_before)
                )
            except UnknownCreator as exc:
                answers.append(exc)
        return answers


def _accept_batch(db: Database, arrivals: Sequence[Arrival]) -> list[Accepted | UnknownCreator]:
    keys = [(a.event.creator_id, a.platform, a.event.message_id) for a in arrivals]
    with db.engine.begin() as connection:
        known = set(
            connection.scalars(select(Creator.id).where(Creator.id.in_({k[0] for k in keys})))
        )
        stored: dict[tuple[str, str, str], Accepted] = {}
        for creator_id, platform, message_id, event_id, status in connection.execute(
            select(
                InboxEvent.creator_id,
                InboxEvent.platform,
                InboxEvent.message_id,
                InboxEvent.id,
                InboxEvent.status,
            ).where(InboxEvent.message_id.in_({k[2] for k in keys}))
        ):
            stored[(creator_id, platform, message_id)] = Accepted(event_id, status, True)
        # The first of each new key is inserted; later copies in the batch are its duplicates.
        fresh: dict[tuple[str, str, str], int] = {}
        for index, key in enumerate(keys):
            if key[0] in known and key not in stored and key not in fresh:
                fresh[key] = index
        ids = insert_rows(connection, [_row(arrivals[i]) for i in fresh.values()])
    answers: list[Accepted | UnknownCreator] = []
    inserted = dict(zip(fresh, ids, strict=True))
    for index, key in enumerate(keys):
        if key[0] not in known:
            answers.append(UnknownCreator(key[0]))
        elif key in stored:
            answers.append(stored[key])
        else:
            answers.append(Accepted(inserted[key], EventStatus.PENDING, fresh[key] != index))
    return answers


def insert_rows(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """One INSERT of many rows, their ids in order (INSERT ... RETURNING where the database
    and driver can keep the order: SQLite >= 3.35, PostgreSQL; else a row at a time, in
    the same transaction)."""
    if not rows:
        return []
    if connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        result = connection.execute(
            insert(InboxEvent).returning(InboxEvent.id, sort_by_parameter_order=True), rows
        )
        return [int(row[0]) for row in result]
    return [
        int(connection.execute(insert(InboxEvent).values(**row)).inserted_primary_key[0])
        for row in rows
    ]


def _find(db: Database, creator_id: str, platform: str, message_id: str) -> Accepted | None:
    with db.session() as session:
        row = session.execute(
            select(InboxEvent.id, InboxEvent.status).where(
                InboxEvent.creator_id == creator_id,
                InboxEvent.platform == platform,
                InboxEvent.message_id == message_id,
            )
        ).first()
    return Accepted(row[0], row[1], True) if row else None


# -- claiming --------------------------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    return or_(
        and_(InboxEvent.status == EventStatus.PENDING, InboxEvent.not_before <= now),
        and_(InboxEvent.status == EventStatus.PROCESSING, InboxEvent.lease_until < now),
    )


# The claim statements, built once: building SQLAlchemy expressions per call cost more
# CPU than running them (a claim round per finished event under a burst).
_NOW = bindparam("now", type_=InboxEvent.__table__.c.not_before.type)
_CLAIMABLE = or_(
    and_(InboxEvent.status == EventStatus.PENDING, InboxEvent.not_before <= _NOW),
    and_(InboxEvent.status == EventStatus.PROCESSING, InboxEvent.lease_until < _NOW),
)
_CANDIDATES = (
    select(
        InboxEvent.id,
        InboxEvent.creator_id,
        InboxEvent.platform,
        InboxEvent.channel,
        InboxEvent.thread_key,
    )
    .where(_CLAIMABLE)
    .order_by(InboxEvent.id)
    .limit(bindparam("n", type_=Integer))
)
_CLAIM = (
    update(InboxEvent)
    .where(InboxEvent.id == bindparam("event_id", type_=Integer), _CLAIMABLE)
    .values(
        status=EventStatus.PROCESSING,
        lease_owner=bindparam("owner", type_=String),
        lease_until=bindparam("until", type_=InboxEvent.__table__.c.lease_until.type),
        attempts=InboxEvent.attempts + 1,
    )
    .execution_options(synchronize_session=False)
)


def claim_due(
    db: Database,
    owner: str,
    limit: int,
    busy_threads: Collection[ThreadKey],
    lease_s: float,
    now: datetime,
) -> list[InboxEvent]:
    """Claim up to `limit` due events, at most one per thread and none of `busy_threads`
    (events of one thread are handled in order, one at a time)."""
    with db.session() as session:
        candidates = session.execute(_CANDIDATES, {"now": now, "n": limit * 8 + 16}).all()
    taken: set[ThreadKey] = set(busy_threads)
    ids: list[int] = []
    # One transaction for the round's claims (in id order, so that racing PostgreSQL
    # workers lock rows in the same order); each claim is still a conditional UPDATE.
    with db.session() as session:
        for event_id, creator_id, platform, channel, thread in candidates:
            if len(ids) >= limit:
                break
            key = (creator_id, platform, channel, thread)
            if key in taken:
                continue
            if _claim(session, owner, event_id, lease_s, now):
                taken.add(key)
                ids.append(event_id)
        if not ids:
            return []
        rows = session.scalars(
            select(InboxEvent).where(InboxEvent.id.in_(ids)).order_by(InboxEvent.id)
        ).all()
    return list(rows)


def _claim(session: Session, owner: str, event_id: int, lease_s: float, now: datetime) -> bool:
    until = now + timedelta(seconds=lease_s)
    result = session.execute(
        _CLAIM, {"event_id": event_id, "now": now, "owner": owner, "until": until}
    )
    return result.rowcount == 1


def claim_one(
    db: Database, owner: str, event_id: int, lease_s: float, now: datetime
) -> InboxEvent | None:
    with db.session() as session:
        if not _claim(session, owner, event_id, lease_s, now):
            return None
        return session.get(InboxEvent, event_id)


def claim_thread_batch(
    db: Database,
    owner: str,
    first: InboxEvent,
    lease_s: float,
    now: datetime,
    limit: int = 200,
) -> list[InboxEvent]:
    """The due events of `first`'s thread, claimed together with it (comments of one post
    are ranked as a batch)."""
    with db.session() as session:
        ids = session.scalars(
            select(InboxEvent.id)
            .where(
                InboxEvent.creator_id == first.creator_id,
                InboxEvent.platform == first.platform,
                InboxEvent.channel == first.channel,
                InboxEvent.thread_key == first.thread_key,
                InboxEvent.id != first.id,
                _claimable(now),
            )
            .order_by(InboxEvent.id)
            .limit(limit)
        ).all()
    batch = [first]
    for event_id in ids:
        row = claim_one(db, owner, event_id, lease_s, now)
        if row is not None:
            batch.append(row)
    return batch


def renew_leases(
    db: Database, owner: str, event_ids: Collection[int], lease_s: float, now: datetime
) -> None:
    if not event_ids:
        return
    with db.session() as session:
        session.execute(
            update(InboxEvent)
            .where(
                InboxEvent.id.in_(list(event_ids)),
                InboxEvent.status == EventStatus.PROCESSING,
                InboxEvent.lease_owner == owner,
            )
            .values(lease_until=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )


def mine(event_id: int, owner: str) -> Any:
    """The event, still leased to `owner` (a lease that ran out may be someone else's now)."""
    return and_(
        InboxEvent.id == event_id,
        InboxEvent.status == EventStatus.PROCESSING,
        InboxEvent.lease_owner == owner,
    )


def release(
    db: Database,
    owner: str,
    event_id: int,
    not_before: datetime,
    reason: str,
    *,
    counts_as_attempt: bool,
) -> bool:
    """Give an event back to the queue, due at `not_before` (a wait, an error, a shutdown)."""
    values: dict[str, Any] = {
        "status": EventStatus.PENDING,
        "lease_owner": None,
        "lease_until": None,
        "not_before": not_before,
        "reason": reason[:300],
    }
    if not counts_as_attempt:
        values["attempts"] = InboxEvent.attempts - 1
    with db.session() as session:
        result = session.execute(
            update(InboxEvent)
            .where(mine(event_id, owner))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def finish(
    db: Database, owner: str, event_id: int, status: EventStatus, reason: str, now: datetime
) -> bool:
    """Close an event without a reply (skipped or failed)."""
    with db.session() as session:
        result = session.execute(
            update(InboxEvent)
            .where(mine(event_id, owner))
            .values(
                status=status,
                reason=reason[:300],
                lease_owner=None,
                lease_until=None,
                decided_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def finish_with_reply(db: Database, owner: str, reply: OutboxReply, now: datetime) -> int | None:
    """In ONE transaction: write the reply and mark its event done. Returns the reply id, or
    None when this worker no longer owns the event (someone else finished it)."""
    try:
        with db.session() as session:
            result = session.execute(
                update(InboxEvent)
                .where(mine(reply.event_id, owner))
                .values(
                    status=EventStatus.DONE,
                    reason="",
                    lease_owner=None,
                    lease_until=None,
                    decided_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                session.rollback()
                return None
            session.add(reply)
            session.flush()
            return reply.id
    except IntegrityError:
        # The unique reply-per-event constraint: a reply exists already, so this one is not.
        return None


# -- what the policy needs to know -----------------------------------------------------------


def creator_snapshot(db: Database, creator_id: str) -> tuple[str, CreatorSettings] | None:
    """The creator's name and settings (lenient: a malformed boundary reads as its default
    here, where only the policies and switches are read; the engine refuses it later)."""
    with db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            return None
        return creator.display_name, CreatorSettings.from_stored(creator.settings, lenient=True)


def replies_since(db: Database, event: InboxEvent, since: datetime) -> int:
    """Replies written in `event`'s thread since a time (rejected and cancelled ones do not
    count)."""
    with db.session() as session:
        return (
            session.scalar(
                select(func.count(OutboxReply.id)).where(
                    OutboxReply.creator_id == event.creator_id,
                    OutboxReply.platform == event.platform,
                    OutboxReply.channel == event.channel,
                    OutboxReply.thread_key == event.thread_key,
                    OutboxReply.created_at >= since,
                    OutboxReply.status.not_in([ReplyStatus.REJECTED, ReplyStatus.CANCELLED]),
                )
            )
            or 0
        )


def earlier_duplicate(db: Database, event: InboxEvent, scan: int = 200) -> int | None:
    """An earlier comment under the same post saying the same thing (channels.inbox.duplicates:
    give or take spelling, case and punctuation), by this fan or another: from the second copy
    on, the answer to the first covers it. The fan's own comments are looked at first."""
    with db.session() as session:
        rows = session.execute(
            select(InboxEvent.id, InboxEvent.fan_id, InboxEvent.text)
            .where(
                InboxEvent.creator_id == event.creator_id,
                InboxEvent.platform == event.platform,
                InboxEvent.channel == event.channel,
                InboxEvent.thread_key == event.thread_key,
                InboxEvent.id < event.id,
            )
            .order_by(InboxEvent.id.desc())
            .limit(scan)
        ).all()
    rows = sorted(rows, key=lambda row: (row.fan_id != event.fan_id, row.id))
    for row_id, _, text in rows:
        if near_duplicate(text, event.text):
            return row_id
    return None


def comment_for_another_fan(db: Database, event: InboxEvent, names: Any) -> bool:
    """Does a comment tag or answer other fans: @handles none of which is the creator's
    (`names`: channels.inbox.groups.CreatorNames), a reply under another fan's comment, or
    words for everyone ("anyone want to...?")?"""
    from channels.inbox.groups import to_the_crowd

    handles = re.findall(r"@([\w.\-]+)", event.text)
    if handles:
        return not any(names.match(handle) for handle in handles)
    if to_the_crowd(event.text):
        return True
    parent = (event.payload or {}).get("parent_comment_id")
    if not parent:
        return False
    with db.session() as session:
        author = session.scalar(
            select(InboxEvent.fan_id).where(
                InboxEvent.creator_id == event.creator_id,
                InboxEvent.platform == event.platform,
                InboxEvent.message_id == str(parent),
            )
        )
    # A reply under the creator's own reply is not in the inbox: it is for the creator.
    return author is not None and author != event.fan_id


@dataclass(frozen=True, slots=True)
class GroupWindow:
    turns: list[tuple[str, str, bool]]  # (speaker, text, by_creator), oldest first
    fan_messages: int
    ai_messages: int
    # Names and handles of the fans in the window (to tell a question to one of them).
    members: tuple[str, ...] = ()


def group_window(
    db: Database, event: InboxEvent, creator_name: str, window: int, context: int
) -> GroupWindow:
    """The group's recent messages before `event` (fans' from the inbox, the AI's from the
    outbox) and the counts the share rule needs, over the last `window` fan messages."""
    with db.session() as session:
        fans = session.execute(
            select(
                InboxEvent.id,
                InboxEvent.fan_name,
                InboxEvent.fan_handle,
                InboxEvent.fan_id,
                InboxEvent.text,
                InboxEvent.received_at,
            )
            .where(
                InboxEvent.creator_id == event.creator_id,
                InboxEvent.platform == event.platform,
                InboxEvent.channel == event.channel,
                InboxEvent.thread_key == event.thread_key,
                InboxEvent.id <= event.id,
            )
            .order_by(InboxEvent.id.desc())
            .limit(window)
        ).all()
        oldest = utc(fans[-1].received_at) if fans else utc(event.received_at)
        ai = session.execute(
            select(OutboxReply.text, OutboxReply.created_at, OutboxReply.event_id)
            .where(
                OutboxReply.creator_id == event.creator_id,
                OutboxReply.platform == event.platform,
                OutboxReply.channel == event.channel,
                OutboxReply.thread_key == event.thread_key,
                OutboxReply.created_at >= oldest,
                OutboxReply.status.not_in([ReplyStatus.REJECTED, ReplyStatus.CANCELLED]),
            )
            .order_by(OutboxReply.created_at)
        ).all()
    # Interleave by the event each reply answers: a reply follows the message it answers.
    turns: list[tuple[float, str, str, bool]] = []
    for row in fans:
        if row.id == event.id:
            continue
        speaker = row.fan_name or row.fan_handle or row.fan_id
        turns.append((float(row.id), speaker, row.text, False))
    for text, _, answered in ai:
        turns.append((answered + 0.5, creator_name, text, True))
    turns.sort()
    recent = (
        [(speaker, text, mine) for _, speaker, text, mine in turns][-context:] if context else []
    )
    members = {name for row in fans for name in (row.fan_name, row.fan_handle) if name}
    return GroupWindow(recent, len(fans), len(ai), tuple(sorted(members)))


# -- outbox ----------------------------------------------------------------------------------


def _deliverable(now: datetime) -> Any:
    return and_(
        OutboxReply.status == ReplyStatus.PENDING,
        OutboxReply.next_attempt_at <= now,
        or_(OutboxReply.lease_until.is_(None), OutboxReply.lease_until < now),
    )


def claim_deliveries(db: Database, limit: int, lease_s: float, now: datetime) -> list[OutboxReply]:
    with db.session() as session:
        ids = session.scalars(
            select(OutboxReply.id)
            .where(_deliverable(now))
            .order_by(OutboxReply.next_attempt_at, OutboxReply.id)
            .limit(limit)
        ).all()
    claimed = []
    for reply_id in ids:
        with db.session() as session:
            result = session.execute(
                update(OutboxReply)
                .where(OutboxReply.id == reply_id, _deliverable(now))
                .values(
                    lease_until=now + timedelta(seconds=lease_s),
                    attempts=OutboxReply.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(session.get(OutboxReply, reply_id))
    return claimed


def next_delivery_at(db: Database, now: datetime) -> datetime | None:
    """When the next pending reply may be claimed (its due time, or its lease's end)."""
    with db.session() as session:
        free = session.scalar(
            select(func.min(OutboxReply.next_attempt_at)).where(
                OutboxReply.status == ReplyStatus.PENDING,
                or_(OutboxReply.lease_until.is_(None), OutboxReply.lease_until < now),
            )
        )
        leased = session.scalar(
            select(func.min(OutboxReply.lease_until)).where(
                OutboxReply.status == ReplyStatus.PENDING, OutboxReply.lease_until >= now
            )
        )
    times = [t for t in (utc(free), utc(leased)) if t is not None]
    return min(times) if times else None


def release_deliveries(db: Database, reply_ids: Collection[int]) -> None:
    """Give claimed deliveries back at once (a clean shutdown), instead of at lease end."""
    if not reply_ids:
        return
    with db.session() as session:
        session.execute(
            update(OutboxReply)
            .where(OutboxReply.id.in_(list(reply_ids)), OutboxReply.status == ReplyStatus.PENDING)
            .values(lease_until=None)
            .execution_options(synchronize_session=False)
        )


def cancel_unsent(db: Database, creator_id: str, channel: str, reason: str, now: datetime) -> int:
    """The kill switch: replies of a channel that wait for delivery are not sent (held ones
    stay in the approval queue: the creator decides those)."""
    with db.session() as session:
        result = session.execute(
            update(OutboxReply)
            .where(
                OutboxReply.creator_id == creator_id,
                OutboxReply.channel == channel,
                OutboxReply.status == ReplyStatus.PENDING,
            )
            .values(status=ReplyStatus.CANCELLED, last_error=reason[:500], decided_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount


def wake_waiting(db: Database, creator_id: str, reason: str, now: datetime) -> int:
    """Make events that wait for `reason` due now (the creator went offline, say)."""
    with db.session() as session:
        result = session.execute(
            update(InboxEvent)
            .where(
                InboxEvent.creator_id == creator_id,
                InboxEvent.status == EventStatus.PENDING,
                InboxEvent.reason == reason,
                InboxEvent.not_before > now,
            )
            .values(not_before=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount


def update_reply(db: Database, reply_id: int, expected_status: str, **values: Any) -> bool:
    with db.session() as session:
        result = session.execute(
            update(OutboxReply)
            .where(OutboxReply.id == reply_id, OutboxReply.status == expected_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def get_reply(db: Database, creator_id: str, reply_id: int) -> OutboxReply | None:
    with db.session() as session:
        reply = session.get(OutboxReply, reply_id)
        return reply if reply is not None and reply.creator_id == creator_id else None


def list_replies(
    db: Database, creator_id: str, statuses: Collection[str], offset: int, limit: int
) -> tuple[list[OutboxReply], int]:
    where = [OutboxReply.creator_id == creator_id]
    if statuses:
        where.append(OutboxReply.status.in_(list(statuses)))
    with db.session() as session:
        total = session.scalar(select(func.count(OutboxReply.id)).where(*where)) or 0
        rows = session.scalars(
            select(OutboxReply).where(*where).order_by(OutboxReply.id).offset(offset).limit(limit)
        ).all()
    return list(rows), total


def list_events(
    db: Database, creator_id: str, statuses: Collection[str], offset: int, limit: int
) -> tuple[list[InboxEvent], int]:
    where = [InboxEvent.creator_id == creator_id]
    if statuses:
        where.append(InboxEvent.status.in_(list(statuses)))
    with db.session() as session:
        total = session.scalar(select(func.count(InboxEvent.id)).where(*where)) or 0
        rows = session.scalars(
            select(InboxEvent)
            .where(*where)
            .order_by(InboxEvent.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    return list(rows), total
