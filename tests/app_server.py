"""The real app under uvicorn in a thread, on a loopback port, with the uvicorn options of
`persona serve` (trusted proxies, our logging): for tests that need a real server in this
process (to patch the resolver, or read the log records)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from channels.app import create_app
from channels.server import uvicorn_options
from channels.settings import Settings


@dataclass
class RunningApp:
    url: str
    port: int
    app: FastAPI

    @property
    def services(self) -> Any:
        return self.app.state.services

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


@contextmanager
def serve_app(settings: Settings, **options: Any) -> Iterator[RunningApp]:
    """Yields once the server accepts connections; stops it (lifespan included) afterwards.
    `options` override the uvicorn options of `persona serve`."""
    app = create_app(settings, warm_up=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, **{**uvicorn_options(settings), **options})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    try:
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield RunningApp(f"http://127.0.0.1:{port}", port, app)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
