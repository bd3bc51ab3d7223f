"""The YouTube live chat connector through the real platform: the server (a subprocess, the
scripted model) polls a local server speaking the Data API's documented JSON
(tests/youtube_api_server.py, in this process on loopback; not YouTube) with the token from
PERSONA_YOUTUBE_TOKENS. A viewer's question is answered in the chat (an inserted message);
a page served twice is not answered twice; quotaExceeded is backed off, shown in the
connectors' status and /metrics, and survived; no poll came sooner than the interval the
previous page asked for (server-side times); the token is not in the server's log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.demo import DEMO_CREATOR_ID
from tests.live_server import ServerProcess
from tests.live_support import scripted_server
from tests.youtube_api_server import FakeYouTube, serve_youtube

TOKEN = "ya29.pl4tf0rm-t0ken-n0t-in-l0gs"
CHAT_ID = "Cg0KC2xpdmVjaGF0MDAy"
API = f"/api/creators/{DEMO_CREATOR_ID}"
BACKOFF_BASE_S = 0.3
MARGIN_S = 0.02


@pytest.fixture
def youtube() -> Iterator[tuple[FakeYouTube, str]]:
    fake = FakeYouTube(token=TOKEN, live_chat_id=CHAT_ID, interval_ms=300)
    with serve_youtube(fake) as base:
        yield fake, base


@pytest.fixture
def platform(demo_dir: Path, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    connector = {
        "PERSONA_LOG_LEVEL": "INFO",  # the backoff is read from the log
        "PERSONA_YOUTUBE_TOKENS": json.dumps({DEMO_CREATOR_ID: TOKEN}),
        "PERSONA_CONNECTOR_POLL_S": "0.5",
        "PERSONA_CONNECTOR_BACKOFF_BASE_S": str(BACKOFF_BASE_S),
        "PERSONA_CONNECTOR_BACKOFF_MAX_S": "1",
    }
    with scripted_server(demo_dir, tmp_path / "server.log", **connector) as running:
        yield running


async def status(http: httpx.AsyncClient) -> dict[str, Any]:
    found = (await http.get(f"{API}/connectors")).json()["connectors"]
    return found[0] if found else {}


async def until(check: Any, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def test_a_viewer_is_answered_once_and_quota_errors_are_backed_off(
    youtube: tuple[FakeYouTube, str], platform: tuple[ServerProcess, str]
) -> None:
    fake, base = youtube
    running, token = platform
    headers = {"Authorization": f"Bearer {token}"}

    def answers_to(name: str) -> list[str]:
        return [a for a in fake.answers() if a.startswith(f"[AI] @{name} ")]

    async with httpx.AsyncClient(base_url=running.base_url, headers=headers, timeout=30) as http:
        spec = {"kind": "youtube", "live_chat_id": CHAT_ID, "stream_id": "yt", "api_base": base}
        stored = await http.put(f"{API}/connectors", json=spec)
        assert stored.status_code == 200, stored.text

        async def connected() -> bool:
            return (await status(http)).get("state") == "connected"

        await until(connected)
        fake.say("UCanna", "Anna", "What's your favourite tart recipe?")

        async def answered(name: str) -> Any:
            async def check() -> bool:
                return bool(answers_to(name))

            return check

        await until(await answered("Anna"))
        # The last page served again (as after a retried request): Anna is not answered twice.
        polled = len(fake.ok_polls())
        fake.replay = True

        async def replayed() -> bool:
            return len(fake.ok_polls()) >= polled + 2

        await until(replayed)
        fake.say("UCbruno", "Bruno", "Which oven do you use?")
        await until(await answered("Bruno"))
        assert len(answers_to("Anna")) == 1, fake.answers()

        # YouTube says the quota is spent: the connector backs off and says so.
        fake.quota_exhausted = True
        seen: dict[str, Any] = {}

        async def reported() -> bool:
            seen.update(await status(http))
            return seen["state"] == "reconnecting" and "quotaExceeded" in seen["last_error"]

        await until(reported)
        fake.quota_exhausted = False
        await until(connected)
        metrics = (await http.get("/metrics")).text
        health = await status(http)

    assert health["sent"] >= 2 and health["reconnects"] >= 1
    assert health["quota_budget"] == 10_000 and health["quota_used"] >= 5 * len(fake.polls)
    assert 'persona_dependency_errors_total{component="youtube",operation="quota"}' in metrics
    assert 'persona_dependency_recoveries_total{component="youtube"}' in metrics
    polls = list(fake.polls)
    for before, after in zip(polls, polls[1:], strict=False):
        if before.status == 200:  # never sooner than the page asked
            assert after.at - before.at >= before.interval_s - MARGIN_S
        else:  # backed off: at least half the base delay (the jitter's lowest)
            assert after.at - before.at >= BACKOFF_BASE_S / 2 - MARGIN_S
    assert any(p.status == 403 for p in polls)
    log = running.log_tail(200_000)
    assert "youtube quota or rate limit hit; backing off" in log
    assert TOKEN not in log
