"""The Matrix connector against a real homeserver (Synapse from PyPI, SQLite, on loopback):
the platform server (a subprocess, the scripted model) runs the bot account of the demo
creator's double; fans are plain client-server API clients.

- A DM from a fan is answered once in the room; the platform killed (SIGKILL) right after a
  fan's message and started again answers that message exactly once; Synapse killed and
  started again is survived (reconnection logged and counted in /metrics), and the bot's
  access token is in no log line.
- In a group room, a message that mentions the bot is answered (as a Matrix reply), one
  that mentions another fan is not, after a restart too. A DM while the DM channel is
  paused is not answered; in review mode the reply waits for the creator's approval, then
  reaches the fan."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.demo import DEMO_CREATOR_ID
from tests.conftest import REPO
from tests.live_server import ServerProcess, start_server
from tests.live_support import prepare, server_env
from tests.matrix_server import MatrixUser, Synapse, free_port, synapse_python

SYNAPSE = synapse_python()
pytestmark = [
    pytest.mark.skipif(SYNAPSE is None, reason="Synapse is not installed: run .ci/matrix-deps"),
    # Two platform starts, two Synapse starts and watched silences: over a minute each.
    pytest.mark.slow,
]
API = f"/api/creators/{DEMO_CREATOR_ID}"


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    assert SYNAPSE is not None
    server = Synapse(tmp_path_factory.mktemp("synapse"), free_port(), SYNAPSE)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        print(server.log_tail())


class Platform:
    """The platform server, killed and started again on the same data dir."""

    def __init__(self, data_dir: Path, log: Path, bot: MatrixUser) -> None:
        self.token = prepare(data_dir)
        self.env = server_env(
            data_dir,
            PERSONA_LOG_LEVEL="INFO",  # the reconnection is read from the log
            PERSONA_MATRIX_TOKENS=f'{{"{bot.user_id}": "{bot.token}"}}',
            PERSONA_CONNECTOR_POLL_S="0.5",
            PERSONA_CONNECTOR_BACKOFF_BASE_S="0.2",
            PERSONA_CONNECTOR_BACKOFF_MAX_S="1",
            PERSONA_INBOX_POLL_S="0.2",
        )
        self.log = log
        self.running: ServerProcess | None = None
        self.logs: list[str] = []

    def start(self) -> ServerProcess:
        self.running = start_server(self.env, self.log, imports=["tests.doubles"], cwd=REPO)
        return self.running

    def kill(self) -> None:
        assert self.running is not None
        self.running.process.kill()  # SIGKILL
        self.running.process.wait(10)
        self.logs.append(self.running.log_tail(500_000))

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.logs.append(self.running.log_tail(500_000))

    def http(self) -> httpx.Client:
        assert self.running is not None
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.running.base_url, headers=headers, timeout=30)

    def connector(self) -> dict[str, Any]:
        with self.http() as http:
            found = http.get(f"{API}/connectors").json()["connectors"]
        assert len(found) == 1, found
        return dict(found[0])

    def wait_connected(self, reconnects: int = 0, timeout_s: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            health = self.connector()
            if health["state"] == "connected" and health["reconnects"] >= reconnects:
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"the connector did not connect: {health}")
            time.sleep(0.2)


@pytest.fixture
def bot(synapse: Synapse, request: pytest.FixtureRequest) -> MatrixUser:
    # One bot per test: its sync position (kept in the data dir) starts fresh.
    return synapse.register(f"double{abs(hash(request.node.name)) % 10**8}")


@pytest.fixture
def platform(
    demo_dir: Path, tmp_path: Path, bot: MatrixUser, synapse: Synapse
) -> Iterator[Platform]:
    server = Platform(demo_dir, tmp_path / "server.log", bot)
    server.start()
    try:
        with server.http() as http:
            spec = {"kind": "matrix", "homeserver": synapse.url, "user_id": bot.user_id}
            stored = http.put(f"{API}/connectors", json=spec)
            assert stored.status_code == 200, stored.text
            assert stored.json()["id"] == f"matrix:{bot.user_id}"
        server.wait_connected()
        yield server
    finally:
        server.stop()
        print(server.logs[-1][-4000:] if server.logs else "")


def fan(synapse: Synapse, name: str, bot: MatrixUser) -> MatrixUser:
    # Unique per test like the bot (the homeserver lives for the module).
    return synapse.register(f"{name}-{bot.user_id[1:].split(':', 1)[0]}")


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events]


def test_a_dm_is_answered_once_across_a_kill_and_a_homeserver_restart(
    synapse: Synapse, bot: MatrixUser, platform: Platform
) -> None:
    anna = fan(synapse, "anna", bot)
    room = anna.create_room([bot.user_id], direct=True)
    anna.wait_joined(room, bot.user_id)

    anna.say(room, "What's your favourite recipe?")
    replies = anna.wait_for_messages(room, bot.user_id, 1)
    assert len(replies) == 1, replies

    # Killed right after the fan's next message: read or not, stored or not, it is
    # answered once after the restart.
    anna.say(room, "How do you make croissants?")
    time.sleep(0.3)
    platform.kill()
    platform.start()
    replies = anna.wait_for_messages(room, bot.user_id, 2)
    assert len(replies) == 2, texts(replies)

    # The homeserver goes away without a word and comes back on the same port.
    synapse.kill()
    synapse.start()
    health = platform.wait_connected(reconnects=1)
    # The next question is the marker for the restart above: a second copy of an answer
    # would have been sent before this question's answer reached the room.
    lemon = anna.say(room, "Do you sell your lemon tart online?")
    replies = wait_answered(platform, anna, room, bot, lemon)
    assert len(replies) == 3, texts(replies)  # no second copy
    # And one more for the homeserver's restart.
    sunday = anna.say(room, "Is the bakery open on Sundays?")
    replies = wait_answered(platform, anna, room, bot, sunday)
    assert len(replies) == 4, texts(replies)
    with platform.http() as http:
        sent = http.get(f"{API}/outbox", params={"status": "sent", "limit": 200}).json()
    answered = Counter(reply["in_reply_to"] for reply in sent["items"])
    assert len(answered) == 4 and set(answered.values()) == {1}, answered

    with platform.http() as http:
        metrics = http.get("/metrics").text
    health = platform.connector()
    assert health["channel"] == "dm, group" and health["received"] >= 1
    assert 'persona_dependency_errors_total{component="matrix",operation="disconnect"}' in metrics
    assert 'persona_dependency_recoveries_total{component="matrix"}' in metrics
    platform.stop()
    logs = "".join(platform.logs)
    assert "matrix connection lost; reconnecting" in logs
    assert bot.token not in logs


def test_a_group_room_is_answered_when_addressed_and_dms_follow_the_pause_and_approvals(
    synapse: Synapse, bot: MatrixUser, platform: Platform
) -> None:
    anna, ben = fan(synapse, "anna", bot), fan(synapse, "ben", bot)
    room = anna.create_room([bot.user_id, ben.user_id], direct=False)
    ben.join(room)
    anna.wait_joined(room, bot.user_id)

    asked = ben.say(room, "@double what's your favourite recipe?", mentions=[bot.user_id])
    replies = anna.wait_for_messages(room, bot.user_id, 1)
    assert len(replies) == 1, replies
    assert replies[0]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked

    # Restarted, the connector still knows a group from a DM (a DM would be answered).
    platform.stop()
    platform.start()
    platform.wait_connected()
    aside = anna.say(
        room, f"{ben.user_id} did you see the match yesterday?", mentions=[ben.user_id]
    )
    # Decided (not a wait for silence): skipped, so no reply exists to be sent.
    decided = wait_decided(platform, aside)
    assert decided["status"] == "skipped" and "not addressed" in decided["reason"], decided
    assert len(anna.messages_from(room, bot.user_id)) == 1
    assert platform.connector()["received"] == 1

    # DMs: the DM channel paused, nothing is said; in review mode a reply waits for the
    # creator's approval, then reaches the fan's room.
    dm = anna.create_room([bot.user_id], direct=True)
    anna.wait_joined(dm, bot.user_id)
    with platform.http() as http:
        assert http.post(f"{API}/channels/dm/pause").status_code == 200
        there = anna.say(dm, "Are you there?")
        decided = wait_decided(platform, there)
        assert decided["status"] == "skipped" and "paused" in decided["reason"], decided
        assert anna.messages_from(dm, bot.user_id) == []
        assert http.post(f"{API}/channels/dm/resume").status_code == 200
        assert http.put(f"{API}/channels/dm", json={"mode": "review"}).status_code == 200
        anna.say(dm, "Do you ship your cookbook abroad?")
        held = wait_for_held(http)
        assert held["platform"] == "matrix" and held["thread"] == dm
        assert anna.messages_from(dm, bot.user_id) == []
        approved = http.post(f"{API}/approvals/{held['reply_id']}/approve")
        assert approved.status_code == 200, approved.text
    replies = anna.wait_for_messages(dm, bot.user_id, 1)
    assert len(replies) == 1 and held["text"] in replies[0]["content"]["body"], replies


def wait_answered(
    platform: Platform,
    fan: MatrixUser,
    room: str,
    bot: MatrixUser,
    asked: str,
    timeout_s: float = 90.0,
) -> list[dict[str, Any]]:
    """The bot's messages in `room` once the answer to the fan's message `asked` (its reply
    in the outbox) is among them."""
    deadline = time.monotonic() + timeout_s
    while True:
        with platform.http() as http:
            sent = http.get(f"{API}/outbox", params={"status": "sent", "limit": 200}).json()
        wanted = [r["text"] for r in sent["items"] if r["in_reply_to"] == asked]
        found = fan.messages_from(room, bot.user_id)
        if wanted and any(wanted[0] in e["content"]["body"] for e in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{asked} was not answered: {texts(found)}")
        time.sleep(0.3)


def wait_decided(platform: Platform, message_id: str, timeout_s: float = 90.0) -> dict[str, Any]:
    """The inbox's record of the fan's message once the worker has decided on it."""
    deadline = time.monotonic() + timeout_s
    while True:
        with platform.http() as http:
            events = http.get(f"{API}/inbox", params={"limit": 200}).json()["items"]
        found = [e for e in events if e["message_id"] == message_id]
        if found and found[0]["status"] in ("done", "skipped", "failed"):
            return dict(found[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"{message_id} was not decided: {found}")
        time.sleep(0.2)


def wait_for_held(http: httpx.Client, timeout_s: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        items = http.get(f"{API}/approvals").json()["items"]
        if items:
            return dict(items[0])
        if time.monotonic() > deadline:
            raise AssertionError("no reply was held for approval")
        time.sleep(0.3)
