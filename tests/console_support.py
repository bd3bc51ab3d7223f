"""Shared by the console tests: the platform app with every part the console shows (the inbox,
live streams, the avatar studio, until `create_app` includes them itself), console accounts,
signing in, and the real server in a subprocess (a process we start on loopback and kill).

    python -m tests.console_support --port-file PATH

serves the app with settings from PERSONA_* variables and the scripted test model registered;
the port is chosen by the OS and written to PATH once the socket is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import tests.doubles  # noqa: F401 - registers the scripted chat backend
from channels.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
WEBHOOK_PLATFORM = "testgram"
WEBHOOK_SECRET = "console-test-secret-0123456789abcdef"


# -- the app ---------------------------------------------------------------------------------


def settings_class() -> type[Settings]:
    """Settings plus the inbox fields it does not declare yet (webhook secrets...)."""
    from pydantic import create_model

    from channels.inbox.config import InboxConfig

    missing = {
        name: (field.annotation, field)
        for name, field in InboxConfig.model_fields.items()
        if name not in Settings.model_fields
    }
    if not missing:
        return Settings
    return create_model("ConsoleTestSettings", __base__=Settings, **missing)  # type: ignore[call-overload]


def _has_route(app: FastAPI, path: str) -> bool:
    return any(getattr(r, "path", "") == path for r in app.routes)


def build_app(settings: Settings, *, avatar: bool = True, inbox_worker: bool = False) -> FastAPI:
    """create_app + the routers the console pages call + the console itself."""
    from channels.app import create_app
    from channels.console import mount_console
    from channels.deps import authenticated_creator

    app = create_app(settings, warm_up=False)
    if not _has_route(app, "/webhooks/{platform}"):
        from channels.inbox.router import router as inbox_router

        app.include_router(inbox_router)
    if not _has_route(app, "/api/creators/{creator_id}/live"):
        from channels.live.router import router as live_router

        app.include_router(live_router)
    avatar_service = None
    if avatar and not _has_route(app, "/api/creators/{creator_id}/avatar/styles"):
        from avatar import AvatarConfig, AvatarService
        from channels.avatar_api import build_avatar_router
        from persona.store import Database, DatabaseConfig

        settings.ensure_dirs()
        engine = Database(DatabaseConfig(settings.resolved_database_url)).engine
        config = AvatarConfig(
            data_dir=settings.data_dir, daily_limit=None, max_outputs=4, output_size=256
        )
        avatar_service = AvatarService(config, engine)
        app.include_router(
            build_avatar_router(avatar_service), dependencies=[Depends(authenticated_creator)]
        )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            services = app.state.services
            _ensure_inbox_tables(services)
            worker = None
            if inbox_worker and not (services.inbox and services.inbox.started):
                from channels.inbox.worker import start_worker

                worker = start_worker(services)
            if avatar_service is not None:
                await asyncio.to_thread(avatar_service.start)
            try:
                yield state
            finally:
                if worker is not None:
                    await worker.stop()
                if avatar_service is not None:
                    await asyncio.to_thread(avatar_service.stop)

    app.router.lifespan_context = lifespan
    mount_console(app)
    return app


def _ensure_inbox_tables(services: Any) -> None:
    # Until the 0003_inbox migration is in the chain, create the inbox tables directly.
    from channels.inbox.models import InboxEvent, OutboxReply

    for table in (InboxEvent.__table__, OutboxReply.__table__):
        table.create(services.db.engine, checkfirst=True)


# -- accounts and signing in -----------------------------------------------------------------


def add_account(
    db: Any, creator_id: str, name: str | None = None, password: str = PASSWORD
) -> None:
    from channels.console.auth import create_account

    create_account(db, creator_id, name, password, datetime.now(UTC))


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no field {name!r} in the page"
    return match.group(1)


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "no CSRF token in the page: not signed in?"
    return match.group(1)


def sign_in(client: TestClient | httpx.Client, creator_id: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={
            "creator_id": creator_id,
            "password": password,
            "login_token": field(page.text, "login_token"),
            "next": "/console",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/console").text)


# -- the real server -------------------------------------------------------------------------


class ConsoleServer:
    """`python -m tests.console_support` in a subprocess, on loopback."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = data_dir.parent / "console-server.log"

    def start(self, timeout_s: float = 90.0) -> str:
        port_file = self.data_dir.parent / "console-server.port"
        port_file.unlink(missing_ok=True)
        env = {
            **os.environ,
            "PERSONA_DATA_DIR": str(self.data_dir),
            "PERSONA_LLM_BACKEND": "scripted",
            "PERSONA_LOG_LEVEL": "WARNING",
            "PERSONA_EMBED_THREADS": "1",
            "PERSONA_LLM_THREADS": "1",
            "PERSONA_WEBHOOK_SECRETS": f'{{"{WEBHOOK_PLATFORM}": "{WEBHOOK_SECRET}"}}',
            "PERSONA_INBOX_POLL_S": "0.2",
            # A small avatar job, once the app builds the studio from the settings itself.
            "PERSONA_AVATAR_MAX_OUTPUTS": "4",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1",
            **self.env,
        }
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.console_support",
                    "--port-file",
                    str(port_file),
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-3000:]}")
            if port_file.exists():
                self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
                try:
                    if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                        return self.url
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the platform with the console.")
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    settings = settings_class()()
    app = build_app(settings, inbox_worker=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, args.port_file)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
