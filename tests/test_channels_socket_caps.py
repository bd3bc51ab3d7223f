"""Long-lived sockets cannot be hogged (issue 14 D), through the real server on loopback with
small caps from PERSONA_* settings: one client's idle space chats or live viewer sockets,
or one creator's live streams, no longer lock everybody else out. Clients on 127.0.0.2
stand for other fans (Linux routes all of 127/8 to the loopback)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from channels.deps import new_api_token
from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID
from persona.store import Creator
from tests.conftest import REPO, make_settings
from tests.live_server import ServerProcess, start_server

OTHER = "other.creator"
IDLE_S = 3.0
ANOTHER_FAN = ("127.0.0.2", 0)


@pytest.fixture(scope="module")
def server(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("caps") / "data"
    shutil.copytree(demo_template, data_dir)
    services = Services.build(make_settings(data_dir))
    try:
        with services.db.session() as session:
            session.add(Creator(id=OTHER, display_name="Other", settings={}))
        tokens = {c: new_api_token(services, c) for c in (DEMO_CREATOR_ID, OTHER)}
    finally:
        services.close()
    env = {
        "PERSONA_DATA_DIR": str(data_dir),
        "PERSONA_LLM_BACKEND": "scripted",
        "PERSONA_LOG_LEVEL": "WARNING",
        "PERSONA_EMBED_THREADS": "1",
        "PERSONA_LLM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PERSONA_SPACE_MAX_CONNECTIONS_PER_CLIENT": "2",
        "PERSONA_SPACE_IDLE_TIMEOUT_S": str(IDLE_S),
        "PERSONA_LIVE_MAX_STREAMS_PER_CREATOR": "1",
        "PERSONA_LIVE_MAX_VIEWERS_PER_CLIENT": "2",
        "PERSONA_LIVE_VIEWER_IDLE_TIMEOUT_S": str(IDLE_S),
    }
    log = tmp_path_factory.mktemp("logs") / "server.log"
    running = start_server(env, log, imports=["tests.doubles"], cwd=REPO)
    try:
        yield running, tokens
    finally:
        running.stop()
        print(running.log_tail())  # shown by pytest when a test failed


def open_ws(url: str, **kwargs: Any) -> ClientConnection:
    return connect(url, proxy=None, open_timeout=30, **kwargs)


def recv_json(ws: ClientConnection, timeout: float = 30) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def closed_with(ws: ClientConnection, timeout: float) -> Any:
    """The close frame the server sends within `timeout` (events before it are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        deadline = time.monotonic() + timeout
        while True:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    assert closed.value.rcvd is not None, "the server did not close the socket"
    return closed.value.rcvd


# -- the space -------------------------------------------------------------------------------


def test_one_client_cannot_fill_a_creators_space(
    server: tuple[ServerProcess, dict[str, str]],
) -> None:
    running, _ = server
    url = f"{running.ws_url}/ws/space/{DEMO_CREATOR_ID}?visitor="
    with ExitStack() as stack:
        for n in range(2):
            ws = stack.enter_context(open_ws(f"{url}hogger-000{n}"))
            assert recv_json(ws)["type"] == "ready"
        third = stack.enter_context(open_ws(f"{url}hogger-0009"))
        error = recv_json(third)
        assert error["type"] == "error" and error["code"] == "too_many_chats"
        assert closed_with(third, 10).code == 1013
        # Another fan still gets in while the hogger's sockets are open.
        fan = stack.enter_context(open_ws(f"{url}another-fan-1", source_address=ANOTHER_FAN))
        assert recv_json(fan)["type"] == "ready"


def test_an_idle_space_chat_is_closed(server: tuple[ServerProcess, dict[str, str]]) -> None:
    running, _ = server
    url = f"{running.ws_url}/ws/space/{DEMO_CREATOR_ID}?visitor=idle-visitor-1"
    with open_ws(url, source_address=("127.0.0.3", 0)) as ws:
        assert recv_json(ws)["type"] == "ready"
        event = recv_json(ws, timeout=IDLE_S + 15)
        assert event["type"] == "error" and event["code"] == "idle"
        assert closed_with(ws, 10).code == 1000


# -- live ------------------------------------------------------------------------------------


def test_one_creators_streams_do_not_lock_others_out(
    server: tuple[ServerProcess, dict[str, str]],
) -> None:
    running, tokens = server

    def feed(creator: str, stream: str) -> ClientConnection:
        url = f"{running.ws_url}/ws/live/{creator}/{stream}/in?token={tokens[creator]}"
        return open_ws(url)

    with feed(DEMO_CREATOR_ID, "first") as first:
        first.send('{"id": "1", "user": "u", "kind": "join", "name": "Anna"}')
        assert recv_json(first)["accepted"] == 1
        with feed(DEMO_CREATOR_ID, "second") as second:
            refused = closed_with(second, 10)
            assert refused.code == 1013 and "PER_CREATOR" in refused.reason
        with feed(OTHER, "theirs") as theirs:
            theirs.send('{"id": "1", "user": "u", "kind": "join", "name": "Tom"}')
            assert recv_json(theirs)["accepted"] == 1


def test_live_viewers_are_capped_per_client_and_idle_ones_closed(
    server: tuple[ServerProcess, dict[str, str]],
) -> None:
    running, _ = server
    url = f"{running.ws_url}/ws/live/{DEMO_CREATOR_ID}/not-running/out"
    with ExitStack() as stack:
        hogs = [stack.enter_context(open_ws(url, source_address=("127.0.0.4", 0)))]
        hogs.append(stack.enter_context(open_ws(url, source_address=("127.0.0.4", 0))))
        third = stack.enter_context(open_ws(url, source_address=("127.0.0.4", 0)))
        assert closed_with(third, 10).code == 1013
        viewer = stack.enter_context(open_ws(url, source_address=("127.0.0.5", 0)))
        # Nothing runs on this stream: every viewer socket is let go after the idle time.
        for ws in (*hogs, viewer):
            assert closed_with(ws, IDLE_S + 15).code == 1001
