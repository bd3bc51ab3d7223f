"""Paid live messages are durable (channels.live.paid): committed before the feed's ack,
answered exactly once even when the worker holding them is killed (kill -9, a real server
process) and another process takes over; chatter stays best-effort (never stored)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from channels.hub import Hub
from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus
from channels.live.answering import AnswerOutcome
from channels.live.answering import LivePolicy as StreamPolicy
from channels.live.config import LiveConfig
from channels.live.paid import LIVE, PaidLedger
from channels.live.protocol import AnswerEvent
from channels.live.queue import Work
from channels.live.stream import LiveStream
from persona.store import Creator, Database, DatabaseConfig
from persona.store.models import Base
from tests.inbox_support import (
    CREATOR,
    ServerProcess,
    database,
    issue_token,
    set_policy,
    wait_until,
)

PAID_TEXTS = [f"thank you for the lemon tart recipe number {i}!" for i in range(6)]


def paid(i: int) -> dict[str, Any]:
    return {
        "id": f"p{i}",
        "user": f"payer{i}",
        "name": f"Payer{i}",
        "kind": "paid" if i % 2 else "gift",
        "amount": 5 + i,
        "text": PAID_TEXTS[i],
    }


def live_rows(data_dir: Path) -> list[InboxEvent]:
    db = database(data_dir)
    try:
        with db.session() as session:
            return list(session.scalars(select(InboxEvent).where(InboxEvent.channel == LIVE)))
    finally:
        db.dispose()


def live_replies(data_dir: Path) -> list[OutboxReply]:
    db = database(data_dir)
    try:
        with db.session() as session:
            return list(session.scalars(select(OutboxReply).where(OutboxReply.channel == LIVE)))
    finally:
        db.dispose()


async def answers(out: ClientConnection, seen: list[dict[str, Any]]) -> None:
    """Every answer a viewer socket receives, until it closes."""
    async for raw in out:
        event = json.loads(raw)
        if event.get("type") == "answer":
            seen.append(event)


async def test_paid_messages_are_answered_once_after_their_worker_is_killed(
    demo_dir: Path, tmp_path: Path
) -> None:
    token = issue_token(demo_dir)
    # One answer a second: the paid messages wait in the stream's memory when it is killed.
    set_policy(demo_dir, "live", cadence_s=1.0)
    settings = {"inbox_lease_s": 1.5, "inbox_poll_s": 0.2}
    first = ServerProcess(demo_dir, tmp_path / "first.log", **settings).start()
    seen_before: list[dict[str, Any]] = []
    try:
        ws = first.url.replace("http", "ws")
        async with (
            connect(f"{ws}/ws/live/{CREATOR}/show/out") as out,
            connect(
                f"{ws}/ws/live/{CREATOR}/show/in",
                additional_headers={"Authorization": f"Bearer {token}"},
            ) as feed,
        ):
            listening = asyncio.create_task(answers(out, seen_before))
            chatter = {"id": "c1", "user": "v", "name": "V", "kind": "chat", "text": "lol"}
            await feed.send(json.dumps([paid(i) for i in range(6)] + [chatter]))
            ack = json.loads(await feed.recv())
            assert ack["accepted"] == 7
            # Acknowledged: every paid message is a committed row already; chatter is not.
            rows = live_rows(demo_dir)
            assert sorted(r.text for r in rows) == sorted(PAID_TEXTS)
            async with asyncio.timeout(60):
                while not seen_before:
                    await asyncio.sleep(0.05)
            first.kill()  # kill -9 with paid messages waiting in its memory
            listening.cancel()
    finally:
        first.kill()
    assert len(seen_before) < len(PAID_TEXTS), "all answered before the kill"

    second = ServerProcess(demo_dir, tmp_path / "second.log", **settings).start()
    try:

        def all_decided() -> bool:
            return all(
                r.status not in (EventStatus.PENDING, EventStatus.PROCESSING)
                for r in live_rows(demo_dir)
            )

        # The dead worker's leases run out; the new process's inbox worker answers the rest.
        wait_until(all_decided, timeout_s=90)
    finally:
        second.stop()
    rows = {r.id: r for r in live_rows(demo_dir)}
    replies = live_replies(demo_dir)
    assert all(r.status == EventStatus.DONE for r in rows.values()), [
        (r.text, r.status, r.reason) for r in rows.values()
    ]
    # Exactly one answer each (the reply row is unique per event: at most one by design).
    assert Counter(r.event_id for r in replies) == Counter(list(rows))
    assert all(r.status == ReplyStatus.SENT and r.text for r in replies)
    # What the first server's viewers saw is one of those answers, never a second one.
    by_text = {rows[r.event_id].text: r for r in replies}
    for event in seen_before:
        assert event["kind"] in ("paid", "gift")
        assert by_text[event["question"]].text == event["text"]
    assert len({e["question"] for e in seen_before}) == len(seen_before)
    # Published: by the second server, or seen published by the first (its flag may have
    # been cut by the kill).
    seen = {e["question"] for e in seen_before}
    assert all(r.published or rows[r.event_id].text in seen for r in replies)


# -- the stream and its ledger, in process -----------------------------------------------------


class Recorder:
    """Answers each item at once, recording what it answered."""

    def __init__(self) -> None:
        self.answered: list[Work] = []

    async def policy(self) -> StreamPolicy:
        return StreamPolicy(cadence_s=0.1)

    async def answer(self, work: Work) -> AnswerOutcome:
        self.answered.append(work)
        assert work.paid is not None
        return AnswerOutcome(
            AnswerEvent(kind="gift", text="thanks!", label="AI", action="send", question="", at=0.0)
        )


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database_ = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'live.db'}"))
    Base.metadata.create_all(database_.engine)
    with database_.session() as session:
        session.add(Creator(id="cc", display_name="C C", settings={}))
    yield database_
    database_.dispose()


def _stream(db: Database, answerer: Any) -> LiveStream:
    config = LiveConfig(cadence_s=0.1, idle_poll_s=0.02, view_interval_s=0.05)
    return LiveStream("cc", "s1", config, answerer, Hub().publish, None, PaidLedger(db, 30.0))


async def test_a_viewers_gifts_merge_and_every_row_is_settled(db: Database) -> None:
    answerer = Recorder()
    stream = _stream(db, answerer)
    gifts = [
        {"id": f"g{i}", "user": "anna", "name": "Anna", "kind": "gift", "amount": 1}
        for i in range(3)
    ]
    stream.intake_frame(json.dumps(gifts))
    await stream.paid_stored()
    stream.start()

    def published() -> bool:
        with db.session() as session:
            return any(r.published for r in session.scalars(select(OutboxReply)))

    # Answered, recorded, then published: stopping between the last two leaves the reply
    # recorded and unpublished (the stream ended), so wait for the publication itself.
    async with asyncio.timeout(30):
        while not (answerer.answered and published()):
            await asyncio.sleep(0.02)
    await stream.stop("ended")
    with db.session() as session:
        rows = list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        replies = list(session.scalars(select(OutboxReply)))
    # One thank-you for the three gifts: one reply, the other rows settled with it.
    assert len(answerer.answered) == 1 and answerer.answered[0].size == 3
    assert [r.status for r in rows] == [EventStatus.DONE] + [EventStatus.SKIPPED] * 2
    assert all(r.reason.startswith("merged") for r in rows[1:])
    assert len(replies) == 1 and replies[0].event_id == rows[0].id and replies[0].published
    assert stream.metrics.unaccounted == 0


async def test_a_resent_paid_message_is_not_queued_twice_and_a_stop_hands_back(
    db: Database,
) -> None:
    message = {"id": "p1", "user": "u", "name": "U", "kind": "paid", "amount": 3, "text": "hi"}
    before = _stream(db, Recorder())
    before.intake_frame(json.dumps([message]))
    await before.paid_stored()
    # The stream ends before answering: its paid message goes back to the inbox, due now.
    await before.stop("shutdown")
    with db.session() as session:
        (row,) = session.scalars(select(InboxEvent))
    assert row.status == EventStatus.PENDING and row.lease_owner is None
    # The feed sends it again (to a new stream): the row answers for it, not a second copy.
    after = _stream(db, Recorder())
    after.intake_frame(json.dumps([message]))
    await after.paid_stored()
    assert after.queue.paid_waiting == 0
    assert after.metrics.dropped["duplicate_id"] == 1 and after.metrics.unaccounted == 0
    await after.stop("shutdown")
