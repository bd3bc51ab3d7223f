"""The worker's own decisions, in process, with reply-engine doubles that block, fail or
hold: a clean stop hands events back, errors are retried then given up, engine holds and
blocks land in the approval queue or the skip list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from channels.hub import Hub
from channels.inbox import store
from channels.inbox.config import InboxConfig
from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus
from channels.inbox.policy import DMPolicy, ReplyDelay, store_policy
from channels.inbox.protocol import inbound_event
from channels.inbox.worker import start_worker
from persona.engine import ReplyAction, ReplyRequest, ReplyResult
from persona.store import Creator, Database, DatabaseConfig
from persona.store.models import Base


class BlockingEngine:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def reply(self, request: ReplyRequest) -> ReplyResult:
        self.started.set()
        await self.release.wait()
        return ReplyResult(request.creator_id, "late", ReplyAction.SEND, label="AI")


class FailingEngine:
    calls = 0

    async def reply(self, request: ReplyRequest) -> ReplyResult:
        self.calls += 1
        raise RuntimeError("model server unreachable")


class DecidingEngine:
    """Answers with the action named in the message ("hold ...", "block ...")."""

    async def reply(self, request: ReplyRequest) -> ReplyResult:
        action = ReplyAction(request.message.split(":")[0])
        return ReplyResult(
            request.creator_id,
            "" if action == ReplyAction.BLOCK else f"reply to {request.message}",
            action,
            reason="a test decision",
            category="commitment_request" if action == ReplyAction.HOLD else "abuse",
            label="AI",
        )


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'worker.db'}"))
    Base.metadata.create_all(database.engine)
    quiet = DMPolicy(reply_delay=ReplyDelay(min_s=0, max_s=0))
    with database.session() as session:
        session.add(Creator(id="cc", display_name="C C", settings=store_policy({}, "dm", quiet)))
    yield database
    database.dispose()


def _services(db: Database, engine: Any) -> SimpleNamespace:
    hub = Hub()
    hub.bind_loop(asyncio.get_running_loop())
    return SimpleNamespace(db=db, hub=hub, settings=SimpleNamespace(), engine=engine)


def _config(**values: Any) -> InboxConfig:
    return InboxConfig(inbox_poll_s=0.05, inbox_lease_s=5, **values)


def _accept(db: Database, message_id: str, text: str = "hello") -> int:
    event = inbound_event.validate_python(
        {
            "type": "dm",
            "creator_id": "cc",
            "message_id": message_id,
            "fan": {"id": f"fan-{message_id}"},
            "text": text,
        }
    )
    return store.accept_event(db, "gram", event, None, datetime.now(UTC)).event_id


def _row(db: Database, event_id: int) -> InboxEvent:
    with db.session() as session:
        return session.get(InboxEvent, event_id)


def _replies(db: Database) -> list[OutboxReply]:
    with db.session() as session:
        return list(session.scalars(select(OutboxReply)))


async def _until(predicate: Any, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_a_clean_stop_hands_the_event_back_for_the_next_worker(db: Database) -> None:
    engine = BlockingEngine()
    handle = start_worker(_services(db, engine), _config())
    event_id = _accept(db, "m1")
    handle.worker.kick()
    await asyncio.wait_for(engine.started.wait(), 30)
    assert _row(db, event_id).status == EventStatus.PROCESSING
    await handle.stop()
    row = _row(db, event_id)
    assert row.status == EventStatus.PENDING and row.lease_owner is None
    assert row.attempts == 0 and row.reason == "worker stopped"
    assert _replies(db) == []


async def test_engine_errors_are_retried_with_backoff_then_given_up(db: Database) -> None:
    engine = FailingEngine()
    handle = start_worker(
        _services(db, engine), _config(inbox_max_attempts=3, inbox_retry_base_s=0.05)
    )
    try:
        event_id = _accept(db, "m1")
        handle.worker.kick()
        await _until(lambda: _row(db, event_id).status == EventStatus.FAILED)
    finally:
        await handle.stop()
    row = _row(db, event_id)
    assert engine.calls == 3 and row.attempts == 3
    assert row.reason == "gave up after 3 attempts: internal error"
    assert _replies(db) == []


async def test_engine_holds_go_to_approval_and_blocks_are_skipped(db: Database) -> None:
    handle = start_worker(_services(db, DecidingEngine()), _config())
    try:
        held_id = _accept(db, "m1", "hold: can we meet?")
        blocked_id = _accept(db, "m2", "block: an insult")
        sent_id = _accept(db, "m3", "send: hello")
        handle.worker.kick()
        await _until(
            lambda: all(
                _row(db, e).status not in (EventStatus.PENDING, EventStatus.PROCESSING)
                for e in (held_id, blocked_id, sent_id)
            )
        )
        await _until(lambda: any(r.status == ReplyStatus.SENT for r in _replies(db)), timeout_s=30)
    finally:
        await handle.stop()
    by_event = {r.event_id: r for r in _replies(db)}
    assert by_event[held_id].status == ReplyStatus.HELD
    assert by_event[held_id].review_reason.startswith("sensitive: commitment_request")
    assert blocked_id not in by_event
    blocked = _row(db, blocked_id)
    assert blocked.status == EventStatus.SKIPPED and blocked.reason.startswith("blocked: abuse")
    assert by_event[sent_id].status == ReplyStatus.SENT  # no callback: websocket only
