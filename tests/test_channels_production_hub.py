"""The Redis hub: what one worker publishes reaches the subscribers of another, each event once,
and the hub reconnects by itself after Redis restarts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from channels.hub import Hub
from channels.observability import Metrics
from channels.redis_hub import RedisHub, build_hub
from tests.production_support import RedisProcess, metric_value, service_urls


async def _next(subscription, timeout: float = 10.0):
    return await asyncio.wait_for(subscription.get(), timeout)


def _send_errors(metrics: Metrics) -> float:
    """Failed attempts of the hubs to publish to Redis."""
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    return metric_value(
        text, "persona_dependency_errors_total", component="redis", operation="hub_send"
    )


def test_events_cross_workers_once_each() -> None:
    url = service_urls().redis_url

    async def scenario() -> None:
        worker_a, worker_b = RedisHub(url), RedisHub(url)
        await worker_a.start()
        await worker_b.start()
        try:
            async with (
                worker_a.subscribe("marker") as marker_a,
                worker_b.subscribe("marker") as marker_b,
            ):
                async with (
                    worker_a.subscribe("live:c:s") as on_a,
                    worker_b.subscribe("live:c:s") as on_b,
                    worker_b.subscribe("other") as other_b,
                ):
                    assert worker_a.publish("live:c:s", {"n": 1}) == 1  # local subscribers
                    assert await _next(on_a) == {"n": 1}  # at once, locally
                    assert await _next(on_b) == {"n": 1}  # through Redis
                    worker_b.publish("live:c:s", {"n": 2})
                    assert await _next(on_a) == {"n": 2}
                    assert await _next(on_b) == {"n": 2}
                    # A marker each way through Redis, published after everything above:
                    # once it is in, each listener has read all of that (Redis delivers in
                    # order), its own echoes included.
                    worker_a.publish("marker", {"from": "a"})
                    assert await _next(marker_a) == {"from": "a"}  # locally
                    assert await _next(marker_b) == {"from": "a"}
                    worker_b.publish("marker", {"from": "b"})
                    assert await _next(marker_b) == {"from": "b"}  # locally
                    assert await _next(marker_a) == {"from": "b"}  # not A's own echo first
                    # Each subscriber got each event once: nothing else arrived.
                    assert on_a.queue.empty() and on_b.queue.empty() and other_b.queue.empty()
                # A topic nobody subscribes to any more costs nothing on the other side: B
                # reads the event (the marker after it arrives) and delivers it to no one.
                received = worker_b.received
                worker_a.publish("live:c:s", {"n": 3})
                worker_a.publish("marker", {"n": "after"})
                assert await _next(marker_a) == {"n": "after"}
                assert await _next(marker_b) == {"n": "after"}
                assert worker_b.received == received + 1  # the marker alone
                assert worker_b.subscribers("live:c:s") == 0
        finally:
            await worker_a.stop()
            await worker_b.stop()

    asyncio.run(scenario())


def test_publish_threadsafe_reaches_other_workers() -> None:
    url = service_urls().redis_url

    async def scenario() -> None:
        worker_a, worker_b = RedisHub(url), RedisHub(url)
        await worker_a.start()
        await worker_b.start()
        try:
            async with worker_b.subscribe("progress") as on_b:
                await asyncio.to_thread(worker_a.publish_threadsafe, "progress", {"done": 3})
                assert await _next(on_b) == {"done": 3}
        finally:
            await worker_a.stop()
            await worker_b.stop()

    asyncio.run(scenario())


def test_without_redis_the_in_process_hub_is_used() -> None:
    hub = build_hub(None)
    assert type(hub) is Hub


def test_hub_recovers_after_redis_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis is killed and started again on the same port: both workers reconnect by
    themselves, events published during the outage go out when Redis is back, and the
    logs and metrics say what happened."""
    redis = RedisProcess(tmp_path / "redis").start()
    metrics = Metrics()
    caplog.set_level(logging.WARNING, logger="channels.redis_hub")

    async def scenario() -> None:
        worker_a = build_hub(redis.url, metrics)
        worker_b = build_hub(redis.url, metrics)
        assert isinstance(worker_a, RedisHub) and isinstance(worker_b, RedisHub)
        await worker_a.start()
        await worker_b.start()
        try:
            async with worker_b.subscribe("t") as on_b:
                worker_a.publish("t", {"n": "before"})
                assert await _next(on_b) == {"n": "before"}
                redis.kill()
                async with asyncio.timeout(30):  # B's listener notices the outage
                    while worker_b.connected:
                        await asyncio.sleep(0.05)
                failed = _send_errors(metrics)
                worker_a.publish("t", {"n": "during"})  # waits in worker A's backlog
                async with asyncio.timeout(30):  # A tried to send it, and could not
                    while _send_errors(metrics) <= failed:
                        await asyncio.sleep(0.05)
                assert not worker_b.connected and worker_a.backlog() == 1
                await asyncio.to_thread(redis.start)
                # B resubscribes; A's backlog is sent once both are connected again. An event
                # sent before B resubscribed is lost (pub/sub), so A re-sends until B has it.
                deadline = asyncio.get_running_loop().time() + 30
                got = []
                while asyncio.get_running_loop().time() < deadline:
                    if worker_b.connected and worker_a.backlog() == 0:
                        worker_a.publish("t", {"n": "after"})
                        try:
                            got.append(await _next(on_b, 1.0))
                        except TimeoutError:
                            continue
                        if got[-1] == {"n": "after"}:
                            break
                    await asyncio.sleep(0.1)
                assert {"n": "after"} in got
                assert worker_a.connected and worker_b.connected
        finally:
            await worker_a.stop()
            await worker_b.stop()

    try:
        asyncio.run(scenario())
    finally:
        redis.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost its connection" in m for m in messages)
    assert any("reconnected" in m for m in messages)
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    assert metric_value(text, "persona_dependency_recoveries_total", component="redis_hub") >= 2
    assert metric_value(text, "persona_dependency_errors_total", component="redis") >= 2
