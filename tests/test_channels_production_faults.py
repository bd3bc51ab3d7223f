"""Faults in production mode (two API workers on PostgreSQL, Redis and the Chroma server):

- kill -9 of the worker that holds a live stream's feed, while the feed sends messages and
  signed webhooks arrive: uvicorn starts a new worker, the feed reconnects and the stream
  goes on, and every accepted webhook is answered exactly once;
- Redis killed and started again: fans keep getting DM replies meanwhile, the workers
  reconnect by themselves and live answers cross workers again;
- the Chroma server killed and started again: replies that failed meanwhile are retried and
  answered exactly once.

In each case the platform says what happened in its log and in `/metrics`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from channels.inbox.models import EventStatus, InboxEvent
from tests.inbox_support import CallbackSink
from tests.production_support import (
    ChromaProcess,
    RedisProcess,
    Workers,
    all_sent,
    answered_once,
    deploy,
    dm,
    live_urls,
    metric_value,
    rows,
    send_webhooks,
    wait_until,
    worker_of,
)

QUESTIONS = [
    "c'est quoi ta recette de tarte au citron ?",
    "tu utilises quel beurre pour la pâte feuilletée ?",
    "combien de temps au four pour les madeleines ?",
    "tu as un conseil pour réussir une mayonnaise ?",
    "quelle farine pour le pain maison ?",
    "comment tu fais ta pâte à crêpes ?",
    "tu as une idée de dessert sans gluten ?",
    "quel vin avec un boeuf bourguignon ?",
]


@dataclass
class Feeder:
    """A live feed in its own thread: one frame of messages every `every_s`, reconnecting (to
    whichever worker accepts) when its connection dies."""

    url: str
    every_s: float = 0.1
    stop: threading.Event = field(default_factory=threading.Event)
    acks: list[tuple[int, float, int]] = field(default_factory=list)  # (worker, at, accepted)
    connections: list[int] = field(default_factory=list)
    reconnects: int = 0
    sent: int = 0
    _thread: threading.Thread | None = None

    def start(self) -> Feeder:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        wait_until(lambda: self.acks, 60, 0.05)
        return self

    def join(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(60)

    @property
    def worker(self) -> int:
        return self.connections[-1]

    async def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                async with connect(self.url, open_timeout=10) as feed:
                    self.connections.append(worker_of(feed))
                    while not self.stop.is_set():
                        frame = []
                        for _ in range(5):
                            n += 1
                            text = QUESTIONS[n % len(QUESTIONS)] if n % 3 == 0 else "trop bien !"
                            frame.append(
                                {"id": f"m{n}", "user": f"u{n % 40}", "kind": "chat", "text": text}
                            )
                        await feed.send(json.dumps(frame))
                        ack = json.loads(await feed.recv())
                        self.sent += len(frame)
                        self.acks.append((worker_of(feed), time.monotonic(), ack["accepted"]))
                        await asyncio.sleep(self.every_s)
            except Exception:  # noqa: BLE001 - the worker died: reconnect like a platform would
                self.reconnects += 1
                await asyncio.sleep(0.2)


@dataclass
class Viewer:
    """A viewer's websocket in its own thread, on another worker than `not_on`, recording the
    answers it receives with the time."""

    url: str
    not_on: int
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    worker: int = 0
    _thread: threading.Thread | None = None

    def start(self) -> Viewer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        wait_until(lambda: self.worker, 60, 0.05)
        return self

    def join(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def answers_since(self, moment: float) -> list[dict[str, Any]]:
        return [event for at, event in self.answers if at > moment]

    async def _run(self) -> None:
        for _ in range(60):
            viewer = await connect(self.url)
            if worker_of(viewer) != self.not_on:
                break
            await viewer.close()
        else:
            raise AssertionError("every viewer connection went to the same worker")
        self.worker = worker_of(viewer)
        try:
            while not self.stop.is_set():
                try:
                    raw = await asyncio.wait_for(viewer.recv(), 0.5)
                except TimeoutError:
                    continue
                event = json.loads(raw)
                if event.get("type") == "answer":
                    self.answers.append((time.monotonic(), event))
        finally:
            await viewer.close()


def _retry_until_accepted(url: str, messages: list[dict[str, Any]]) -> None:
    pending = messages
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        outcome = send_webhooks(url, pending, threads=4)
        pending = [m for m in pending if outcome[m["message_id"]] != "accepted"]
        if pending:
            time.sleep(0.5)
    assert not pending, f"{len(pending)} webhooks never accepted"


def _statuses(database_url: str) -> Counter[str]:
    return Counter(e.status for e in rows(database_url, InboxEvent))


def test_kill_9_a_worker_under_live_stream_load(tmp_path: Path) -> None:
    sink = CallbackSink()
    with (
        sink.serving() as callback,
        # The sink is on loopback: callbacks may reach it only with this setting.
        deploy(tmp_path, inbox_lease_s=2.0, callback_allow_private=True) as deployment,
    ):
        workers: Workers = deployment.workers
        feed_url, out_url = live_urls(workers, "fault-kill", deployment.token)
        feeder = Feeder(feed_url).start()
        messages = [
            dm(f"message {n} de {fan} : une recette de crêpes ?", fan=fan, callback_url=callback)
            for n in range(5)
            for fan in [f"fan{i:02d}" for i in range(16)]
        ]
        outcome: dict[str, str] = {}
        sender = threading.Thread(
            target=lambda: outcome.update(send_webhooks(workers.url, messages, 4, 0.3))
        )
        sender.start()
        viewer: Viewer | None = None
        try:
            # A viewer on the other worker, which survives.
            viewer = Viewer(out_url, not_on=feeder.worker).start()
            # Kill the feed's worker while DMs are being answered and the stream is busy.
            wait_until(lambda: _statuses(deployment.database_url)[EventStatus.DONE] >= 10, 180)
            wait_until(lambda: viewer.answers, 60)  # answers cross from the feed's worker
            victim = feeder.worker
            killed_at = time.monotonic()
            at_kill = _statuses(deployment.database_url)
            before_kill = len(feeder.acks)
            workers.kill_worker(victim)
            sender.join()
            # uvicorn starts a replacement; both workers serve again.
            wait_until(
                lambda: victim not in workers.worker_pids() and len(workers.worker_pids()) == 2,
                120,
                0.2,
            )
            wait_until(lambda: workers.serving_pids(10) == set(workers.worker_pids()), 240, 0.5)
            # The feed reconnected to a live worker and the stream goes on there.
            wait_until(lambda: feeder.connections[-1] != victim and feeder.acks[-1][0] != victim)
            wait_until(lambda: len(feeder.acks) > before_kill + 20, 60)
            # The stream, opened again where the feed reconnected, answers the viewer.
            after = wait_until(lambda: viewer.answers_since(killed_at), 60, 0.2)
            assert all(a["text"] and a["label"] for a in after)
            # What failed because of the kill, the platform sends again (and some that worked).
            failed = [m for m in messages if outcome[m["message_id"]] == "failed"]
            accepted = [m for m in messages if outcome[m["message_id"]] == "accepted"]
            _retry_until_accepted(workers.url, failed + accepted[:10])
            ids = {m["message_id"] for m in messages}
            wait_until(lambda: all_sent(deployment.database_url, len(ids)), 240, 0.3)
            wait_until(lambda: len(sink.received) >= len(ids), 60, 0.2)
            answered_once(deployment.database_url, sink, ids)
        finally:
            feeder.join()
            if viewer is not None:
                viewer.join()
        text = workers.metrics()
        log = workers.log_text()
    assert f"Child process [{victim}] died" in log
    assert metric_value(text, "persona_worker_starts_total") == 3
    assert feeder.reconnects >= 1
    print(
        f"feed: {feeder.sent} messages, {feeder.reconnects} reconnect(s); webhooks failed by "
        f"the kill and re-sent: {len(failed)}; inbox at the kill: {dict(at_kill)}"
    )


def test_redis_restart_keeps_fans_answered_and_reconnects(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path / "redis").start()
    sink = CallbackSink()
    try:
        with (
            sink.serving() as callback,
            deploy(tmp_path, redis_url=redis.url, callback_allow_private=True) as deployment,
        ):
            workers = deployment.workers
            feed_url, out_url = live_urls(workers, "fault-redis", deployment.token)
            redis.kill()
            # Redis is down: DMs are still accepted and answered (the database holds them;
            # rate limits fall back to each worker).
            during = [
                dm(f"pendant la panne {n}", fan=f"r{n}", callback_url=callback) for n in range(6)
            ]
            assert set(send_webhooks(workers.url, during).values()) == {"accepted"}
            wait_until(lambda: all_sent(deployment.database_url, len(during)), 120, 0.3)
            wait_until(lambda: "Redis unreachable" in workers.log_text(), 30, 0.3)
            redis.start()
            wait_until(lambda: workers.log_text().count("redis hub reconnected") >= 2, 60, 0.3)
            # Live answers cross workers again.

            async def cross() -> tuple[int, int]:
                async with connect(feed_url) as feed:
                    producer = worker_of(feed)
                    for _ in range(60):
                        viewer = await connect(out_url)
                        if worker_of(viewer) != producer:
                            break
                        await viewer.close()
                    consumer = worker_of(viewer)
                    try:
                        question = {"id": "q", "user": "u", "kind": "chat", "text": QUESTIONS[0]}
                        await feed.send(json.dumps(question))
                        await feed.recv()
                        async with asyncio.timeout(60):
                            while json.loads(await viewer.recv()).get("type") != "answer":
                                pass
                    finally:
                        await viewer.close()
                    return producer, consumer

            producer, consumer = asyncio.run(cross())
            assert producer != consumer
            answered_once(deployment.database_url, sink, {m["message_id"] for m in during})
            wait_until(
                lambda: (
                    metric_value(workers.metrics(), "persona_dependency_up", component="redis") == 1
                ),
                30,
                0.5,
            )
            text = workers.metrics()
            log = workers.log_text()
    finally:
        redis.stop()
    assert log.count("redis hub lost its connection") >= 2  # each worker says it
    assert "rate limits are shared through Redis again" in log or "Redis unreachable" in log
    assert metric_value(text, "persona_dependency_recoveries_total", component="redis_hub") >= 2
    assert metric_value(text, "persona_dependency_recoveries_total", component="redis") >= 1
    assert metric_value(text, "persona_dependency_errors_total", component="redis") >= 1


def test_chroma_restart_retries_and_answers_once(tmp_path: Path) -> None:
    chroma = ChromaProcess(tmp_path / "chroma").start()
    sink = CallbackSink()
    try:
        with (
            sink.serving() as callback,
            deploy(
                tmp_path,
                chroma=("127.0.0.1", chroma.port),
                inbox_retry_base_s=1.0,
                inbox_max_attempts=10,
                callback_allow_private=True,  # the sink is on loopback
            ) as deployment,
        ):
            workers = deployment.workers
            first = [dm(f"avant {n}", fan=f"c{n}", callback_url=callback) for n in range(4)]
            assert set(send_webhooks(workers.url, first).values()) == {"accepted"}
            wait_until(lambda: all_sent(deployment.database_url, len(first)), 120, 0.3)
            chroma.kill()
            during = [
                dm(f"pendant la panne {n}", fan=f"d{n}", callback_url=callback) for n in range(6)
            ]
            assert set(send_webhooks(workers.url, during).values()) == {"accepted"}
            # The replies fail while the Chroma server is down, and are retried later.
            wait_until(lambda: "cause=chroma" in workers.log_text(), 60, 0.3)
            chroma.start()
            ids = {m["message_id"] for m in first + during}
            wait_until(lambda: all_sent(deployment.database_url, len(ids)), 180, 0.3)
            wait_until(lambda: len(sink.received) >= len(ids), 60, 0.2)
            answered_once(deployment.database_url, sink, ids)

            # Each worker probes on its own clock, and the gauge is the minimum over live
            # workers: wait until every worker has seen the Chroma server back.
            def recovered() -> bool:
                text = workers.metrics()
                return (
                    metric_value(text, "persona_dependency_recoveries_total", component="chroma")
                    >= 1
                    and metric_value(text, "persona_dependency_up", component="chroma") == 1
                )

            wait_until(recovered, 60, 0.5)
            text = workers.metrics()
            log = workers.log_text()
    finally:
        chroma.stop()
    assert "chroma unreachable" in log and "chroma reachable again" in log
    assert metric_value(text, "persona_reply_errors_total", cause="chroma") >= 1
    assert metric_value(text, "persona_dependency_up", component="chroma") == 1
