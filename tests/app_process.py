"""Start the real app on a free loopback port, for tests and benchmarks that need a real server
(a process they can kill -9). Settings come from PERSONA_* variables as usual.

    python -m tests.app_process --port-file PATH [--import tests.doubles]

The port is chosen by the OS and written to PATH once the socket is bound (no race on a
"free" port); `--import` loads modules that register test doubles through the registries
(as PERSONA_PLUGINS does).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import socket
from pathlib import Path

import uvicorn

from channels.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--import", dest="imports", action="append", default=[])
    args = parser.parse_args()
    for module in args.imports:
        importlib.import_module(module)

    from channels.app import create_app
    from channels.server import uvicorn_options

    settings = Settings()
    app = create_app(settings, warm_up=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        access_log=False,
        # The trusted proxies of `persona serve` (None: uvicorn's default).
        forwarded_allow_ips=uvicorn_options(settings).get("forwarded_allow_ips"),
    )
    server = uvicorn.Server(config)
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, args.port_file)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
