"""`persona jobs`: a job worker for post imports and avatar jobs (production)."""

from __future__ import annotations

from typing import Annotated

import typer

from channels.jobs import create_job_worker


def jobs_command(
    burst: Annotated[
        bool, typer.Option("--burst", help="Stop when the queue is empty (batch runs, tests)")
    ] = False,
) -> None:
    """Run a job worker: post imports and avatar jobs from the Redis queue (production).

    Mounted by the CLI as `persona jobs`; run one per core you give to background work."""
    from rich.console import Console

    from channels.logs import configure_logging
    from channels.services import Platform
    from channels.settings import Settings

    err = Console(stderr=True)
    try:
        settings = Settings()
        worker = create_job_worker(settings, burst=burst, services_factory=Platform.build)
    except ValueError as exc:  # pydantic's message, or the missing Redis URL, names the fix
        err.print(f"[red]cannot start a job worker:[/red] {exc}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    worker.run()
