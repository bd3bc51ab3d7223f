"""Twitch connector, without a server: recorded Twitch lines (IRCv3 tags: bits, sub, resub,
subgift, raid; from Twitch's IRC docs, channel names changed to one) through the `irc`
library's parser into the real live intake and queue; PING/PONG; the message-rate window;
the chat line an answer becomes; the CLI; no token in a spec or a log."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from irc.client_aio import AioReactor
from pydantic import ValidationError
from typer.testing import CliRunner

from channels.cli.connect import connect_app
from channels.connectors.base import Context
from channels.connectors.registry import CONNECTORS
from channels.connectors.store import creator_specs
from channels.connectors.twitch import TwitchConnector, TwitchSpec, events
from channels.connectors.twitch.connector import outgoing
from channels.connectors.twitch.ratelimit import SlidingWindow
from channels.hub import Hub
from channels.live.answering import AnswerOutcome, LivePolicy
from channels.live.config import LiveConfig
from channels.live.manager import LiveManager
from channels.live.protocol import AnswerEvent
from channels.live.queue import QueueLimits, Work
from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID
from tests.conftest import make_settings

CHANNEL = "#ronni"
QUESTION = (
    "@badge-info=;badges=;color=#0D4200;display-name=Anna;emotes=;"
    "id=0b5c2f1c-0001-4a4e-9d59-2c4f0b7b0001;mod=0;room-id=1337;subscriber=0;"
    "tmi-sent-ts=1507246572675;turbo=0;user-id=501;user-type= "
    ":anna!anna@anna.tmi.twitch.tv PRIVMSG #ronni :what's your favourite tart recipe?"
)
JOIN = ":tom!tom@tom.tmi.twitch.tv JOIN #ronni"
BITS = (
    "@badge-info=;badges=staff/1,bits/1000;bits=100;color=;display-name=ronni;emotes=;"
    "id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=12345678;subscriber=0;"
    "tmi-sent-ts=1507246572675;turbo=1;user-id=12345678;user-type=staff "
    ":ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :cheer100 do you ship to Lyon?"
)
SUBGIFT = (
    "@badge-info=;badges=staff/1,premium/1;color=#0000FF;display-name=TWW2;emotes=;"
    "id=e9176cd8-5e22-4684-ad40-ce53c2561c5e;login=tww2;mod=0;msg-id=subgift;"
    "msg-param-months=1;msg-param-recipient-display-name=Mr_Woodchuck;"
    "msg-param-recipient-id=55554444;msg-param-recipient-name=mr_woodchuck;"
    "msg-param-sub-plan-name=House\\sof\\sNyoro~n;msg-param-sub-plan=1000;room-id=19571752;"
    "subscriber=0;system-msg=TWW2\\sgifted\\sa\\sTier\\s1\\ssub\\sto\\sMr_Woodchuck!;"
    "tmi-sent-ts=1521159445153;turbo=0;user-id=87654321;user-type=staff "
    ":tmi.twitch.tv USERNOTICE #ronni"
)
RESUB = (
    "@badge-info=;badges=staff/1,broadcaster/1,turbo/1;color=#008000;display-name=ronni;"
    "emotes=;id=db25007f-7a18-43eb-9379-80131e44d633;login=ronni;mod=0;msg-id=resub;"
    "msg-param-cumulative-months=6;msg-param-streak-months=2;"
    "msg-param-should-share-streak=1;msg-param-sub-plan=Prime;msg-param-sub-plan-name=Prime;"
    "room-id=12345678;subscriber=1;system-msg=ronni\\shas\\ssubscribed\\sfor\\s6\\smonths!;"
    "tmi-sent-ts=1507246572675;turbo=1;user-id=87654321;user-type=staff "
    ":tmi.twitch.tv USERNOTICE #ronni :Great stream -- keep it up!"
)
RAID = (
    "@badge-info=;badges=turbo/1;color=#9ACD32;display-name=TestChannel;emotes=;"
    "id=3d830f12-795c-447d-af3c-ea05e40fbddb;login=testchannel;mod=0;msg-id=raid;"
    "msg-param-displayName=TestChannel;msg-param-login=testchannel;"
    "msg-param-viewerCount=15;room-id=33332222;subscriber=0;"
    "system-msg=15\\sraiders\\sfrom\\sTestChannel\\shave\\sjoined\\n!;"
    "tmi-sent-ts=1507246572675;turbo=1;user-id=123456;user-type= "
    ":tmi.twitch.tv USERNOTICE #ronni"
)


class Recorder:
    """An answerer that records what the stream asked it to answer, in order."""

    def __init__(self) -> None:
        self.done: list[tuple[str, float | None]] = []

    async def policy(self) -> LivePolicy:
        return LivePolicy(cadence_s=0.1)

    async def answer(self, work: Work) -> AnswerOutcome:
        amount = work.paid.amount if work.paid is not None else None
        self.done.append((work.kind, amount))
        event = AnswerEvent(kind=work.kind, text="ok", label="AI", action="send", at=0.0)  # type: ignore[arg-type]
        return AnswerOutcome(event)


class FakeTransport:
    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass


def connector_on(live: LiveManager) -> TwitchConnector:
    spec = TwitchSpec(channel=CHANNEL, nick="persona_bot", stream_id="main")
    settings = SimpleNamespace(twitch_tokens={})
    return TwitchConnector("c1", spec, Context(live=live, settings=settings))


def feed(connector: TwitchConnector, *lines: str) -> Any:
    """Lines as the server would send them, through the library's parser and dispatch."""
    reactor = AioReactor(loop=asyncio.get_running_loop())
    connector.bind(reactor, asyncio.Event(), asyncio.Event())
    conn = reactor.server()
    conn.buffer = conn.buffer_class()
    conn.real_nickname, conn.real_server_name = "persona_bot", ""
    conn.handlers = {}
    conn.transport, conn.connected = FakeTransport(), True
    conn.process_data(b"".join(line.encode() + b"\r\n" for line in lines))
    return conn


