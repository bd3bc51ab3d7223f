"""YouTube live chat connector in process, against a local server speaking the Data API's
documented JSON (tests/youtube_api_server.py; not YouTube): chat and Super Chats through the
real live intake and queue (paid first), answers inserted in the chat within 200
characters, the page interval honoured (server-side times), a page served twice taken once,
the bot's own messages ignored, quotaExceeded backed off, the daily budget stopping answers
but not reading, the token never in a spec or a log; `persona connect youtube`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from channels.cli.connect import connect_app
from channels.connectors.base import Context, State
from channels.connectors.registry import CONNECTORS
from channels.connectors.store import creator_specs
from channels.connectors.youtube import YouTubeConnector, YouTubeSpec, events
from channels.connectors.youtube.connector import outgoing
from channels.connectors.youtube.quota import INSERT_COST, LIST_COST
from channels.hub import Hub
from channels.live.answering import AnswerOutcome, LivePolicy
from channels.live.config import LiveConfig
from channels.live.manager import LiveManager
from channels.live.protocol import AnswerEvent
from channels.live.queue import QueueLimits, Work
from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID
from tests.conftest import make_settings
from tests.youtube_api_server import FakeYouTube, serve_youtube

TOKEN = "ya29.k33p-th1s-0ut-0f-the-l0gs"
CHAT_ID = "Cg0KC2xpdmVjaGF0MDAx"
MARGIN_S = 0.02  # clock granularity between the server's two readings


class Recorder:
    """An answerer that records what the stream asked it to answer, in order."""

    def __init__(self) -> None:
        self.done: list[tuple[str, float | None]] = []

    async def policy(self) -> LivePolicy:
        return LivePolicy(cadence_s=0.05)

    async def answer(self, work: Work) -> AnswerOutcome:
        amount = work.paid.amount if work.paid is not None else None
        self.done.append((work.kind, amount))
        event = AnswerEvent(
            kind=work.kind,  # type: ignore[arg-type]
            text=f"answer {len(self.done)}",
            label="AI",
            action="send",
            at=0.0,
        )
        return AnswerOutcome(event)


@pytest.fixture
def api() -> Iterator[tuple[FakeYouTube, str]]:
    fake = FakeYouTube(token=TOKEN, live_chat_id=CHAT_ID, interval_ms=250)
    with serve_youtube(fake) as base:
        yield fake, base


def make_connector(live: LiveManager, base: str, **settings: Any) -> YouTubeConnector:
    spec = YouTubeSpec(live_chat_id=CHAT_ID, stream_id="main", api_base=base)
    values = {
        "youtube_tokens": {"c1": SecretStr(TOKEN)},
        "connector_backoff_base_s": 0.4,
        "connector_backoff_max_s": 1.0,
        **settings,
    }
    return YouTubeConnector("c1", spec, Context(live=live, settings=SimpleNamespace(**values)))


def new_live(recorder: Recorder) -> LiveManager:
    config = LiveConfig(cadence_s=0.05, idle_poll_s=0.02, queue=QueueLimits(greet_min_wait_s=0))
    return LiveManager(SimpleNamespace(hub=Hub(), settings=None), config, lambda c, s: recorder)


async def until(check: Any, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def test_youtube_items_become_live_messages() -> None:
    fake = FakeYouTube(token=TOKEN, live_chat_id=CHAT_ID)
    text = events.from_item(fake.say("UCanna", "Anna", "what's in the tart?"))
    assert text == {
        "id": "LCC.msg000001",
        "user": "UCanna",
        "name": "Anna",
        "kind": "chat",
        "text": "what's in the tart?",
    }
    paid = events.from_item(fake.super_chat("UCbob", "Bob", "ship to Lyon?", 5_000_000))
    assert paid is not None and paid["kind"] == "paid" and paid["amount"] == 5.0
    assert paid["text"] == "ship to Lyon?"
    yen = events.from_item(fake.super_chat("UCken", "Ken", "hi", 1_000_000_000, "JPY"))
    assert yen is not None and yen["amount"] == pytest.approx(6.7)  # ranked in USD
    sponsor = {
        "id": "m1",
        "snippet": {"type": "newSponsorEvent"},
        "authorDetails": {"channelId": "UCx"},
    }
    assert (events.from_item(sponsor) or {}).get("kind") == "paid"
    milestone = {
        "id": "m2",
        "snippet": {
            "type": "memberMilestoneChatEvent",
            "memberMilestoneChatDetails": {"memberMonth": 6, "userComment": "6 months!"},
        },
        "authorDetails": {"channelId": "UCy"},
    }
    assert (events.from_item(milestone) or {}).get("text") == "6 months!"
    deleted = {
        "id": "m3",
        "snippet": {"type": "messageDeletedEvent"},
        "authorDetails": {"channelId": "UCz"},
    }
    assert events.from_item(deleted) is None


def test_an_answer_fits_youtube_s_200_characters() -> None:
    line = outgoing({"kind": "question", "names": ["Anna B"], "text": "two\nlines  here"})
    assert line == "[AI] @AnnaB two lines here"
    long = outgoing({"kind": "paid", "names": ["a"], "text": "word " * 100})
    assert len(long) <= 200 and long.startswith("[AI] @a word") and long.endswith("…")
    unbroken = outgoing({"kind": "welcome", "text": "x" * 500})
    assert len(unbroken) <= 200


async def test_paid_first_answered_in_the_chat_at_the_asked_interval(
    api: tuple[FakeYouTube, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, base = api
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    live = new_live(recorder)
    connector = make_connector(live, base)
    fake.say("UCanna", "Anna", "What's your favourite tart recipe?")
    fake.super_chat("UCbob", "Bob", "do you ship to Lyon?", 20_000_000, "EUR")
    await connector.start()
    try:
        await until(lambda: len(fake.answers()) >= 2)
        await until(lambda: len(fake.ok_polls()) >= 4)
        # The same page served again, then a new question: the replay is not taken twice.
        fake.replay = True
        await until(lambda: len(fake.ok_polls()) >= 6)
        fake.say("UCcid", "Cid", "Which oven do you use?")
        await until(lambda: len(fake.answers()) >= 3)
        await until(lambda: len(fake.ok_polls()) >= 9)  # the bot's answers were read back
    finally:
        await connector.stop()
        await live.stop()
    assert [kind for kind, _ in recorder.done] == ["paid", "question", "question"]
    assert recorder.done[0][1] == pytest.approx(21.6)  # 20 EUR in USD
    assert fake.answers()[0].startswith("[AI] ")
    health = connector.health()
    assert health.received == 3 and health.sent == 3 and health.state is State.STOPPED
    assert health.quota_used is not None and health.quota_used >= 9 * LIST_COST + 3 * INSERT_COST
    polls = fake.ok_polls()
    # pageToken continuity: each poll asked from where the previous page ended.
    assert polls[0].page_token == "" and all(p.page_token for p in polls[1:])
    # Never sooner than the interval the previous page asked for (server-side times).
    for before, after in zip(polls, polls[1:], strict=False):
        assert after.at - before.at >= before.interval_s - MARGIN_S
    assert TOKEN not in caplog.text


async def test_quota_exceeded_backs_off_and_the_daily_budget_stops_answers(
    api: tuple[FakeYouTube, str],
) -> None:
    fake, base = api
    recorder = Recorder()
    live = new_live(recorder)
    # A budget that no answer fits: reading goes on, answers are not sent.
    connector = make_connector(live, base, youtube_daily_quota_units=0)
    fake.errors = [(403, "quotaExceeded"), (403, "quotaExceeded")]
    fake.say("UCanna", "Anna", "Is the shop open on Sunday?")
    seen: list[str] = []
    await connector.start()
    try:
        await until(
            lambda: bool(seen.append(connector.health().last_error)) or len(fake.polls) >= 2
        )
        await until(lambda: recorder.done != [] and connector.health().not_sent != {})
    finally:
        await connector.stop()
        await live.stop()
    assert any("quotaExceeded" in error for error in seen)
    first, second, third = fake.polls[:3]
    assert (first.status, second.status, third.status) == (403, 403, 200)
    # Exponential backoff with jitter (0.5 to 1 of 0.4 s, then of 0.8 s).
    assert second.at - first.at >= 0.2 - MARGIN_S and third.at - second.at >= 0.4 - MARGIN_S
    health = connector.health()
    assert health.reconnects == 2 and health.received == 1
    assert health.not_sent == {"quota": 1} and health.sent == 0 and fake.answers() == []
    assert health.quota_budget == 0 and "daily quota budget reached" in health.last_error


async def test_without_a_token_it_does_not_poll(api: tuple[FakeYouTube, str]) -> None:
    fake, base = api
    live = new_live(Recorder())
    connector = make_connector(live, base, youtube_tokens={})
    await connector.start()
    await connector.stop()
    assert "PERSONA_YOUTUBE_TOKENS" in connector.health().last_error and fake.polls == []


def test_no_token_in_a_spec() -> None:
    with pytest.raises(ValidationError):
        CONNECTORS.spec(
            {"kind": "youtube", "live_chat_id": CHAT_ID, "stream_id": "s", "token": "x"}
        )
    with pytest.raises(ValidationError):
        YouTubeSpec(live_chat_id=CHAT_ID, stream_id="s", api_base="ftp://x")
    spec = CONNECTORS.spec({"kind": "youtube", "live_chat_id": CHAT_ID})
    assert spec.id == f"youtube:{CHAT_ID}" and "www.googleapis.com" in spec.remote()
    assert spec.stream_id == "youtube"


def test_persona_connect_youtube_stores_the_connector(demo_dir: Path) -> None:
    env = {
        "PERSONA_DATA_DIR": str(demo_dir),
        "PERSONA_LLM_BACKEND": "scripted",
        "PERSONA_LOG_LEVEL": "WARNING",
    }
    args = ["youtube", DEMO_CREATOR_ID, CHAT_ID, "--stream", "main"]
    args += ["--api-base", "http://127.0.0.1:9/"]
    result = CliRunner().invoke(connect_app, args, env=env)
    assert result.exit_code == 0, result.output
    assert f"youtube:{CHAT_ID}" in result.output and "PERSONA_YOUTUBE_TOKENS" in result.output
    services = Services.build(make_settings(demo_dir))
    try:
        specs = creator_specs(services.db, DEMO_CREATOR_ID)
    finally:
        services.close()
    assert [(s.id, s.stream_id, getattr(s, "api_base", "")) for s in specs] == [
        (f"youtube:{CHAT_ID}", "main", "http://127.0.0.1:9")
    ]
    bad = CliRunner().invoke(connect_app, ["youtube", DEMO_CREATOR_ID, "no spaces"], env=env)
    assert bad.exit_code == 2
    removed = CliRunner().invoke(connect_app, ["remove", DEMO_CREATOR_ID, specs[0].id], env=env)
    assert removed.exit_code == 0, removed.output
