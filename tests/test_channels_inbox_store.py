"""The inbox and outbox tables under races: idempotent intake, leases that expire and are
taken over, and a reply written exactly once whoever finishes first (real SQLite)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.inbox import store
from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus
from channels.inbox.protocol import inbound_event
from persona.store import Creator, Database, DatabaseConfig
from persona.store.models import Base

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'inbox.db'}"))
    Base.metadata.create_all(database.engine)
    with database.session() as session:
        session.add(Creator(id="cc", display_name="C C", settings={}))
    yield database
    database.dispose()


def _event(message_id: str, fan: str = "f1", thread: str | None = None):
    return inbound_event.validate_python(
        {
            "type": "dm",
            "creator_id": "cc",
            "message_id": message_id,
            "fan": {"id": fan},
            "text": f"hello {message_id}",
            "thread_id": thread,
        }
    )


def _reply(event: InboxEvent, text: str = "hi!") -> OutboxReply:
    return OutboxReply(
        event_id=event.id,
        creator_id=event.creator_id,
        platform=event.platform,
        channel=event.channel,
        thread_key=event.thread_key,
        in_reply_to=event.message_id,
        fan_id=event.fan_id,
        text=text,
        label="AI",
        action="send",
        category="ok",
        review_reason="",
        status=ReplyStatus.PENDING,
        attempts=0,
        next_attempt_at=T0,
        published=False,
        created_at=T0,
    )


def _count_replies(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count(OutboxReply.id))) or 0


def test_intake_is_idempotent_per_platform_and_message(db: Database) -> None:
    first = store.accept_event(db, "gram", _event("m1"), None, T0)
    again = store.accept_event(db, "gram", _event("m1"), None, T0)
    other_platform = store.accept_event(db, "tok", _event("m1"), None, T0)
    assert not first.duplicate and again.duplicate and again.event_id == first.event_id
    assert not other_platform.duplicate and other_platform.event_id != first.event_id
    with pytest.raises(store.UnknownCreator):
        bad = _event("m2").model_copy(update={"creator_id": "nobody"})
        store.accept_event(db, "gram", bad, None, T0)


def test_concurrent_duplicate_deliveries_store_one_event(db: Database) -> None:
    results: list[store.Accepted] = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        barrier.wait()
        results.append(store.accept_event(db, "gram", _event("same"), None, T0))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.event_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1


def test_claims_take_one_event_per_thread_and_skip_busy_threads(db: Database) -> None:
    for i in range(3):
        store.accept_event(db, "gram", _event(f"a{i}", fan="alice"), None, T0)
    store.accept_event(db, "gram", _event("b0", fan="bob"), None, T0)
    claimed = store.claim_due(db, "w1", 10, set(), 30, T0)
    assert sorted(e.fan_id for e in claimed) == ["alice", "bob"]
    alice = next(e for e in claimed if e.fan_id == "alice")
    assert alice.message_id == "a0"  # the oldest of the thread first
    busy = {store.thread_of(alice)}
    assert store.claim_due(db, "w2", 10, busy, 30, T0) == []
    # Without the busy set another worker may take alice's next message (their own thread
    # bookkeeping is what serialises a thread within one worker).
    assert [e.message_id for e in store.claim_due(db, "w2", 10, set(), 30, T0)] == ["a1"]


def test_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(db: Database) -> None:
    store.accept_event(db, "gram", _event("m1"), None, T0)
    (event,) = store.claim_due(db, "crashed", 5, set(), 30, T0)
    assert event.status == EventStatus.PROCESSING and event.attempts == 1
    assert store.claim_due(db, "w2", 5, set(), 30, T0 + timedelta(seconds=29)) == []
    store.renew_leases(db, "crashed", {event.id}, 30, T0 + timedelta(seconds=20))
    assert store.claim_due(db, "w2", 5, set(), 30, T0 + timedelta(seconds=45)) == []
    (again,) = store.claim_due(db, "w2", 5, set(), 30, T0 + timedelta(seconds=51))
    assert again.id == event.id and again.attempts == 2 and again.lease_owner == "w2"

    assert store.finish_with_reply(db, "crashed", _reply(event, "late"), T0) is None
    reply_id = store.finish_with_reply(db, "w2", _reply(again), T0)
    assert reply_id is not None
    assert store.finish_with_reply(db, "w2", _reply(again, "twice"), T0) is None
    assert _count_replies(db) == 1
    with db.session() as session:
        row = session.get(InboxEvent, event.id)
        assert row.status == EventStatus.DONE and row.lease_owner is None


def test_unique_reply_per_event_even_if_the_event_row_was_reset(db: Database) -> None:
    store.accept_event(db, "gram", _event("m1"), None, T0)
    (event,) = store.claim_due(db, "w1", 5, set(), 30, T0)
    assert store.finish_with_reply(db, "w1", _reply(event), T0) is not None
    with db.session() as session:  # simulate a stale status: the reply row still guards
        session.get(InboxEvent, event.id).status = EventStatus.PENDING
    (event,) = store.claim_due(db, "w1", 5, set(), 30, T0)
    assert store.finish_with_reply(db, "w1", _reply(event, "second"), T0) is None
    assert _count_replies(db) == 1


def test_release_and_retry_bookkeeping(db: Database) -> None:
    store.accept_event(db, "gram", _event("m1"), None, T0)
    (event,) = store.claim_due(db, "w1", 5, set(), 30, T0)
    later = T0 + timedelta(minutes=5)
    assert store.release(db, "w1", event.id, later, "outside active hours", counts_as_attempt=False)
    assert store.claim_due(db, "w1", 5, set(), 30, T0 + timedelta(minutes=4)) == []
    (event,) = store.claim_due(db, "w1", 5, set(), 30, later)
    assert event.attempts == 1 and event.reason == "outside active hours"
    assert not store.release(db, "other", event.id, later, "x", counts_as_attempt=True)
    assert store.finish(db, "w1", event.id, EventStatus.SKIPPED, "rate limit", later)
    assert store.claim_due(db, "w1", 5, set(), 30, later + timedelta(hours=1)) == []


def test_racing_workers_claim_each_event_once(db: Database) -> None:
    for i in range(40):
        store.accept_event(db, "gram", _event(f"m{i}", fan=f"fan{i}"), None, T0)
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def work(owner: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while batch := store.claim_due(db, owner, 3, set(), 30, T0):
            mine.extend(e.id for e in batch)
        claims[owner] = mine

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [event_id for ids in claims.values() for event_id in ids]
    assert len(every) == 40 and len(set(every)) == 40


def test_outbox_claims_and_status_guards(db: Database) -> None:
    store.accept_event(db, "gram", _event("m1"), None, T0)
    (event,) = store.claim_due(db, "w1", 5, set(), 30, T0)
    reply_id = store.finish_with_reply(db, "w1", _reply(event), T0)
    assert store.next_delivery_at(db, T0) == T0
    (claimed,) = store.claim_deliveries(db, 10, 60, T0)
    assert claimed.id == reply_id and claimed.attempts == 1
    assert store.claim_deliveries(db, 10, 60, T0 + timedelta(seconds=30)) == []
    # Leased: the next chance is when the lease ends, not its (past) due time.
    assert store.next_delivery_at(db, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=60)
    store.release_deliveries(db, {reply_id})
    assert store.next_delivery_at(db, T0 + timedelta(seconds=1)) == T0
    (claimed,) = store.claim_deliveries(db, 10, 60, T0 + timedelta(seconds=1))
    assert claimed.attempts == 2
    assert store.update_reply(db, reply_id, ReplyStatus.PENDING, status=ReplyStatus.SENT)
    assert not store.update_reply(db, reply_id, ReplyStatus.PENDING, status=ReplyStatus.DEAD)
    assert store.claim_deliveries(db, 10, 60, T0 + timedelta(hours=1)) == []


def test_migration_creates_the_tables_the_models_describe(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from channels.migrate import upgrade

    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'migrated.db'}"))
    try:
        upgrade(database.engine)
        with database.engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        database.dispose()
    ours = [d for d in diffs if "inbox_events" in repr(d) or "outbox_replies" in repr(d)]
    assert ours == []