def test_recorded_twitch_lines_become_live_messages() -> None:
    from irc.message import Tag

    def tags(line: str) -> dict[str, str]:
        return events.tag_dict(Tag.from_group(line[1:].split(" ", 1)[0]))

    bits = events.from_privmsg("ronni", "cheer100 do you ship to Lyon?", tags(BITS))
    assert bits is not None
    assert bits["kind"] == "paid" and bits["amount"] == pytest.approx(1.0)
    assert bits["text"] == "do you ship to Lyon?"  # the cheermote is not a word of it
    assert bits["id"] == "b34ccfc7-4977-403a-8a94-33c6bac34fb8" and bits["user"] == "12345678"
    resub = events.from_usernotice("", "Great stream -- keep it up!", tags(RESUB))
    assert resub is not None and resub["kind"] == "paid" and resub["amount"] == 4.99
    assert resub["name"] == "ronni" and resub["text"] == "Great stream -- keep it up!"
    gift = events.from_usernotice("", "", tags(SUBGIFT))
    assert gift is not None and gift["kind"] == "gift" and gift["name"] == "TWW2"
    assert events.from_usernotice("", "", tags(RAID)) is None
    plain = events.from_privmsg("viewer1", "hello there", {})
    assert plain is not None and plain["kind"] == "chat" and plain["user"] == "viewer1"
    again = events.from_privmsg("viewer1", "hello there", {})
    assert again is not None and again["id"] != plain["id"]  # untagged: ids still unique


async def test_paid_and_subscriptions_are_answered_before_questions_and_greetings() -> None:
    recorder = Recorder()
    config = LiveConfig(cadence_s=0.05, idle_poll_s=0.02, queue=QueueLimits(greet_min_wait_s=0))
    live = LiveManager(SimpleNamespace(hub=Hub(), settings=None), config, lambda c, s: recorder)
    connector = connector_on(live)
    # The question and the join come first; paid messages still go before them.
    feed(connector, QUESTION, JOIN, BITS, SUBGIFT, RAID, RESUB)
    try:
        async with asyncio.timeout(20):
            while len(recorder.done) < 5:
                await asyncio.sleep(0.02)
    finally:
        await live.stop()
    kinds = [kind for kind, _ in recorder.done]
    assert kinds == ["gift", "paid", "paid", "question", "welcome"]
    assert recorder.done[2][1] == pytest.approx(1.0)  # 100 bits after the $4.99 subs
    assert connector.counters.received == 5  # the raid is not a message to answer


async def test_ping_is_answered_with_pong() -> None:
    live = LiveManager(SimpleNamespace(hub=Hub(), settings=None), LiveConfig())
    conn = feed(connector_on(live), "PING :tmi.twitch.tv")
    assert b"PONG" in conn.transport.written and b"tmi.twitch.tv" in conn.transport.written


def test_the_rate_window_holds_messages_over_the_limit() -> None:
    window = SlidingWindow(limit=2, window_s=30)
    assert window.wait_s(0.0) == 0
    window.record(0.0)
    window.record(1.0)
    assert window.wait_s(2.0) == pytest.approx(28.0)
    assert window.wait_s(30.5) == 0  # the first left the window


def test_an_answer_becomes_one_labelled_chat_line() -> None:
    line = outgoing({"kind": "question", "names": ["Anna"], "text": "two\nlines  here"})
    assert line == "[AI] @Anna two lines here"
    long = outgoing({"kind": "welcome", "names": ["a", "b"], "text": "word " * 200})
    assert len(long) <= 450 and long.startswith("[AI] word") and long.endswith("…")


def test_no_token_in_a_spec_nor_in_the_library_logs(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValidationError):
        CONNECTORS.spec(
            {"kind": "twitch", "channel": "#a", "nick": "b", "stream_id": "s", "token": "x"}
        )
    live = LiveManager(SimpleNamespace(hub=Hub(), settings=None), LiveConfig())
    connector_on(live)  # installs the log filter
    caplog.set_level(logging.DEBUG, logger="irc.client_aio")
    logging.getLogger("irc.client_aio").debug("RAW: PASS oauth:abcdef123456")
    assert "abcdef123456" not in caplog.text and "PASS ***" in caplog.text


def test_persona_connect_twitch_stores_the_connector(demo_dir: Path) -> None:
    env = {
        "PERSONA_DATA_DIR": str(demo_dir),
        "PERSONA_LLM_BACKEND": "scripted",
        "PERSONA_LOG_LEVEL": "WARNING",
    }
    args = ["twitch", DEMO_CREATOR_ID, "#Camille", "--nick", "camille_bot", "--stream", "main"]
    result = CliRunner().invoke(connect_app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "twitch:#camille" in result.output
    services = Services.build(make_settings(demo_dir))
    try:
        specs = creator_specs(services.db, DEMO_CREATOR_ID)
    finally:
        services.close()
    assert [(s.id, s.stream_id, s.nick) for s in specs] == [
        ("twitch:#camille", "main", "camille_bot")
    ]
    removed = CliRunner().invoke(
        connect_app, ["remove", DEMO_CREATOR_ID, "twitch:#camille"], env=env
    )
    assert removed.exit_code == 0, removed.output
