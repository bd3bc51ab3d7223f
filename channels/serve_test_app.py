"""Start the real app on a free loopback port, for tests and benchmarks that need a real server
(a process they can kill -9). Settings come from PERSONA_* variables as usual.

    python -m channels.serve_test_app --port-file PATH [--import tests.doubles]

The port is chosen by the OS and written to PATH once the socket is bound (no race on a
"free" port); `--import` loads modules that register test doubles through the registries.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import create_model

from channels.inbox.config import InboxConfig
from channels.settings import Settings


def _settings_class() -> type[Settings]:
    """Settings plus the inbox fields it does not declare (yet), read from PERSONA_*."""
    missing = {
        name: (field.annotation, field)
        for name, field in InboxConfig.model_fields.items()
        if name not in Settings.model_fields
    }
    if not missing:
        return Settings
    return create_model("ServeSettings", __base__=Settings, **missing)  # type: ignore[call-overload]


def _with_inbox(app: FastAPI) -> FastAPI:
    """Add the inbox routes and worker when the app factory does not include them itself."""
    from channels.inbox import start_worker
    from channels.inbox.router import router

    if not any(getattr(r, "path", "") == "/webhooks/{platform}" for r in app.routes):
        app.include_router(router)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            handle = None
            if getattr(app.state, "inbox_worker", None) is None:
                handle = start_worker(app.state.services)
                app.state.inbox_worker = handle
            try:
                yield state
            finally:
                if handle is not None:
                    await handle.stop()

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--import", dest="imports", action="append", default=[])
    args = parser.parse_args()
    for module in args.imports:
        importlib.import_module(module)

    from channels.app import create_app

    settings = _settings_class()()
    app = _with_inbox(create_app(settings, warm_up=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=settings.log_level.lower(), access_log=False)
    server = uvicorn.Server(config)
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, args.port_file)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
