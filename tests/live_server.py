"""Runs the platform with the live router mounted, on loopback, for tests and benchmarks.

    python -m tests.live_server --port 8765 [--import tests.doubles]

Settings come from PERSONA_* variables as usual. `--import` loads modules first, e.g. one
that registers a test-double model backend. The live router is added only when the app does
not mount it already; the platform stops its live manager before the rest at shutdown.
`start_server()` runs it as a subprocess and waits until it answers /healthz."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from channels.app import create_app
from channels.live.router import router
from channels.settings import Settings

IN_PATH = "/ws/live/{creator_id}/{stream_id}/in"


def build_app(settings: Settings | None = None, *, warm_up: bool = False) -> FastAPI:
    app = create_app(settings or Settings(), warm_up=warm_up)
    if not any(getattr(route, "path", None) == IN_PATH for route in app.routes):
        app.include_router(router)
    # The platform's lifespan stops its live manager before the rest (`Platform.stop`).
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def peak_rss_mib(self) -> float | None:
        """The server's peak resident memory so far (Linux VmHWM), while it runs."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (graceful: streams stopped, services closed), then SIGKILL."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)


def start_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    imports: Iterable[str] = (),
    cwd: Path | None = None,
    timeout_s: float = 180.0,
) -> ServerProcess:
    """Start the server in a subprocess on a free loopback port; wait for /healthz."""
    port = free_port()
    command = [sys.executable, "-m", "tests.live_server", "--port", str(port)]
    for module in imports:
        command += ["--import", module]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess(process, port, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/healthz", timeout=1.0).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise TimeoutError(
        f"the server did not answer /healthz in {timeout_s:.0f} s:\n{server.log_tail()}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], help="module to import first"
    )
    parser.add_argument("--warm-up", action="store_true", help="start the model at once")
    args = parser.parse_args(argv)
    for module in args.imports:
        importlib.import_module(module)
    app = build_app(warm_up=args.warm_up)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
