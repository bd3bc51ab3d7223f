"""The Matrix connector's parts that need no homeserver: the spec, `persona connect matrix`,
and how a Matrix message becomes an inbox event (DM or group, addressed or not). The
connector against a real Synapse: test_channels_connectors_matrix.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nio import RoomMessageText
from pydantic import ValidationError
from typer.testing import CliRunner

from channels.cli.connect import connect_app
from channels.connectors.base import Context
from channels.connectors.matrix.connector import MatrixConnector
from channels.connectors.matrix.spec import MatrixSpec
from channels.connectors.registry import CONNECTORS
from channels.connectors.store import creator_specs
from channels.inbox.protocol import DMEvent, GroupMessageEvent
from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID
from tests.conftest import make_settings

BOT = "@camille-ai:example.org"
ROOM = "!room:example.org"


def test_the_spec_is_checked_and_names_its_room() -> None:
    spec = CONNECTORS.spec({"kind": "matrix", "homeserver": "https://example.org", "user_id": BOT})
    assert isinstance(spec, MatrixSpec)
    assert spec.id == f"matrix:{BOT}" and spec.remote() == f"{BOT} on https://example.org"
    assert spec.feeds == "dm, group"
    for wrong in (
        {"homeserver": "example.org"},  # no scheme
        {"user_id": "camille-ai"},  # not a Matrix id
        {"stream_id": "main"},  # Matrix feeds the inbox, not a live stream
        {"access_token": "secret"},  # credentials are never part of a spec
    ):
        raw = {"kind": "matrix", "homeserver": "https://example.org", "user_id": BOT, **wrong}
        with pytest.raises(ValidationError):
            CONNECTORS.spec(raw)


def test_persona_connect_matrix_stores_the_connector(demo_dir: Path) -> None:
    env = {
        "PERSONA_DATA_DIR": str(demo_dir),
        "PERSONA_LLM_BACKEND": "scripted",
        "PERSONA_LOG_LEVEL": "WARNING",
    }
    args = ["matrix", DEMO_CREATOR_ID, BOT, "--homeserver", "https://example.org"]
    result = CliRunner().invoke(connect_app, args, env=env)
    assert result.exit_code == 0, result.output
    assert f"matrix:{BOT}" in result.output and "PERSONA_MATRIX_TOKENS" in result.output
    listed = CliRunner().invoke(connect_app, ["list", DEMO_CREATOR_ID], env=env)
    assert "dm, group" in listed.output, listed.output
    services = Services.build(make_settings(demo_dir))
    try:
        assert [s.id for s in creator_specs(services.db, DEMO_CREATOR_ID)] == [f"matrix:{BOT}"]
    finally:
        services.close()
    bad = CliRunner().invoke(connect_app, ["matrix", DEMO_CREATOR_ID, "bot", "--homeserver", "x"])
    assert bad.exit_code == 2 and "invalid connector" in bad.output


def connector(tmp_path: Path) -> MatrixConnector:
    settings = SimpleNamespace(data_dir=tmp_path, matrix_tokens={})
    live = SimpleNamespace(services=SimpleNamespace(db=None, hub=None))
    spec = MatrixSpec(homeserver="https://example.org", user_id=BOT)
    return MatrixConnector(DEMO_CREATOR_ID, spec, Context(live=live, settings=settings))  # type: ignore[arg-type]


def message(body: str, **content: Any) -> RoomMessageText:
    event = RoomMessageText.from_dict(
        {
            "type": "m.room.message",
            "event_id": "$event1",
            "sender": "@anna:example.org",
            "origin_server_ts": 1_700_000_000_000,
            "content": {"msgtype": "m.text", "body": body, **content},
        }
    )
    assert isinstance(event, RoomMessageText)
    return event


def test_a_room_of_two_is_a_dm_and_its_room_the_thread(tmp_path: Path) -> None:
    event = connector(tmp_path)._event(ROOM, message("Hi!"), 2, "Anna", None)
    assert isinstance(event, DMEvent)
    assert event.message_id == "$event1" and event.thread_key == ROOM
    assert (event.fan.id, event.fan.name) == ("@anna:example.org", "Anna")


def test_in_a_group_mentioning_the_bot_or_replying_to_it_addresses_the_creator(
    tmp_path: Path,
) -> None:
    double = connector(tmp_path)
    mentioned = double._event(
        ROOM, message("@double hi", **{"m.mentions": {"user_ids": [BOT]}}), 3, None, None
    )
    assert isinstance(mentioned, GroupMessageEvent)
    assert mentioned.reply_to_creator and mentioned.group_id == ROOM
    reply = message(
        f"> <{BOT}> Croissants take two days\n\nreally?",
        **{"m.relates_to": {"m.in_reply_to": {"event_id": "$bots"}}},
    )
    assert double._event(ROOM, reply, 3, None, None).reply_to_creator  # type: ignore[union-attr]
    other = message("ben?", **{"m.mentions": {"user_ids": ["@ben:example.org"]}})
    to_ben = double._event(ROOM, other, 3, None, None)
    assert isinstance(to_ben, GroupMessageEvent)
    assert not to_ben.reply_to_creator and to_ben.mentions == ["@ben:example.org"]
