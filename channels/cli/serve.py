"""`persona serve`: the platform's HTTP server (how it runs: channels/server.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from channels.cli.common import err, load_settings
from channels.cli.demo import DEMO_MESSAGES, answer_demo_messages, where_next
from channels.demo_creator import ensure_demo


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="API worker processes (default PERSONA_WORKERS, 1); more than one needs "
            "PostgreSQL, Redis, the Chroma server and an OpenAI-compatible model",
        ),
    ] = None,
    demo_creator: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load the demo creator first")
    ] = True,
    demo_replies: Annotated[
        bool,
        typer.Option("--demo-replies/--no-demo-replies", help="Show it answering fans first"),
    ] = True,
) -> None:
    """Serve the platform: HTTP API, websockets, interactive space and console."""
    from channels.server import CannotRunWorkers, check_workers, run_server

    settings = load_settings(quiet=False)
    count = workers or settings.workers
    try:
        check_workers(settings, count)
    except CannotRunWorkers as exc:
        err.print(f"[red]cannot start {count} workers[/red]: {exc}")
        raise typer.Exit(2) from None
    if demo_creator:
        from channels.services import Platform

        services = Platform.build(settings)
        try:
            creator_id = ensure_demo(services)
            if demo_replies:
                answer_demo_messages(services, creator_id, DEMO_MESSAGES)
        finally:
            services.close()
    bind_host, bind_port = host or settings.host, port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME

    err.print(f"\nserving on {base} ({count} worker{'s' if count > 1 else ''})", highlight=False)
    err.print(where_next(base, DEMO_CREATOR_ID, DEMO_DISPLAY_NAME, serving=True), highlight=False)
    run_server(settings, bind_host, bind_port, count)
