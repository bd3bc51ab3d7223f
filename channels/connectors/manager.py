"""Runs the stored connectors of every creator in this process: every `poll_s` it compares
what is stored (`persona connect`, the API, the console) with what runs, and starts, stops or
restarts connectors to match. Several API workers on one machine: only the worker holding
the lock file `DATA_DIR/connectors.lock` runs them (one bot per chat room, not one per
worker); the others take over when it exits."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channels.connectors.base import Connector, ConnectorSpec, Context, Health, waiting_health
from channels.connectors.registry import CONNECTORS, ConnectorRegistry
from channels.connectors.store import all_specs, creator_specs
from channels.live.manager import LiveManager

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (creator id, connector id)


class ConnectorManager:
    def __init__(
        self,
        services: Platform,
        live: LiveManager,
        metrics: Any = None,
        registry: ConnectorRegistry = CONNECTORS,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.ctx = Context(live=live, settings=self.settings, metrics=metrics)
        self.registry = registry
        self.poll_s: float = getattr(self.settings, "connector_poll_s", 5.0)
        self._running: dict[Key, Connector] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock_fd: int | None = None

    @property
    def started(self) -> bool:
        """Whether the reconciling loop runs (within the app's lifespan)."""
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="connectors")

    def reconcile_soon(self) -> None:
        """Look at the stored specs now (after the API changed them)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self._hold_lock):
                    await self.reconcile()
            except Exception:  # noqa: BLE001 - a bad row must not end the loop
                log.exception("reconciling the connectors failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    def _hold_lock(self) -> bool:
        if self._lock_fd is not None:
            return True
        path = Path(self.settings.data_dir) / "connectors.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    async def reconcile(self) -> None:
        wanted = await asyncio.to_thread(all_specs, self.services.db)
        for key, connector in list(self._running.items()):
            if (error := connector.failure()) is not None:
                log.error(
                    "connector task ended on an error; restarting it",
                    extra={"creator": key[0], "connector": key[1], "error": repr(error)},
                )
                if self.ctx.metrics is not None:
                    self.ctx.metrics.dependency_error(connector.kind, "crash")
                await self._stop(key)  # started again below, as a new connector
            elif wanted.get(key) != connector.spec:
                await self._stop(key)
        for key, spec in wanted.items():
            if key not in self._running:
                await self._start(key[0], spec)

    async def _start(self, creator_id: str, spec: ConnectorSpec) -> None:
        connector = self.registry.get(spec.kind)(creator_id, spec, self.ctx)
        self._running[(creator_id, spec.id)] = connector
        await connector.start()
        log.info(
            "connector started",
            extra={"creator": creator_id, "connector": spec.id, "remote": spec.remote()},
        )

    async def _stop(self, key: Key) -> None:
        connector = self._running.pop(key, None)
        if connector is not None:
            await connector.stop()
            log.info("connector stopped", extra={"creator": key[0], "connector": key[1]})

    def status(self, creator_id: str) -> list[Health]:
        """The creator's stored connectors, running or not."""
        stored = creator_specs(self.services.db, creator_id)
        found = []
        for spec in stored:
            connector = self._running.get((creator_id, spec.id))
            if connector is not None and connector.spec == spec:
                found.append(connector.health())
            else:
                why = "" if self._lock_fd is not None else "runs in another worker"
                found.append(waiting_health(creator_id, spec, why, spec.kind))
        return found

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for key in list(self._running):
            await self._stop(key)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None
