"""The connector manager restarts a connector whose background task ended on an error."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import ClassVar

import pytest

from channels.connectors import manager as manager_module
from channels.connectors.base import Connector, ConnectorSpec
from channels.connectors.manager import ConnectorManager
from channels.connectors.registry import ConnectorRegistry


class FlakySpec(ConnectorSpec):
    kind: str = "flaky"

    @property
    def id(self) -> str:
        return "flaky:room"

    def remote(self) -> str:
        return "room"


class FlakyConnector(Connector):
    """The first instance's loop dies on an error it did not expect; the next one runs."""

    kind: ClassVar[str] = "flaky"
    spec_model: ClassVar[type[ConnectorSpec]] = FlakySpec
    made: ClassVar[list[FlakyConnector]] = []

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._tasks: list[asyncio.Task[None]] = []
        self.stopped = False
        FlakyConnector.made.append(self)

    async def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._run()))

    async def _run(self) -> None:
        if len(FlakyConnector.made) == 1:
            raise KeyError("a field the library did not send")
        await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_connector_whose_loop_died_is_restarted_and_counted(monkeypatch, caplog) -> None:
    registry = ConnectorRegistry()
    registry.add(FlakyConnector)
    spec = FlakySpec(stream_id="main")
    monkeypatch.setattr(manager_module, "all_specs", lambda db: {("c1", spec.id): spec})
    errors: list[tuple[str, str]] = []
    metrics = SimpleNamespace(dependency_error=lambda *args: errors.append(args))
    services = SimpleNamespace(db=None, settings=SimpleNamespace(connector_poll_s=60.0))
    manager = ConnectorManager(services, live=None, metrics=metrics, registry=registry)  # type: ignore[arg-type]
    FlakyConnector.made.clear()
    try:
        await manager.reconcile()
        first = FlakyConnector.made[0]
        await asyncio.gather(*first._tasks, return_exceptions=True)  # its loop has died
        assert isinstance(first.failure(), KeyError)
        with caplog.at_level(logging.ERROR):
            await manager.reconcile()
        assert first.stopped and len(FlakyConnector.made) == 2
        assert FlakyConnector.made[1].failure() is None
        assert errors == [("flaky", "crash")]
        assert "restarting it" in caplog.text
        await manager.reconcile()  # a healthy connector is left alone
        assert len(FlakyConnector.made) == 2
    finally:
        await manager.stop()


@pytest.mark.parametrize("cancelled", [True, False])
async def test_a_cancelled_or_finished_task_is_not_a_failure(cancelled: bool) -> None:
    connector = FlakyConnector.__new__(FlakyConnector)

    async def ends() -> None:
        return None

    task = asyncio.get_running_loop().create_task(asyncio.sleep(10) if cancelled else ends())
    if cancelled:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    connector._tasks = [task]
    assert connector.failure() is None
