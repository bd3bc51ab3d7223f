"""What every command module shares: the settings, the services, the consoles.

Command modules import this, never each other's internals and never `channels.cli.main`,
so the package has no import cycle."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from channels.logs import configure_logging
from channels.settings import Settings
from channels.terminal import console, err, progress_bars

if TYPE_CHECKING:
    from channels.services import Platform

__all__ = ["console", "err", "load_settings", "open_services", "progress_bars"]


def load_settings(quiet: bool = True) -> Settings:
    """The PERSONA_* settings, or exit 2 naming the invalid field."""
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the field and the problem
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    # Interactive commands show results, not logs, unless PERSONA_LOG_LEVEL asks for them.
    level = settings.log_level
    if quiet and "PERSONA_LOG_LEVEL" not in os.environ:
        level = "WARNING"
    configure_logging(level, settings.log_format)
    if level == "WARNING":  # the result table already says what each safety check decided
        logging.getLogger("persona.safety").setLevel(logging.ERROR)
    return settings


@contextmanager
def open_services(migrate: bool = True) -> Iterator[Platform]:
    """The platform's services for one command, closed when it ends."""
    from channels.services import Platform

    services = Platform.build(load_settings(), migrate=migrate)
    try:
        yield services
    finally:
        services.close()
