"""A live stream in process: intake and acks, the answering loop, hub events, the manager.

The answerer here is a recording double (the reply engine is exercised through the real
server in test_channels_live_server.py)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from channels.hub import Hub
from channels.live.answering import AnswerOutcome, EngineAnswerer, LivePolicy, welcome_line
from channels.live.config import LiveConfig
from channels.live.manager import LiveCapacityError, LiveManager
from channels.live.moderation import cheap_moderation
from channels.live.protocol import AnswerEvent
from channels.live.queue import QueueLimits, Work
from channels.live.stream import LiveStream, topic
from persona.engine import Channel


class RecordingAnswerer:
    """Answers every item with a line naming it; can fail or pause on demand."""

    def __init__(self, cadence_s: float = 0.05) -> None:
        self.cadence_s = cadence_s
        self.paused = False
        self.fail = False
        self.hang = False
        self.works: list[Work] = []
        self.policy_reads: list[float] = []  # monotonic times the stream read the policy

    async def policy(self) -> LivePolicy:
        self.policy_reads.append(time.monotonic())
        return LivePolicy(cadence_s=self.cadence_s, paused=self.paused)

    async def answer(self, work: Work) -> AnswerOutcome:
        self.works.append(work)
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("model down")
        if self.hang:
            await asyncio.sleep(3600)
        question = work.question.text if work.question else ""
        event = AnswerEvent(
            kind="question" if work.kind == "question" else work.kind,  # type: ignore[arg-type]
            text=f"answer to {question or work.kind}",
            label="AI",
            action="send",
            question=question,
            count=work.current_size,
            at=time.time(),
        )
        return AnswerOutcome(event)


def fast_config(**overrides: Any) -> LiveConfig:
    values: dict[str, Any] = {
        "cadence_s": 0.05,
        "idle_poll_s": 0.01,
        "policy_refresh_s": 0.0,
        "view_interval_s": 0.02,
        "queue": QueueLimits(greet_min_wait_s=0.0),
    }
    values.update(overrides)
    return LiveConfig(**values)


def chat(i: int, text: str, user: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"m{i}",
        "user": user or f"u{i}",
        "name": f"Fan {i}",
        "kind": "chat",
        "text": text,
        **extra,
    }


def accounted(stats: dict[str, Any]) -> bool:
    settled = stats["answered"] + stats["merged"] + stats["dropped_total"] + stats["pending"]
    return stats["received"] == settled and stats["unaccounted"] == 0


def new_stream(answerer: RecordingAnswerer, hub: Hub, **config: Any) -> LiveStream:
    return LiveStream(
        "camille", "s1", fast_config(**config), answerer, hub.publish, cheap_moderation()
    )


def test_acks_count_every_message_of_a_frame() -> None:
    stream = new_stream(RecordingAnswerer(), Hub())
    ack = stream.intake_frame(
        json.dumps(
            [
                chat(1, "what camera do you use?"),
                chat(1, "what camera do you use?"),  # same id again
                {"id": "m2", "user": "u2", "kind": "shout", "text": "?"},
                chat(3, "lol"),
                chat(4, "visit www.free-followers.xyz now"),
                {"id": 5, "user": 5, "kind": "join", "name": "Anna"},
                {"id": "m6", "user": "u6", "kind": "gift", "amount": 3},
            ]
        )
    )
    assert ack.ack == "m6" and ack.received == 7 and ack.accepted == 4
    assert ack.dropped == {"duplicate_id": 1, "invalid": 1, "chatter": 1, "spam": 1}
    assert ack.error is not None and "kind" in ack.error
    bad = stream.intake_frame(b"\xff not json")
    assert bad.ack is None and bad.dropped == {"invalid": 1} and "not JSON" in (bad.error or "")
    # "hi?" is neither a question with content nor a newcomer's greeting.
    chatter = stream.intake_frame(json.dumps([chat(i, "hi?") for i in range(10, 20)]))
    assert chatter.accepted == 10 and chatter.dropped == {"chatter": 10}
    stats = stream.stats()
    assert stats["received"] == 7 + 1 + 10 and accounted(stats)


def test_batch_over_the_limit_is_refused_whole() -> None:
    stream = LiveStream("c", "s", fast_config(max_batch=3), RecordingAnswerer(), Hub().publish)
    ack = stream.intake_frame(json.dumps([chat(i, "where do you live?") for i in range(4)]))
    assert ack.accepted == 0 and ack.dropped == {"batch_too_large": 4}
    assert "split" in (ack.error or "")
    assert accounted(stream.stats())


def test_per_viewer_rate_and_repeats() -> None:
    stream = new_stream(RecordingAnswerer(), Hub())
    frame = [chat(i, f"question number {i} about bread?", user="spammer") for i in range(8)]
    frame.append(chat(100, "where do you live?", user="calm"))
    frame.append(chat(101, "where do you live?", user="calm"))
    ack = stream.intake_frame(json.dumps(frame), now=1000.0)
    # burst 5 then the bucket is empty; the calm viewer's second line is a repeat.
    assert ack.dropped["rate_limited"] == 3 and ack.dropped["repeat"] == 1
    assert accounted(stream.stats())


def test_abusive_new_question_is_dropped_but_names_never_shown() -> None:
    stream = new_stream(RecordingAnswerer(), Hub())
    ack = stream.intake_frame(
        json.dumps(
            [
                chat(1, "why are you such a stupid bitch?"),
                {"id": "j1", "user": "x", "name": "check out my channel", "kind": "join"},
            ]
        )
    )
    assert ack.dropped == {"abuse": 1}
    work = stream.queue.next_work(time.time())
    assert work is not None and work.welcome is not None
    assert work.welcome.count == 1 and work.welcome.names == []


async def test_answers_in_priority_order_and_publishes_views() -> None:
    hub = Hub()
    answerer = RecordingAnswerer()
    stream = new_stream(answerer, hub)
    frame = [chat(i, "what's your favourite recipe?") for i in range(30)]
    frame += [chat(100 + i, "where do you live?") for i in range(3)]
    frame += [
        {
            "id": "p1",
            "user": "rich",
            "name": "Rich",
            "kind": "paid",
            "amount": 20,
            "text": "can you wave?",
        }
    ]
    frame += [
        {"id": f"j{i}", "user": f"n{i}", "name": f"New{i}", "kind": "join"} for i in range(14)
    ]
    async with hub.subscribe(stream.topic) as subscription:
        ack = stream.intake_frame(json.dumps(frame))
        assert ack.accepted == len(frame)
        stream.start()
        answers: list[dict[str, Any]] = []
        views: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while len(answers) < 4:
                event = await subscription.get()
                (answers if event["type"] == "answer" else views).append(event)
        await stream.stop("ended")
    assert [a["kind"] for a in answers] == ["paid", "question", "question", "welcome"]
    assert answers[1]["question"] == "what's your favourite recipe?" and answers[1]["count"] == 30
    assert answers[2]["count"] == 3
    assert views and views[0]["items"][0]["count"] == 30
    stats = stream.stats()
    assert stats["answered"] == 4 and stats["merged"] == 29 + 2 + 13
    assert stats["pending"] == 0 and accounted(stats)
    assert [w.kind for w in answerer.works] == ["paid", "question", "question", "welcome"]
    assert stream.replay()[0]["kind"] == "paid"


async def test_failures_pause_and_stop_are_accounted() -> None:
    hub = Hub()
    answerer = RecordingAnswerer()
    answerer.fail = True
    stream = new_stream(answerer, hub)
    stream.intake_frame(json.dumps([chat(1, "where do you live?"), chat(2, "what camera?")]))
    stream.start()
    async with asyncio.timeout(10):
        while stream.metrics.dropped["engine_error"] < 2:
            await asyncio.sleep(0.01)
    answerer.fail, answerer.paused = False, True
    stream.intake_frame(json.dumps([chat(3, "do you have a dog?")]))
    # Two reads of the paused policy once the cadence allows an answer: the answer loop has
    # been through a whole turn in which it would have answered the queued question.
    ready_at = time.monotonic() + answerer.cadence_s
    async with asyncio.timeout(10):
        while sum(t >= ready_at for t in answerer.policy_reads) < 2:
            await asyncio.sleep(0.01)
    assert stream.metrics.answered == 0 and stream.metrics.queued == 1
    assert stream.stats()["paused_turns"] >= 1  # the loop says why it answers nothing
    await stream.stop("shutdown")
    stats = stream.stats()
    assert stats["dropped"] == {"engine_error": 2, "stream_ended": 1}
    assert not stats["active"] and accounted(stats)


async def test_an_answer_that_hangs_times_out_and_the_stream_goes_on() -> None:
    answerer = RecordingAnswerer()
    answerer.hang = True
    stream = new_stream(answerer, Hub(), answer_timeout_s=0.05)
    stream.intake_frame(json.dumps([chat(1, "where do you live?")]))
    stream.start()
    async with asyncio.timeout(10):
        while not stream.metrics.dropped["answer_timeout"]:
            await asyncio.sleep(0.01)
    answerer.hang = False
    stream.intake_frame(json.dumps([chat(2, "what camera do you use?")]))
    async with asyncio.timeout(10):
        while not stream.metrics.answered:
            await asyncio.sleep(0.01)
    await stream.stop("ended")
    assert accounted(stream.stats())


class FakeServices:
    def __init__(self) -> None:
        self.hub = Hub()


async def test_manager_opens_reaps_idle_streams_and_keeps_final_stats() -> None:
    services = FakeServices()
    manager = LiveManager(
        services,
        fast_config(idle_timeout_s=0.05, reap_interval_s=0.02, max_streams=2),
        answerer_factory=lambda creator, stream: RecordingAnswerer(),
    )
    a = manager.open("camille", "a")
    assert manager.open("camille", "a") is a
    manager.open("camille", "b")
    with pytest.raises(LiveCapacityError, match="max_streams"):
        manager.open("camille", "c")
    a.feed_opened()
    a.intake_frame(json.dumps([chat(1, "where do you live?")]))
    async with asyncio.timeout(10):
        while (manager.stats("camille", "b") or {}).get("active", True):
            await asyncio.sleep(0.01)
    assert manager.get("camille", "b") is None
    assert manager.get("camille", "a") is not None  # its feed is still connected
    ended = manager.stats("camille", "b")
    assert ended is not None and ended["ended_reason"] == "idle"
    assert set(manager.metrics()) == {"camille/a"}
    assert len(manager.streams("camille")) == 2
    await manager.stop()
    final = manager.stats("camille", "a")
    assert final is not None and final["ended_reason"] == "shutdown" and accounted(final)
    with pytest.raises(LiveCapacityError, match="shutting down"):
        manager.open("camille", "d")


def test_policy_and_requests_for_the_engine() -> None:
    live = {"channels": {"live": {"cadence_s": 0.5}}}
    policy = LivePolicy.from_settings(live, 4.0)
    assert policy.cadence_s == 0.5 and not policy.paused
    assert LivePolicy.from_settings({}, 4.0).cadence_s == 4.0
    # The one policy every channel reads: the kill switch, the channel off or paused.
    assert LivePolicy.from_settings({**live, "paused": True}, 4.0).paused
    for switch in ({"paused": True}, {"enabled": False}):
        assert LivePolicy.from_settings({"channels": {"live": switch}}, 4.0).paused

    stream = new_stream(RecordingAnswerer(), Hub())
    stream.intake_frame(json.dumps([chat(1, "where do you live?"), chat(2, "where do u live")]))
    work = stream.queue.next_work(time.time())
    assert work is not None
    request = EngineAnswerer(None, "camille", "s1", 4.0).request(work)
    assert request.channel is Channel.LIVE and request.thread_id == "s1"
    assert request.message == "where do you live?" and request.fan_handle == "live:u1"
    assert "2 viewers" in (request.context_note or "")

    assert welcome_line(["Anna"], 1) == "Welcome Anna!"
    assert welcome_line(["Anna", "Tom"], 2) == "Welcome Anna and Tom!"
    assert welcome_line(["Anna", "Tom", "Zoe"], 15) == "Welcome Anna, Tom, Zoe and 12 others!"
    assert welcome_line([], 4) == "Welcome to the 4 of you who just joined!"


def test_topic_name() -> None:
    assert topic("camille", "s1") == "live:camille:s1"
