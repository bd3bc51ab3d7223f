"""The Twitch connector against a real IRC server (Debian's ngircd on loopback): the platform
server (a subprocess, the scripted model) connects to the channel with the bot's token as the
server password, a plain IRC client plays a viewer. A question is answered in the channel; a
pause through the API stops the answers; ngircd killed (SIGKILL) and started again is
survived: the connector reconnects (logged, counted in /metrics) and answers again.

ngircd neither takes nor relays IRCv3 message tags, so these messages are untagged chat;
bits and subscriptions (tags) are covered with recorded Twitch lines in
test_channels_connectors_twitch.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.demo import DEMO_CREATOR_ID
from tests.irc_server import IrcServer, Viewer, free_port, have_ngircd
from tests.live_server import ServerProcess
from tests.live_support import scripted_server

pytestmark = pytest.mark.skipif(
    not have_ngircd(), reason="ngircd is not installed: run .ci/irc-deps"
)

TOKEN = "oauth:k3epth1sout0fthel0gs"
BOT = "camille_bot"
CHANNEL = "#camille"
API = f"/api/creators/{DEMO_CREATOR_ID}"
STREAM = "twitch-main"


@pytest.fixture
def irc(tmp_path: Path) -> Iterator[IrcServer]:
    server = IrcServer(tmp_path / "irc", free_port(), password=TOKEN)
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        print(server.log_tail())


@pytest.fixture
def platform(demo_dir: Path, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    connector = {
        "PERSONA_LOG_LEVEL": "INFO",  # the reconnection is read from the log
        "PERSONA_TWITCH_TOKENS": f'{{"{BOT}": "{TOKEN}"}}',
        "PERSONA_CONNECTOR_POLL_S": "0.5",
        "PERSONA_CONNECTOR_BACKOFF_BASE_S": "0.2",
        "PERSONA_CONNECTOR_BACKOFF_MAX_S": "1",
    }
    with scripted_server(demo_dir, tmp_path / "server.log", **connector) as running:
        yield running


async def joined_viewer(irc: IrcServer, nick: str) -> Viewer:
    viewer = Viewer(nick, irc.port, password=TOKEN)
    await viewer.connect()
    await viewer.join(CHANNEL)
    return viewer


async def bot_in_channel(viewer: Viewer, http: httpx.AsyncClient) -> None:
    """Until the connector says it is in the channel (the viewer may have joined first)."""
    async with asyncio.timeout(60):
        while True:
            found = (await http.get(f"{API}/connectors")).json()["connectors"]
            if found and found[0]["state"] == "connected":
                return
            await asyncio.sleep(0.2)


async def connector_health(http: httpx.AsyncClient) -> dict:
    return (await http.get(f"{API}/connectors")).json()["connectors"][0]


async def stream_stats(http: httpx.AsyncClient) -> dict:
    stats = await http.get(f"{API}/live/{STREAM}/stats")
    assert stats.status_code == 200, stats.text
    return stats.json()


async def until(http: httpx.AsyncClient, condition, seconds: float = 60) -> dict:  # noqa: ANN001
    """The stream's stats once `condition(health, stats)` holds (60 s at most)."""
    async with asyncio.timeout(seconds):
        while True:
            stats = await stream_stats(http)
            if condition(await connector_health(http), stats):
                return stats
            await asyncio.sleep(0.1)


async def paused_turn_after(http: httpx.AsyncClient, before: dict) -> dict:
    """The stream's stats once its answer loop has taken a turn with the kill switch on
    (it took nothing) after the moment of `before`."""
    return await until(http, lambda _h, s: s["paused_turns"] > before["paused_turns"])


async def test_a_viewer_is_answered_paused_and_answered_after_the_server_restarts(
    irc: IrcServer, platform: tuple[ServerProcess, str]
) -> None:
    running, token = platform
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=running.base_url, headers=headers, timeout=30) as http:
        spec = {
            "kind": "twitch",
            "channel": CHANNEL,
            "nick": BOT,
            "stream_id": STREAM,
            "server": "127.0.0.1",
            "port": irc.port,
            "tls": False,
        }
        stored = await http.put(f"{API}/connectors", json=spec)
        assert stored.status_code == 200, stored.text
        viewer = await joined_viewer(irc, "anna")
        try:
            await bot_in_channel(viewer, http)
            viewer.say(CHANNEL, "What's your favourite recipe?")
            answers = await viewer.messages_from(BOT, 60)
            assert answers and answers[0].startswith("[AI] @anna "), answers

            # The kill switch: nothing more is said in the channel while paused. Proved by the
            # platform's counters, not by a quiet moment: the stream's answer loop is seen to
            # take turns that hold the viewer's questions, and nothing is answered or sent.
            paused = await http.post(f"{API}/channels/live/pause")
            assert paused.status_code == 200 and paused.json()["paused"] is True
            before = await stream_stats(http)
            await paused_turn_after(http, before)  # the loop sees the pause (its policy cache)
            sent = (await connector_health(http))["sent"]
            held = await stream_stats(http)
            for text in ("How do you make croissants?", "Which oven do you use?"):
                viewer.say(CHANNEL, text)
            await until(http, lambda _h, s: s["accepted"] >= held["accepted"] + 2)
            after = await paused_turn_after(http, await stream_stats(http))
            assert after["answered"] == held["answered"] and after["in_flight"] == 0, after
            assert after["dropped_total"] == held["dropped_total"], after
            assert after["queued"] >= 2, after  # the questions wait in the queue
            viewer.drain()  # lines the connector sent before the pause reached it
            assert (await connector_health(http))["sent"] == sent
            assert (await http.post(f"{API}/channels/live/resume")).status_code == 200
            # Resumed, the questions held meanwhile are answered in the channel.
            assert await viewer.messages_from(BOT, 60), "nothing said after the resume"

            # The server goes away without a word, and comes back on the same port.
            await viewer.close()
            irc.kill()
            irc.start()
            viewer = await joined_viewer(irc, "anna")
            await bot_in_channel(viewer, http)
            viewer.say(CHANNEL, "Do you sell your lemon tart online?")
            again = await viewer.messages_from(BOT, 60)
            assert again and again[0].startswith("[AI] @anna "), again
            health = (await http.get(f"{API}/connectors")).json()["connectors"][0]
            metrics = (await http.get("/metrics")).text
        finally:
            await viewer.close()
    assert health["reconnects"] >= 1 and health["sent"] >= 2
    assert health["not_sent"].get("paused", 0) + health["received"] >= 4
    assert 'persona_dependency_errors_total{component="twitch",operation="disconnect"}' in metrics
    assert 'persona_dependency_recoveries_total{component="twitch"}' in metrics
    log = running.log_tail(200_000)
    assert "twitch connection lost; reconnecting" in log
    assert TOKEN not in log and TOKEN.removeprefix("oauth:") not in log
