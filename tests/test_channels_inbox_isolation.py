"""Creators and fans kept apart in the inbox (issue 14), through the real server on loopback:
a message id is unique per creator, not across creators; the migrations that bring an
existing database there keep its rows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from channels.inbox.models import EventStatus, InboxEvent, OutboxReply
from channels.migrate import upgrade
from persona.store import Creator, Database, DatabaseConfig
from tests.test_channels_inbox_support import (
    CREATOR,
    database,
    dm,
    events,
    post_webhook,
    replies,
    running_server,
    set_policy,
    wait_until,
)

OTHER = "other.creator"
T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def data_dir(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("isolation") / "data"
    shutil.copytree(demo_template, target)
    db = database(target)
    try:
        with db.session() as session:
            session.add(Creator(id=OTHER, display_name="Other", settings={}))
    finally:
        db.dispose()
    set_policy(target, "dm", reply_delay={"min_s": 0, "max_s": 0})
    return target


@pytest.fixture(scope="module")
def api(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with (
        running_server(data_dir, log) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def _decided(data_dir: Path, event_id: int) -> Any:
    event = next(e for e in events(data_dir) if e.id == event_id)
    return event if event.status not in (EventStatus.PENDING, EventStatus.PROCESSING) else None


# -- C: the duplicate check is per creator ---------------------------------------------------


def test_another_creators_message_id_is_not_a_duplicate(api: httpx.Client, data_dir: Path) -> None:
    base = str(api.base_url)
    theirs = dm("hello other creator", fan="fan-of-other", creator_id=OTHER)
    first = post_webhook(api, base, theirs)
    assert first.status_code == 202 and first.json()["duplicate"] is False
    # The same platform message id, sent to another creator: a message of its own.
    ours = dm("coucou camille, une question sur ta tarte", fan="fan-c")
    ours["message_id"] = theirs["message_id"]
    second = post_webhook(api, base, ours)
    assert second.status_code == 202, second.text
    assert second.json()["duplicate"] is False
    assert second.json()["event_id"] != first.json()["event_id"]
    event = wait_until(lambda: _decided(data_dir, second.json()["event_id"]), 60)
    assert event.creator_id == CREATOR and event.text.startswith("coucou camille")
    assert [r.event_id for r in replies(data_dir)].count(event.id) == 1
    # A true retry to the same creator is still a duplicate.
    again = post_webhook(api, base, ours)
    assert again.json() == {**second.json(), "duplicate": True, "status": event.status}


def test_upgrade_to_the_creator_key_keeps_every_row(tmp_path: Path) -> None:
    """The migration rebuilds `inbox_events` on SQLite: their replies must survive it (with
    foreign keys on, dropping the old table cascaded to `outbox_replies`)."""
    db = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'old.db'}"))
    try:
        upgrade(db.engine, "0005_console")
        event = {
            "platform": "p",
            "message_id": "m-1",
            "creator_id": "a",
            "channel": "dm",
            "thread_key": "t",
            "fan_id": "f",
            "text": "hi",
            "text_hash": "h",
            "payload": {},
            "status": "done",
            "reason": "",
            "not_before": T0,
            "attempts": 0,
            "received_at": T0,
        }
        with db.engine.begin() as connection:
            for creator_id in ("a", "b"):
                connection.execute(
                    insert(Creator).values(id=creator_id, display_name=creator_id, settings={})
                )
            connection.execute(insert(InboxEvent).values(id=1, **event))
            connection.execute(
                insert(OutboxReply).values(
                    event_id=1,
                    creator_id="a",
                    platform="p",
                    channel="dm",
                    thread_key="t",
                    in_reply_to="m-1",
                    fan_id="f",
                    text="hello",
                    action="send",
                    status="sent",
                    next_attempt_at=T0,
                    created_at=T0,
                )
            )
        upgrade(db.engine)
        with db.engine.begin() as connection:
            # Creator b may now use the same platform message id.
            connection.execute(insert(InboxEvent).values(**{**event, "creator_id": "b"}))
        with db.session() as session:
            assert session.scalars(select(OutboxReply.text)).all() == ["hello"]
            rows = session.execute(select(InboxEvent.creator_id, InboxEvent.message_id)).all()
        assert sorted(rows) == [("a", "m-1"), ("b", "m-1")]
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()
