"""Smaller defects of the security probe (issue 14, item 12), through the real app under
uvicorn on loopback with real HTTP and websocket clients: Secure cookies and HSTS behind a
TLS-terminating proxy, API tokens in query strings kept out of the access log, a
non-streamed completion cancelled when its client leaves, and photos over the pixel limit
refused before anything is decoded."""

from __future__ import annotations

import io
import json
import logging
import select
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.sync.client import connect

from channels.avatar_config import avatar_config
from channels.console.auth import create_account
from channels.deps import new_api_token
from ingest.demo import DEMO_CREATOR_ID
from tests.app_server import RunningApp, serve_app
from tests.conftest import make_settings
from tests.http_stub import serve_on_loopback
from tests.production_support import metric_value

CREATOR = "hardening"
PASSWORD = "correct horse battery staple"
PROXY = "127.0.0.2"


def _with_account(running: RunningApp) -> str:
    services = running.services
    create_account(services.db, CREATOR, "Hardening", PASSWORD, datetime.now(UTC))
    return new_api_token(services, CREATOR)


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """Served over https by a proxy that says nothing: PERSONA_PUBLIC_URL says it."""
    settings = make_settings(
        tmp_path_factory.mktemp("public") / "data", public_url="https://fans.example.test"
    )
    with serve_app(settings) as running:
        _with_account(running)
        yield running


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, str]]:
    """Behind a proxy at 127.0.0.2 (PERSONA_TRUSTED_PROXIES); logging at INFO, as a server
    that keeps its access log."""
    settings = make_settings(
        tmp_path_factory.mktemp("proxied") / "data", trusted_proxies=[PROXY], log_level="INFO"
    )
    with serve_app(settings) as running:
        yield running, _with_account(running)


def _client(running: RunningApp, source: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=running.url, transport=transport, timeout=60)


