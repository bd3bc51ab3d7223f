"""How `persona serve` runs the app: one process, or several API workers behind one port.

With `--workers N` (N > 1) uvicorn starts N processes that each call `app_from_env()`, so
each builds its app from the same PERSONA_* environment. They share what the settings point
at (PostgreSQL, Redis, the Chroma server, the model endpoint), and one `/metrics` through
prometheus_client's multiprocess directory, which is prepared here before any worker starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from channels.settings import Settings

# 1 MiB websocket frames: a live-chat batch fits, a memory-exhaustion frame does not.
WS_MAX_SIZE = 1 << 20
FACTORY = "channels.server:app_from_env"


class CannotRunWorkers(ValueError):
    """Several workers were asked for with settings that only suit one process."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "several API workers need shared services:\n" + "\n".join(f"- {p}" for p in problems)
        )


def app_from_env() -> Any:
    """The app of one API worker (`uvicorn --factory channels.server:app_from_env`):
    settings from the PERSONA_* environment."""
    from channels.app import create_app

    return create_app(Settings())


def check_workers(settings: Settings, workers: int) -> None:
    """Raise CannotRunWorkers, naming each fix, when `workers` > 1 would not work: SQLite
    serializes every worker's writes, the embedded Chroma store shows each worker stale
    results, in-process hubs cannot carry one worker's events to another's websockets, and
    each worker would start its own embedded model."""
    if workers <= 1:
        return
    from channels.doctor import multi_worker_problems

    problems = multi_worker_problems(settings)
    if problems:
        raise CannotRunWorkers(problems)


@contextlib.contextmanager
def multiprocess_metrics() -> Iterator[Path]:
    """The directory the workers share their metrics through. PROMETHEUS_MULTIPROC_DIR is
    prometheus_client's own switch, read when a worker imports it: an operator's value is
    kept (its stale files from an earlier run are removed, as prometheus_client requires),
    else a fresh temporary directory is used and removed afterwards."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="persona-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(directory, ignore_errors=True)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every way of serving the app gives uvicorn: our logging, the websocket frame cap,
    and whose X-Forwarded-Proto / X-Forwarded-For to believe (PERSONA_TRUSTED_PROXIES; None
    keeps uvicorn's default). The scheme they set decides Secure cookies and HSTS."""
    options: dict[str, Any] = {
        "log_config": None,
        "ws_max_size": WS_MAX_SIZE,
        "proxy_headers": True,
    }
    if settings.trusted_proxies is not None:
        options["forwarded_allow_ips"] = settings.trusted_proxies
    return options


def run_server(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve until interrupted: the app in this process, or `workers` worker processes."""
    import uvicorn

    check_workers(settings, workers)
    if workers <= 1:
        from channels.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options(settings))
        return
    # Migrate once here; workers starting together also serialize on a database lock.
    from channels.migrate import upgrade
    from persona.store import Database, DatabaseConfig

    db = Database(DatabaseConfig(settings.resolved_database_url))
    try:
        upgrade(db.engine)
    finally:
        db.dispose()
    # The supervisor says when a worker died and that it started another (at INFO): always
    # worth a line in the log, whatever the level of the platform's own messages.
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
    with multiprocess_metrics():
        uvicorn.run(
            FACTORY,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            **uvicorn_options(settings),
        )
