"""The console's Connectors page in a real browser (Debian's Chromium driven by Playwright)
against the real server in a subprocess and a real IRC server (Debian's ngircd) on loopback:
a wrong channel is refused on the form; the creator connects a Twitch chat and sees it come
up as connected without reloading; a viewer's question is answered in the channel; "Pause
AI" in the console stops the answers; Disconnect makes the bot leave the channel.
Screenshots at desktop and phone width go to artifacts/screenshots/ (kept out of git)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ingest.demo import DEMO_CREATOR_ID
from tests.console_support import ConsoleServer, add_account
from tests.irc_server import IrcServer, Viewer, free_port, have_ngircd
from tests.live_support import prepare
from tests.test_channels_console_browser import browser, expect, shoot, sign_in

pytestmark = pytest.mark.skipif(
    not have_ngircd(), reason="ngircd is not installed: run .ci/irc-deps"
)

__all__ = ["browser"]  # the Chromium fixture, shared with the console's browser test

TOKEN = "oauth:c0ns0lepagetesttoken"
BOT = "camille_bot"
CHANNEL = "#camille"
STREAM = "twitch-main"
API = f"/api/creators/{DEMO_CREATOR_ID}"
T = TypeVar("T")


class Background:
    """An event loop in a thread for the asyncio IRC viewer, beside Playwright's sync API
    (which refuses to run inside a running loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 90.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def irc(tmp_path: Path) -> Iterator[IrcServer]:
    server = IrcServer(tmp_path / "irc", free_port(), password=TOKEN)
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(demo_dir: Path) -> Iterator[ConsoleServer]:
    prepare(demo_dir)  # the demo creator answers live chat at a quick cadence
    from channels.services import Services
    from tests.conftest import make_settings

    services = Services.build(make_settings(demo_dir))
    try:
        add_account(services.db, DEMO_CREATOR_ID, "Camille")
    finally:
        services.close()
    env = {
        "PERSONA_TWITCH_TOKENS": f'{{"{BOT}": "{TOKEN}"}}',
        "PERSONA_CONNECTOR_POLL_S": "0.5",
        "PERSONA_CONNECTOR_BACKOFF_BASE_S": "0.2",
        "PERSONA_CONNECTOR_BACKOFF_MAX_S": "1",
    }
    console = ConsoleServer(demo_dir, env=env)
    console.start()
    try:
        yield console
    finally:
        console.stop()


@pytest.fixture
def background() -> Iterator[Background]:
    loop = Background()
    try:
        yield loop
    finally:
        loop.close()


def _get(page: Any, path: str) -> Any:
    """The platform's JSON API, with the signed-in page's session."""
    response = page.request.get(f"{page.url.split('/console')[0]}{path}")
    assert response.ok, response.text()
    return response.json()


def _until(page: Any, condition: Any, seconds: float = 60) -> dict[str, Any]:
    """The live stream's stats once `condition(stats)` holds."""
    deadline = time.monotonic() + seconds
    while True:
        stats = _get(page, f"{API}/live/{STREAM}/stats")
        if condition(stats):
            return stats
        assert time.monotonic() < deadline, stats
        time.sleep(0.1)


def test_a_creator_connects_pauses_and_disconnects_a_twitch_chat(
    browser: Any, server: ConsoleServer, irc: IrcServer, background: Background
) -> None:
    url = server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    viewer = Viewer("anna", irc.port, password=TOKEN)
    background.run(viewer.connect())
    try:
        background.run(viewer.join(CHANNEL))
        sign_in(page, url, DEMO_CREATOR_ID)
        page.get_by_role("link", name="Connectors").click()
        page.wait_for_url(f"{url}/console/connectors")
        expect(page.locator("#no-connectors")).to_be_visible()

        # A channel that is not a Twitch login: refused, with the reason beside the field.
        page.get_by_label("Twitch channel").fill("#not a channel")
        page.get_by_label("Bot account").fill(BOT)
        page.get_by_role("button", name="Connect Twitch chat").click()
        expect(page.locator("#err-channel")).to_contain_text("letters, digits")
        expect(page.locator("#no-connectors")).to_be_visible()

        page.get_by_label("Twitch channel").fill(CHANNEL)
        page.get_by_label("Live stream name").fill(STREAM)
        page.get_by_text("Chat server (leave as is for Twitch)").click()
        page.get_by_label("Server", exact=True).fill("127.0.0.1")
        page.get_by_label("Port").fill(str(irc.port))
        page.get_by_label("Encrypted connection (TLS)").uncheck()
        page.get_by_role("button", name="Connect Twitch chat").click()
        expect(page.locator(".banner-ok")).to_contain_text("connects within a second")

        # The page's script shows the connection come up, without a reload.
        card = page.locator("#connector-twitch--camille")
        expect(card.locator(".connector-state")).to_have_text("Connected", timeout=60_000)
        expect(card).to_contain_text(f"{CHANNEL} on irc://127.0.0.1:{irc.port} as {BOT}")
        expect(card.locator(".connector-warning")).to_have_count(0)  # the server has its token
        background.run(
            viewer.wait_for(lambda line: line.nick == BOT and line.command == "JOIN", 30)
        )

        viewer.say(CHANNEL, "What's your favourite recipe?")
        answers = background.run(viewer.messages_from(BOT, 60))
        assert answers and answers[0].startswith("[AI] @anna "), answers
        expect(card).to_contain_text("1 answers written", timeout=10_000)
        shoot(page, "connectors")

        # The console's kill switch: nothing more is said in the chat. Proved by the
        # platform's counters (read with the page's session), not by a quiet moment: the
        # stream's answer loop takes a turn that holds the question, nothing is answered or
        # sent; resumed, the question is answered.
        page.get_by_role("button", name="Pause AI").click()
        expect(page.locator("#kill-switch")).to_have_text("Resume AI")
        stats = _until(page, lambda s: True)
        _until(page, lambda s: s["paused_turns"] > stats["paused_turns"])  # the loop sees it
        sent = _get(page, f"{API}/connectors")["connectors"][0]["sent"]
        held = _until(page, lambda s: True)
        viewer.say(CHANNEL, "How do you make croissants?")
        queued = _until(page, lambda s: s["accepted"] > held["accepted"])
        after = _until(page, lambda s: s["paused_turns"] > queued["paused_turns"])
        assert after["answered"] == held["answered"] and after["in_flight"] == 0, after
        assert after["dropped_total"] == held["dropped_total"] and after["queued"] >= 1, after
        viewer.drain()  # lines the connector sent before the pause reached it
        assert _get(page, f"{API}/connectors")["connectors"][0]["sent"] == sent
        page.get_by_role("button", name="Resume AI").click()
        expect(page.locator("#kill-switch")).to_have_text("Pause AI")
        assert background.run(viewer.messages_from(BOT, 60)), "nothing said after the resume"

        # Disconnect: the bot leaves the channel and the page says so.
        page.goto(f"{url}/console/connectors")
        page.locator("#connector-twitch--camille").get_by_role("button", name="Disconnect").click()
        expect(page.locator(".banner-ok")).to_contain_text("Disconnected")
        expect(page.locator("#no-connectors")).to_be_visible()
        left = background.run(
            viewer.wait_for(lambda line: line.nick == BOT and line.command in ("QUIT", "PART"), 30)
        )
        assert left.command in ("QUIT", "PART")

        # A Matrix account this server has no access token for: the page says so, and why
        # it does not connect.
        page.get_by_label("Homeserver").fill("matrix.example.org")
        page.get_by_label("Matrix account of your AI").fill("@camille-ai:example.org")
        page.get_by_role("button", name="Connect Matrix account").click()
        expect(page.locator("#err-homeserver")).to_be_visible()
        page.get_by_label("Homeserver").fill(f"http://127.0.0.1:{free_port()}")
        page.get_by_role("button", name="Connect Matrix account").click()
        matrix = page.locator("#connector-matrix--camille-ai-example-org")
        expect(matrix.locator(".connector-state")).to_have_text("Stopped", timeout=30_000)
        expect(matrix.locator(".connector-error")).to_contain_text("no access token")
        expect(matrix.locator(".connector-warning")).to_contain_text("PERSONA_MATRIX_TOKENS")
        expect(matrix).to_contain_text("DMs (rooms of two) and group chats")
        shoot(page, "connectors-matrix")
        matrix.get_by_role("button", name="Disconnect").click()
        expect(page.locator("#no-connectors")).to_be_visible()
    finally:
        background.run(viewer.close())
        page.close()
