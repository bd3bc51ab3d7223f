"""The single composition root (issue 15): `build_platform` builds every part once, the app
takes them from it, and the engine is built once, never on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from channels.app import create_app
from channels.live import get_live_manager
from channels.services import Platform, Services
from persona.engine import Replier
from tests.conftest import make_settings


@pytest.fixture
def platform(tmp_path: Path):
    built = Platform.build(make_settings(tmp_path / "data"))
    try:
        yield built
    finally:
        built.close()


def test_every_part_is_built_with_the_platform(platform: Platform) -> None:
    assert Services is Platform
    for part in ("db", "index", "embeddings", "hub", "avatar", "limiter", "jobs", "live"):
        assert getattr(platform, part) is not None, part
    assert platform.live.services is platform and platform.openai.services is platform
    # A command's platform: no metrics, the in-process hub, no inbox worker, no connectors.
    assert platform.metrics is None and platform.inbox is None and platform.connectors is None


def test_the_app_takes_its_parts_from_the_platform(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "data"), warm_up=False)
    platform = app.state.services
    assert isinstance(platform, Platform)
    assert platform.metrics is app.state.metrics
    # Built with the app, started by its lifespan.
    assert platform.inbox is not None and not platform.inbox.started
    assert platform.connectors is not None and platform.connectors.services is platform
    assert get_live_manager(app) is platform.live


def test_the_engine_is_built_once_under_concurrent_first_use(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    real = Platform._build_engine

    def slow_build(self: Platform) -> Replier:
        builds.append(threading.current_thread().name)
        time.sleep(0.2)
        return real(self)

    monkeypatch.setattr(Platform, "_build_engine", slow_build)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(platform.engine)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert all(engine is seen[0] for engine in seen)
    assert isinstance(seen[0], Replier)


def test_an_async_caller_never_waits_for_the_model_on_the_event_loop(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[threading.Thread] = []
    real = Platform._build_engine

    def slow_build(self: Platform) -> Replier:
        builds.append(threading.current_thread())
        time.sleep(0.5)  # a model that takes its time to start
        return real(self)

    monkeypatch.setattr(Platform, "_build_engine", slow_build)

    async def main() -> tuple[Replier, int, threading.Thread]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        task = asyncio.create_task(ticker())
        replier = await platform.replier()
        task.cancel()
        return replier, ticks, threading.current_thread()

    replier, ticks, loop_thread = asyncio.run(main())
    assert replier is platform.engine
    assert len(builds) == 1 and builds[0] is not loop_thread
    assert ticks >= 5  # the loop kept running while the engine was built
