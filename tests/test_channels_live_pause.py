"""The live channel reads the one channel policy (issue 14 B): a pause through the JSON API
stops a running stream's answers, and resuming starts them again. The real server on
loopback, real websocket and HTTP clients, the scripted model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from websockets.asyncio.client import ClientConnection, connect

from channels.inbox.policy import load_policy
from channels.migrate import upgrade
from ingest.demo import DEMO_CREATOR_ID
from persona.store import Creator, Database, DatabaseConfig
from persona.store.models import utcnow
from tests.live_server import ServerProcess
from tests.live_support import scripted_server

LIVE = f"/api/creators/{DEMO_CREATOR_ID}/channels/live"


@pytest.fixture
def server(demo_dir: Path, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    with scripted_server(demo_dir, tmp_path / "server.log") as running:
        yield running


async def answers_within(
    out: ClientConnection, seconds: float, first: bool = True
) -> list[dict[str, Any]]:
    """The answers published within `seconds` (the first one ends the wait if `first`)."""
    answers: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                event = json.loads(await out.recv())
                if event["type"] == "answer":
                    answers.append(event)
                    if first:
                        return answers
    except TimeoutError:
        pass
    return answers


async def stats_when(http: httpx.AsyncClient, condition: Any, seconds: float = 60) -> dict:
    """The stream's stats once `condition(stats)` holds."""
    async with asyncio.timeout(seconds):
        while True:
            stats = (await http.get(f"/api/creators/{DEMO_CREATOR_ID}/live/pause-1/stats")).json()
            if condition(stats):
                return stats
            await asyncio.sleep(0.05)


def ask(n: int, text: str) -> dict[str, Any]:
    return {"id": f"q{n}", "user": f"viewer{n}", "name": f"Fan{n}", "kind": "chat", "text": text}


async def test_a_pause_through_the_api_stops_the_live_answers(
    server: tuple[ServerProcess, str],
) -> None:
    running, token = server
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{running.ws_url}/ws/live/{DEMO_CREATOR_ID}/pause-1"
    async with (
        connect(f"{base}/out") as out,
        connect(f"{base}/in", additional_headers=headers) as feed,
        httpx.AsyncClient(base_url=running.base_url, headers=headers, timeout=30) as http,
    ):
        await feed.send(json.dumps(ask(1, "What's your favourite recipe?")))
        await feed.recv()
        assert await answers_within(out, 60), "the stream answers before the pause"

        paused = await http.post(f"{LIVE}/pause")
        assert paused.status_code == 200 and paused.json()["paused"] is True
        before = await stats_when(http, lambda s: s["in_flight"] == 0)
        questions = [
            "How do you make croissants?",
            "Where do you buy your butter?",
            "Which oven do you use?",
        ]
        for n, text in enumerate(questions, start=2):
            await feed.send(json.dumps(ask(n, text)))
            await feed.recv()
        # Not a quiet moment but the stream's own account: the questions are in, and its
        # answer loop then took a turn with the kill switch on (and took nothing).
        taken = await stats_when(http, lambda s: s["accepted"] >= before["accepted"] + 3)
        after = await stats_when(
            http, lambda s: s["paused_turns"] > taken["paused_turns"] and s["in_flight"] == 0
        )
        assert after["answered"] == before["answered"], after
        assert after["answers_published"] == before["answers_published"], after
        # Each question waits, or was dropped by the answer's own check of the switch (taken
        # in the moment before the stream re-read its policy).
        dropped = after["dropped"].get("paused", 0) - before["dropped"].get("paused", 0)
        assert dropped + after["queued"] >= len(questions), after

        resumed = await http.post(f"{LIVE}/resume")
        assert resumed.status_code == 200 and resumed.json()["paused"] is False
        await feed.send(json.dumps(ask(9, "Do you sell your lemon tart?")))
        await feed.recv()
        assert await answers_within(out, 60), "answers start again once resumed"
        stats = (await http.get(f"/api/creators/{DEMO_CREATOR_ID}/live/pause-1/stats")).json()
    assert stats["cadence_s"] == 0.2
    assert stats["dropped"].get("paused", 0) + stats["pending"] >= len(questions)


def test_upgrade_folds_the_old_live_key_into_the_policy(tmp_path: Path) -> None:
    db = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'old.db'}"))
    try:
        upgrade(db.engine, "0007_fan_identity")
        old = {
            "stopped": {"live": {"cadence_s": 6, "paused": True}},
            "kept": {"live": {"cadence_s": 0.001}, "channels": {"live": {"cadence_s": 3}}},
            "untouched": {"paused": True},
        }
        # The columns of 0007 only (the model has columns of later migrations).
        with db.session() as session:
            session.execute(
                insert(Creator.__table__),
                [
                    {"id": c, "display_name": c, "settings": s, "created_at": utcnow()}
                    for c, s in old.items()
                ],
            )
        upgrade(db.engine)
        with db.session() as session:
            settings = {c.id: c.settings for c in session.query(Creator)}
    finally:
        db.dispose()
    assert all("live" not in s for s in settings.values())
    stopped = load_policy(settings["stopped"], "live")
    assert stopped.paused and stopped.model_dump()["cadence_s"] == 6.0
    assert load_policy(settings["kept"], "live").model_dump()["cadence_s"] == 3.0
    assert settings["untouched"] == {"paused": True}
