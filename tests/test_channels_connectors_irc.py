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
            "stream_id": "twitch-main",
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

            # The kill switch: nothing more is said in the channel while paused.
            paused = await http.post(f"{API}/channels/live/pause")
            assert paused.status_code == 200 and paused.json()["paused"] is True
            # What was said before the pause (the welcome left unread in the viewer's queue,
            # seen in a loaded run) and within the second the pause may take: not counted.
            viewer.drain()
            await asyncio.sleep(1.0)
            viewer.drain()
            for text in ("How do you make croissants?", "Which oven do you use?"):
                viewer.say(CHANNEL, text)
            assert await viewer.messages_from(BOT, 3, first=False) == []
            assert (await http.post(f"{API}/channels/live/resume")).status_code == 200

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
