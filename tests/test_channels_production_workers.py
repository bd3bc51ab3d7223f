"""Production mode with two API workers behind one port (`uvicorn --workers 2`), sharing
PostgreSQL, Redis and the Chroma server: a websocket viewer on one worker receives the answer
that the other worker produced; webhooks taken by either worker are answered once; and
`/metrics` adds up both workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.inbox_support import CallbackSink
from tests.production_support import (
    Deployment,
    all_sent,
    answered_once,
    deploy,
    dm,
    live_urls,
    metric_value,
    send_webhooks,
    wait_until,
    worker_of,
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    # The callback sinks are on loopback: callbacks may reach them only with this setting.
    with deploy(tmp_path_factory.mktemp("two-workers"), callback_allow_private=True) as running:
        yield running


async def _viewer_on_another_worker(out_url: str, not_on: int, tries: int = 60) -> Any:
    """Open viewer connections until one lands on another worker than `not_on` (the kernel
    hands each new connection to whichever worker accepts first)."""
    for _ in range(tries):
        viewer = await connect(out_url)
        if worker_of(viewer) != not_on:
            return viewer
        await viewer.close()
        await asyncio.sleep(0.05)
    raise AssertionError(f"every connection went to worker {not_on}")


async def _answer(viewer: Any, timeout_s: float = 60.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            event = json.loads(await viewer.recv())
            if event.get("type") == "answer":
                return event


def test_two_workers_serve_one_port(deployment: Deployment) -> None:
    pids = deployment.workers.worker_pids()
    assert len(pids) == 2
    assert deployment.workers.serving_pids(attempts=40) == set(pids)


def test_viewer_on_one_worker_gets_the_answer_another_worker_made(
    deployment: Deployment,
) -> None:
    feed_url, out_url = live_urls(deployment.workers, "cross-worker", deployment.token)

    async def scenario() -> tuple[int, int, dict[str, Any]]:
        async with connect(feed_url) as feed:
            producer = worker_of(feed)
            viewer = await _viewer_on_another_worker(out_url, producer)
            try:
                question = {
                    "id": "q1",
                    "user": "anna",
                    "name": "Anna",
                    "kind": "chat",
                    "text": "c'est quoi ta recette de tarte au citron ?",
                }
                await feed.send(json.dumps(question))
                ack = json.loads(await feed.recv())
                assert ack["accepted"] == 1, ack
                return producer, worker_of(viewer), await _answer(viewer)
            finally:
                await viewer.close()

    producer, consumer, answer = asyncio.run(scenario())
    assert producer != consumer
    assert answer["kind"] == "question" and answer["text"] and answer["label"]
    assert "tarte au citron" in answer["question"]


def test_webhooks_taken_by_either_worker_are_answered_once(
    deployment: Deployment,
) -> None:
    sink = CallbackSink()
    with sink.serving() as callback:
        messages = [
            dm(f"message {n} de {fan} : ta pâte à crêpes ?", fan=fan, callback_url=callback)
            for n in range(4)
            for fan in ("ana", "ben", "chloe", "dan", "eve")
        ]
        outcome = send_webhooks(deployment.workers.url, messages, threads=4)
        assert set(outcome.values()) == {"accepted"}
        ids = {m["message_id"] for m in messages}
        wait_until(lambda: all_sent(deployment.database_url, len(ids)), 180, 0.3)
        wait_until(lambda: len(sink.received) >= len(ids), 60, 0.2)
        answered_once(deployment.database_url, sink, ids)


def test_metrics_add_up_over_both_workers(deployment: Deployment) -> None:
    workers = deployment.workers
    sink = CallbackSink()
    with sink.serving() as callback:
        message = dm("coucou, tu cuisines quoi ce soir ?", fan="metrics", callback_url=callback)
        assert send_webhooks(workers.url, [message]) == {message["message_id"]: "accepted"}
        wait_until(lambda: sink.texts_for(message["message_id"]), 120, 0.2)
    before = workers.metrics()
    seen: set[str] = set()
    for _ in range(40):
        response = httpx.get(f"{workers.url}/healthz", timeout=5)
        seen.add(response.headers["x-persona-worker"])
    after = workers.metrics()
    counted = metric_value(
        after, "persona_http_requests_total", route="/healthz", status="200"
    ) - metric_value(before, "persona_http_requests_total", route="/healthz", status="200")
    assert len(seen) == 2, "both workers answered"
    assert counted == 40, "one scrape counts the requests of both workers"
    assert metric_value(after, "persona_worker_starts_total") == 2
    for component in ("database", "redis", "chroma"):
        assert metric_value(after, "persona_dependency_up", component=component) == 1
    # The reply to the DM above, by channel, with its latency and the safety decision.
    assert metric_value(after, "persona_replies_total", channel="dm") >= 1
    assert metric_value(after, "persona_reply_first_token_seconds_count", channel="dm") >= 1
    assert metric_value(after, "persona_moderation_decisions_total", channel="dm") >= 1
    assert "persona_queue_depth" in after and "persona_store_queue_depth" in after
