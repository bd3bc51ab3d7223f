"""The live channel end to end: the real server in a subprocess on loopback, real websocket
and HTTP clients; the scripted model for the load, the real packaged model for one answer."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ingest.demo import DEMO_CREATOR_ID
from tests import live_support
from tests.conftest import REPO
from tests.live_server import ServerProcess, start_server

QUESTIONS = [
    ("What's your favourite recipe?", ["what is ur favorite recipe??", "favourite recipe?"]),
    ("How do you make croissants?", ["how do u make croissants", "HOW DO YOU MAKE CROISSANTS"]),
    ("Where do you live?", ["where do you live??", "where do u live"]),
]


@pytest.fixture
def scripted_server(demo_dir: Path, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    with live_support.scripted_server(demo_dir, tmp_path / "server.log") as running:
        yield running


def load(total: int, rng: random.Random) -> list[dict[str, Any]]:
    """A live chat: chatter, repeated questions, newcomers, one paid message."""
    messages: list[dict[str, Any]] = []
    weights = [6, 3, 1]  # the first question is asked most
    for i in range(total):
        user = f"viewer{i}"
        roll = rng.random()
        if i == 5:  # in the first frame, among questions: answered first all the same
            messages.append(
                {
                    "id": f"m{i}",
                    "user": user,
                    "name": "Rich",
                    "kind": "paid",
                    "amount": 25,
                    "text": "Can you show the oven you use?",
                }  # fmt: skip
            )
        elif roll < 0.3:
            first, variants = rng.choices(QUESTIONS, weights)[0]
            text = rng.choice([first, *variants])
            messages.append(
                {"id": f"m{i}", "user": user, "name": f"Fan{i}", "kind": "chat", "text": text}
            )
        elif roll < 0.35:
            messages.append({"id": f"m{i}", "user": user, "name": f"New{i}", "kind": "join"})
        else:
            text = rng.choice(["lol", "so good", "omg yes", "love this", "haha", "first!"])
            messages.append(
                {"id": f"m{i}", "user": user, "name": f"Fan{i}", "kind": "chat", "text": text}
            )
    return messages


async def send_frame(feed: ClientConnection, frame: Any) -> dict[str, Any]:
    await feed.send(json.dumps(frame))
    return json.loads(await feed.recv())


async def collect(out: ClientConnection, until: Any, timeout_s: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while not until(events):
            events.append(json.loads(await out.recv()))
    return events


def feed_url(server: ServerProcess, stream: str, token: str | None = None) -> str:
    url = f"{server.ws_url}/ws/live/{DEMO_CREATOR_ID}/{stream}/in"
    return url + (f"?token={token}" if token else "")


async def test_thousands_of_messages_acked_grouped_and_answered(
    scripted_server: tuple[ServerProcess, str],
) -> None:
    server, token = scripted_server
    stream = "load-1"
    messages = load(3000, random.Random(3))
    out_url = f"{server.ws_url}/ws/live/{DEMO_CREATOR_ID}/{stream}/out"
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        connect(out_url) as out,
        connect(feed_url(server, stream), additional_headers=headers) as feed,
    ):
        acked = received = 0
        for start in range(0, 2500, 100):
            batch = messages[start : start + 100]
            ack = await send_frame(feed, batch)
            assert ack["ack"] == batch[-1]["id"] and ack["received"] == len(batch)
            acked += ack["accepted"]
            received += ack["received"]
        for message in messages[2500:]:
            ack = await send_frame(feed, message)
            assert ack["ack"] == message["id"]
            acked += ack["accepted"]
            received += 1
        # The platform re-sends on reconnect; a malformed message; a non-JSON frame.
        ack = await send_frame(feed, messages[:50])
        assert ack["accepted"] == 0 and ack["dropped"] == {"duplicate_id": 50}
        ack = await send_frame(feed, {"id": "bad", "user": "x", "kind": "chat"})
        assert ack["dropped"] == {"invalid": 1} and "text" in ack["error"]
        await feed.send("not json at all {")
        ack = json.loads(await feed.recv())
        assert ack["dropped"] == {"invalid": 1} and "not JSON" in ack["error"]
        received += 52

        # A cluster is shown and answered in the wording first asked.
        most_asked = {QUESTIONS[0][0], *QUESTIONS[0][1]}

        def answered(events: list[dict[str, Any]]) -> bool:
            answers = [e for e in events if e["type"] == "answer"]
            return any(a["kind"] == "paid" for a in answers) and any(
                a["kind"] == "question" and a["question"] in most_asked for a in answers
            )

        events = await collect(out, answered, timeout_s=180)

        asked = sum(1 for m in messages if m.get("text") in most_asked)

        def counted(events: list[dict[str, Any]]) -> bool:
            views = [e for e in events if e["type"] == "top_questions"]
            return bool(views) and views[-1]["items"][0]["count"] == asked

        # The view goes on counting repeats of an answered question.
        views = await collect(out, counted, timeout_s=30)

    answers = [e for e in events if e["type"] == "answer"]
    assert answers[0]["kind"] == "paid" and answers[0]["amount"] == 25
    assert answers[0]["names"] == ["Rich"]
    assert answers[0]["question"] == "Can you show the oven you use?"
    assert answers[1]["kind"] == "question" and answers[1]["question"] in most_asked
    assert 1 < answers[1]["count"] <= asked
    for answer in answers:
        assert answer["text"].strip() and answer["label"].strip()
        assert "viewer" not in json.dumps(answer)  # display names only, no user ids
    top = views[-1]["items"]
    assert len(top) == len(QUESTIONS)
    for item, (first, variants) in zip(top, QUESTIONS, strict=True):
        assert item["question"] in (first, *variants)
    assert top[0]["status"] == "answered"

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        url = f"/api/creators/{DEMO_CREATOR_ID}/live/{stream}/stats"
        assert (await http.get(url)).status_code == 401
        response = await http.get(url, headers=headers)
        assert response.status_code == 200
        stats = response.json()
        listing = (await http.get(f"/api/creators/{DEMO_CREATOR_ID}/live", headers=headers)).json()
    assert stats["received"] == received == len(messages) + 52
    assert stats["accepted"] == acked
    assert stats["unaccounted"] == 0
    settled = stats["answered"] + stats["merged"] + stats["dropped_total"] + stats["pending"]
    assert settled == stats["received"]
    assert stats["dropped"]["duplicate_id"] == 50 and stats["dropped"]["chatter"] > 1000
    assert stats["answered"] >= 2 and stats["merged"] >= asked - 1
    assert [s["stream_id"] for s in listing["streams"]] == [stream]
    assert "overflow" in listing["drop_reasons"]


async def test_feed_needs_the_creators_token(scripted_server: tuple[ServerProcess, str]) -> None:
    server, token = scripted_server
    for url, expected in (
        (feed_url(server, "s"), "missing API token"),
        (feed_url(server, "s", "pk_wrong"), "does not belong"),
    ):
        async with connect(url) as feed:
            with pytest.raises(ConnectionClosed) as closed:
                await feed.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008 and expected in closed.value.rcvd.reason
    async with connect(feed_url(server, "s", token)) as feed:
        ack = await send_frame(feed, {"id": "1", "user": "u", "kind": "join", "name": "Anna"})
        assert ack == {"ack": "1", "received": 1, "accepted": 1, "dropped": {}}


@pytest.mark.slow
async def test_real_model_answers_a_paid_question(
    demo_dir: Path, tmp_path: Path, real_llm: Any
) -> None:
    token = live_support.prepare(demo_dir)
    overrides = {f"PERSONA_{k.upper()}": str(v) for k, v in real_llm.overrides().items()}
    server = start_server(
        live_support.server_env(demo_dir, **overrides), tmp_path / "server.log", cwd=REPO
    )
    try:
        stream = "real-1"
        async with (
            connect(f"{server.ws_url}/ws/live/{DEMO_CREATOR_ID}/{stream}/out") as out,
            connect(feed_url(server, stream, token)) as feed,
        ):
            ack = await send_frame(
                feed,
                [
                    {
                        "id": "p1",
                        "user": "fan1",
                        "name": "Lucie",
                        "kind": "paid",
                        "amount": 10,
                        "text": "What is your favourite dessert to bake?",
                    },  # fmt: skip
                    {"id": "c1", "user": "fan2", "name": "Tom", "kind": "chat", "text": "lol"},
                ],
            )
            assert ack["accepted"] == 2
            events = await collect(
                out, lambda es: any(e["type"] == "answer" for e in es), timeout_s=300
            )
        answer = next(e for e in events if e["type"] == "answer")
        assert answer["kind"] == "paid" and answer["names"] == ["Lucie"]
        assert answer["action"] in ("send", "no_answer", "safe_reply")
        assert len(answer["text"].split()) >= 2 and answer["label"]
    finally:
        server.stop()
        print(server.log_tail())
