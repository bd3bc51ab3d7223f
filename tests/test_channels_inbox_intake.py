"""Group commit of the webhook intake (channels.inbox.intake, store.accept_events): many
webhooks in one transaction, each answered as it would be alone (new, duplicate, unknown
creator), acknowledged only after the commit, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from channels.inbox import intake, store
from channels.inbox.intake import IntakeWriter
from channels.inbox.models import EventStatus, InboxEvent
from channels.inbox.protocol import inbound_event
from persona.store import Creator, Database, DatabaseConfig
from persona.store.models import Base

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _database(url: str) -> Database:
    database = Database(DatabaseConfig(url))
    Base.metadata.create_all(database.engine)
    with database.session() as session:
        session.add(Creator(id="cc", display_name="C C", settings={}))
    return database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = _database(f"sqlite:///{tmp_path / 'intake.db'}")
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = _database(f"sqlite:///{tmp_path / 'intake.db'}")
        yield database
        database.dispose()
        return
    from tests.production_support import fresh_database, service_urls

    with fresh_database(service_urls()) as url:
        database = _database(url)
        try:
            yield database
        finally:
            database.dispose()


def _arrival(message_id: str, creator: str = "cc", platform: str = "gram") -> store.Arrival:
    event = inbound_event.validate_python(
        {
            "type": "dm",
            "creator_id": creator,
            "message_id": message_id,
            "fan": {"id": f"fan-{message_id}"},
            "text": f"hello {message_id}",
        }
    )
    return store.Arrival(platform, event, None, T0)


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count(InboxEvent.id))) or 0


def test_one_transaction_answers_each_webhook_as_it_would_be_answered_alone(
    any_db: Database,
) -> None:
    db = any_db
    before = store.accept_event(db, "gram", _arrival("old").event, None, T0)
    commits: list[int] = []
    sa_event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    answers = store.accept_events(
        db,
        [
            _arrival("a"),
            _arrival("old"),  # stored before: the first one's id, duplicate
            _arrival("b"),
            _arrival("a"),  # twice in the batch: a duplicate of the first copy
            _arrival("x", creator="nobody"),
            _arrival("a", platform="tok"),  # another platform's message id: its own event
        ],
    )
    assert len(commits) == 1, "the batch is one transaction"
    a, old, b, a_again, nobody, tok = answers
    assert isinstance(a, store.Accepted) and not a.duplicate
    assert old == store.Accepted(before.event_id, EventStatus.PENDING, True)
    assert isinstance(b, store.Accepted) and not b.duplicate and b.event_id != a.event_id
    assert a_again == store.Accepted(a.event_id, EventStatus.PENDING, True)
    assert isinstance(nobody, store.UnknownCreator)
    assert isinstance(tok, store.Accepted) and not tok.duplicate
    assert _count(db) == 4
    # What accept_event answers for the same deliveries afterwards.
    assert store.accept_event(db, "gram", _arrival("b").event, None, T0) == store.Accepted(
        b.event_id, EventStatus.PENDING, True
    )
    with db.session() as session:
        row = session.get(InboxEvent, b.event_id)
        assert (row.message_id, row.fan_id, row.text) == ("b", "fan-b", "hello b")


def test_a_key_stored_by_another_process_meanwhile_falls_back_to_one_at_a_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the batch's look-up and its INSERT another worker stores one of its keys:
    the unique key refuses the batch, and each webhook is stored alone instead."""
    insert_rows = store.insert_rows
    raced: list[store.Accepted] = []

    def racing_insert(connection, rows):  # noqa: ANN001, ANN202 - the patched signature
        if not raced:
            raced.append(store.accept_event(db, "gram", _arrival("m2").event, None, T0))
        return insert_rows(connection, rows)

    monkeypatch.setattr(store, "insert_rows", racing_insert)
    answers = store.accept_events(db, [_arrival("m1"), _arrival("m2"), _arrival("m3")])
    assert [a.duplicate for a in answers] == [False, True, False]
    assert answers[1].event_id == raced[0].event_id
    assert _count(db) == 3


async def test_concurrent_webhooks_share_transactions_and_are_answered_after_the_commit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[int] = []
    writer = IntakeWriter(db, on_commit=woken.append)
    writer.start()
    # Hold the first commit until the test lets it go: nobody is answered before it.
    gate = threading.Event()
    committing = threading.Event()
    accept_events = store.accept_events

    def held(database: Database, arrivals: list[store.Arrival]) -> list:
        committing.set()
        gate.wait(30)
        return accept_events(database, arrivals)

    monkeypatch.setattr(store, "accept_events", held)
    try:
        tasks = [asyncio.create_task(writer.accept(_arrival(f"m{i}"))) for i in range(40)]
        # The writer holds arrivals in its first commit: an answer from here on is early.
        assert await asyncio.to_thread(committing.wait, 30)
        assert not any(t.done() for t in tasks), "answered before its commit"
        assert _count(db) == 0
        gate.set()
        answers = await asyncio.gather(*tasks)
        assert all(not a.duplicate for a in answers)
        assert len({a.event_id for a in answers}) == 40 == _count(db)
        assert writer.batches < 40, "one transaction a webhook"
        assert sum(woken) == 40
        # Replays and an unknown creator, in one go: each gets its own answer.
        again = writer.accept(_arrival("m3"))
        nobody = writer.accept(_arrival("zz", creator="nobody"))
        replay, refused = await asyncio.gather(again, nobody, return_exceptions=True)
        assert replay == store.Accepted(answers[3].event_id, EventStatus.PENDING, True)
        assert isinstance(refused, store.UnknownCreator)
    finally:
        gate.set()
        await writer.stop()
    # Stopped: still stored, one transaction each.
    late = await writer.accept(_arrival("late"))
    assert not late.duplicate and _count(db) == 41


async def test_a_failed_batch_answers_each_of_its_webhooks_with_the_error(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(database: Database, arrivals: list[store.Arrival]) -> list:
        raise RuntimeError("database unavailable")

    writer = IntakeWriter(db)
    writer.start()
    monkeypatch.setattr(store, "accept_events", broken)
    try:
        results = await asyncio.gather(
            *(writer.accept(_arrival(f"m{i}")) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        monkeypatch.undo()
        # The writer keeps going after a failed batch.
        assert not (await writer.accept(_arrival("m9"))).duplicate
    finally:
        await writer.stop()


def test_one_webhook_alone_keeps_the_unknown_creator_error(db: Database) -> None:
    with pytest.raises(store.UnknownCreator):
        intake.accept_one(db, _arrival("x", creator="nobody"))
