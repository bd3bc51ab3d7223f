"""Creators and fans kept apart in the inbox (issue 14), through the real server on loopback:
a message id is unique per creator, not across creators; a fan is their platform id, never
their handle; the migrations that bring an existing database there keep its rows."""

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
from persona.engine import Channel, fan_key
from persona.engine.memory import ConversationStore
from persona.store import Conversation, Creator, Database, DatabaseConfig, Fan, Message
from tests.inbox_support import (
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


# -- A: a fan is their platform id, never their handle ----------------------------------------


def _fan_of(data_dir: Path, text: str) -> Fan:
    """The fan record the engine recorded this fan message under."""
    db = database(data_dir)
    try:
        with db.session() as session:
            message = session.scalars(select(Message).where(Message.text == text)).one()
            fan = session.get(Fan, message.fan_id)
            assert fan is not None
            session.expunge(fan)
            return fan
    finally:
        db.dispose()


def _answered(api: httpx.Client, data_dir: Path, event: dict[str, Any]) -> None:
    response = post_webhook(api, str(api.base_url), event)
    assert response.status_code == 202, response.text
    wait_until(lambda: _decided(data_dir, response.json()["event_id"]), 60)


def test_a_handle_equal_to_another_fans_id_does_not_reach_their_memory(
    api: httpx.Client, data_dir: Path
) -> None:
    secret = "Jane Doe, 12 Rose Street, door code 4321"
    victim = dm("coucou, tu livres tes tartes rue des Roses ?", fan="1001")
    victim["fan"] = {"id": "1001", "name": "Jane"}  # no handle on this platform
    _answered(api, data_dir, victim)
    victim_fan = _fan_of(data_dir, victim["text"])
    db = database(data_dir)
    try:  # what the summariser keeps of this fan
        with db.session() as session:
            session.get(Fan, victim_fan.id).summary = secret
    finally:
        db.dispose()

    attacker = dm("salut ! tu te souviens de moi ?", fan="2002")
    attacker["fan"] = {"id": "2002", "handle": "1001", "name": "Mallory"}
    _answered(api, data_dir, attacker)
    attacker_fan = _fan_of(data_dir, attacker["text"])
    assert attacker_fan.id != victim_fan.id
    assert secret not in attacker_fan.summary


def test_a_fan_who_changes_handle_keeps_their_memory(api: httpx.Client, data_dir: Path) -> None:
    before = dm("je m'appelle Lou et j'adore ta tarte au citron", fan="3003")
    before["fan"] = {"id": "3003", "handle": "lou_old"}
    _answered(api, data_dir, before)
    after = dm("tu te souviens de ma tarte préférée ?", fan="3003")
    after["fan"] = {"id": "3003", "handle": "lou_new"}
    _answered(api, data_dir, after)
    assert _fan_of(data_dir, before["text"]).id == _fan_of(data_dir, after["text"]).id


def test_webhook_platforms_cannot_take_the_platforms_own_fan_sources() -> None:
    from channels.inbox.config import InboxConfig

    for name in ("space", "live", "api", "Bad:Name"):
        with pytest.raises(ValueError, match="platform name"):
            InboxConfig(webhook_secrets={name: "s" * 32})


def test_upgrade_moves_fans_to_their_id_and_sets_shared_records_apart(tmp_path: Path) -> None:
    db = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'old.db'}"))
    try:
        upgrade(db.engine, "0006_inbox_creator_key")
        with db.engine.begin() as connection:
            connection.execute(insert(Creator).values(id="a", display_name="A", settings={}))
            for n, (fan_id, handle) in enumerate(
                [("1001", None), ("2002", "1001"), ("555", None), ("555", "alice")]
            ):
                connection.execute(
                    insert(InboxEvent).values(
                        platform="p",
                        message_id=f"m{n}",
                        creator_id="a",
                        channel="dm",
                        thread_key=fan_id,
                        fan_id=fan_id,
                        fan_handle=handle,
                        text="hi",
                        text_hash="h",
                        payload={},
                        status="done",
                        reason="",
                        not_before=T0,
                        attempts=0,
                        received_at=T0,
                    )
                )
            # Old keys: the victim and the fan whose handle was their id shared p:1001.
            old = {
                "p:1001": ("dm", "door code 4321"),
                "p:555": ("dm", ""),
                "p:alice": ("dm", "loves lemon tart"),
                "viewer9": ("live", "live viewer"),
                "bob": ("api", "api fan"),
                "space:visitor-123456": ("space", "space visitor"),
            }
            for n, (handle, (channel, summary)) in enumerate(old.items(), start=1):
                connection.execute(
                    insert(Fan).values(id=n, creator_id="a", handle=handle, summary=summary)
                )
                connection.execute(
                    insert(Conversation).values(
                        id=n, creator_id="a", fan_id=n, channel=channel, external_id=f"t{n}"
                    )
                )
                connection.execute(
                    insert(Message).values(
                        conversation_id=n, fan_id=n, role="fan", text=handle, meta={}
                    )
                )
        upgrade(db.engine)
        with db.session() as session:
            keys = {f.handle: f.summary for f in session.scalars(select(Fan))}
            alice = session.scalars(select(Message).where(Message.text == "p:alice")).one()
            owner = session.get(Fan, alice.fan_id)
            assert owner is not None and owner.handle == "p:555"
        assert keys["p:555"] == "loves lemon tart"  # merged: one fan, one record
        assert keys["live:viewer9"] == "live viewer" and keys["api:bob"] == "api fan"
        assert keys["space:visitor-123456"] == "space visitor"
        # The shared record is kept for the history but no fan key reaches it any more.
        assert "p:1001" not in keys and "p:2002" not in keys
        (legacy,) = [k for k in keys if k.startswith("legacy?")]
        assert keys[legacy] == "door code 4321"
        memory = ConversationStore(db)
        for fan in ("1001", "2002"):
            state = memory.open("a", Channel.DM, f"p:dm:{fan}", fan_key("p", fan), None, 5)
            assert state.summary == ""
    finally:
        db.dispose()