def _sign_in(
    client: httpx.Client, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """The login page and the sign-in answer (each sets a cookie). The login cookie is sent
    back by hand: a client over plain http keeps a Secure cookie to itself."""
    page = client.get("/console/login", headers=headers)
    token = page.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    form = {"creator_id": CREATOR, "password": PASSWORD, "login_token": token, "next": "/console"}
    cookie = {"Cookie": _cookie(page, "persona_console_login").split(";", 1)[0]}
    client.cookies.clear()
    signed = client.post("/console/login", data=form, headers={**headers, **cookie})
    assert signed.status_code == 303, signed.text
    return page, signed


def _cookie(response: httpx.Response, name: str) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


def _secure(header: str) -> bool:
    return "secure" in [part.strip().lower() for part in header.split(";")]


# -- (a) cookies and HSTS behind a TLS-terminating proxy -------------------------------------


def test_console_cookies_are_secure_when_the_public_url_is_https(public: RunningApp) -> None:
    """The proxy terminates TLS and talks plain http to the app: the session cookie had no
    Secure flag, so a browser would send it over plain http too."""
    with _client(public) as client:
        page, signed = _sign_in(client, {})
    assert _secure(_cookie(page, "persona_console_login"))
    session = _cookie(signed, "persona_console")
    assert _secure(session) and "httponly" in session.lower()
    for response in (page, signed):
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_forwarded_proto_is_believed_only_from_trusted_proxies(
    proxied: tuple[RunningApp, str],
) -> None:
    running, _ = proxied
    claims_https = {"X-Forwarded-Proto": "https"}
    with _client(running, PROXY) as via_proxy:
        page, signed = _sign_in(via_proxy, claims_https)
    assert _secure(_cookie(signed, "persona_console"))
    assert _secure(_cookie(page, "persona_console_login"))
    assert signed.headers["strict-transport-security"] == "max-age=31536000"
    # Anyone else may claim https: not believed (uvicorn trusted 127.0.0.1 by default).
    with _client(running) as direct:
        page, signed = _sign_in(direct, claims_https)
    assert not _secure(_cookie(signed, "persona_console"))
    assert "strict-transport-security" not in signed.headers


# -- (b) tokens in query strings ------------------------------------------------------------


def test_tokens_in_query_strings_stay_out_of_the_access_log(
    proxied: tuple[RunningApp, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Websocket clients that cannot send headers put the API token in `?token=`; uvicorn
    logged every handshake and request with its query string."""
    running, token = proxied
    with caplog.at_level(logging.INFO):
        with _client(running) as client:
            assert client.get("/healthz", params={"token": token, "x": "1"}).status_code == 200
        url = f"{running.ws_url}/ws/live/{CREATOR}/probe/in?token={token}"
        with connect(url, open_timeout=30):
            pass
        # uvicorn logs the access line as the response starts: give its thread a moment.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            "WebSocket" in r.getMessage() for r in caplog.records
        ):
            time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")]
    assert any("/healthz?token=[redacted]&x=1" in line for line in lines), lines
    assert any("/in?token=[redacted]" in line and "WebSocket" in line for line in lines), lines
    assert not any(token in line for line in lines)
    assert not any(token in str(r.__dict__) for r in caplog.records)


# -- (c) a completion whose client left -----------------------------------------------------


class HeldModel:
    """An OpenAI-compatible model server that never answers: it records each request and
    when the platform closes that connection."""

    def __init__(self) -> None:
        self.requests = 0
        self.closed = 0
        self.bodies: list[bytes] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with model.lock:
                    model.requests += 1
                    model.bodies.append(body)
                while not model.stop.is_set():
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                        with model.lock:
                            model.closed += 1
                        return
                self.send_response(503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


@pytest.fixture(scope="module")
def persona(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, str, HeldModel]]:
    data_dir = tmp_path_factory.mktemp("persona") / "data"
    shutil.copytree(demo_template, data_dir)
    model = HeldModel()
    with serve_on_loopback(model.handler()) as model_url:
        settings = make_settings(
            data_dir,
            llm_backend="openai",
            llm_base_url=f"{model_url}/v1",
            llm_api_key="stub",
            reply_candidates=2,
        )
        try:
            with serve_app(settings) as running:
                yield running, new_api_token(running.services, DEMO_CREATOR_ID), model
        finally:
            model.stop.set()


def _completion(token: str, text: str) -> bytes:
    """A raw non-streamed /v1/chat/completions request (a client that can just go away)."""
    body = json.dumps(
        {"model": DEMO_CREATOR_ID, "messages": [{"role": "user", "content": text}]}
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def _wait(condition: Any, seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure()
        time.sleep(0.05)


def _client_left(running: RunningApp) -> float:
    """Completions answered 499 (the client left): counted once the handler has returned,
    which it does only after the cancelled work is over (`unless_disconnected`)."""
    from prometheus_client import generate_latest

    text = generate_latest(running.services.metrics.registry).decode()
    return metric_value(text, "persona_http_requests_total", method="POST", status="499")


def test_a_completion_stops_when_its_client_leaves(
    persona: tuple[RunningApp, str, HeldModel],
) -> None:
    """A non-streamed completion went on generating after its client left (each request
    several model calls). Now the model server connections close within a moment."""
    running, token, model = persona
    left_before = _client_left(running)
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as client:
        client.sendall(_completion(token, "coucou, tu fais quoi ce soir ?"))
        # the first request loads the engine
        _wait(lambda: model.requests >= 2, 120, lambda: "the model was never asked")
        held = model.requests
    # The client is gone: every model call it started is cancelled, its connection closed.
    _wait(
        lambda: model.closed >= held,
        15,
        lambda: f"{held - model.closed} model calls still running",
    )
    # Its handler returned (after the cancelled work ended: nothing more can start inside it).
    _wait(
        lambda: _client_left(running) > left_before,
        15,
        lambda: "the completion's handler never returned",
    )
    # And a later completion reaches the model: the platform went on working meanwhile, and
    # nothing new was started for the client that left (work left running on its own would
    # have asked the model before this one got through auth, retrieval and the prompt).
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as later:
        later.sendall(_completion(token, "marker: are you baking today?"))
        _wait(
            lambda: any(b"marker: are you baking" in body for body in model.bodies),
            60,
            lambda: "the later completion never reached the model",
        )
        with model.lock:
            for_the_first = [body for body in model.bodies if b"marker: are you" not in body]
        assert len(for_the_first) == held  # nothing new started for a client that left
    # The later client leaves too: its calls end before the next test.
    _wait(
        lambda: model.closed >= model.requests,
        15,
        lambda: f"{model.requests - model.closed} model calls still running",
    )


# -- (d) photos over the pixel limit ---------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    """A real PNG of that size, a few kilobytes (1 bit per pixel, one colour)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def test_photos_over_the_pixel_limit_are_refused_before_decoding(
    proxied: tuple[RunningApp, str],
) -> None:
    """Ten 49-megapixel PNGs (the probe's: 1.5 MB in all) cost 27 s and +670 MB to decode.
    Their headers are read first now: the upload is refused at once, nothing decoded."""
    running, token = proxied
    big = _png(7000, 7000)
    files = [("files", (f"big{i}.png", big, "image/png")) for i in range(10)]
    with _client(running) as client:
        started = time.monotonic()
        refused = client.post(
            f"/api/creators/{CREATOR}/avatar/checks",
            files=files,
            headers={"Authorization": f"Bearer {token}"},
        )
        elapsed = time.monotonic() - started
    assert refused.status_code == 413, refused.text
    detail = refused.json()["detail"]
    assert "big0.png is 7000x7000 pixels (49 megapixels)" in detail and "at most 40" in detail
    assert elapsed < 5, elapsed
    assert Image.MAX_IMAGE_PIXELS == 40_000_000


def test_the_pixel_limit_is_a_setting(tmp_path: Path) -> None:
    config = avatar_config(make_settings(tmp_path, avatar_max_pixels=12_000_000))
    assert config.limits.max_pixels == 12_000_000
    assert avatar_config(make_settings(tmp_path)).limits.max_pixels == 40_000_000
