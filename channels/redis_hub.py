"""Publish/subscribe across API workers through Redis, with the interface of `channels.hub.Hub`.

A worker delivers its own events to its own subscribers at once (as the in-process hub does)
and also sends them to Redis; every worker listens on one pattern subscription and hands the
events of other workers to its local subscribers. So a fan's websocket on worker B receives
the reply that worker A produced.

Redis pub/sub is fire-and-forget: while Redis is down, events wait in a bounded backlog and
go out when it is back (the oldest are dropped, and counted, if the backlog fills); events
published by other workers during the outage are not replayed. What must not be lost
(inbox events, replies) lives in the database; the hub only carries notifications and live
updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from channels.aio import wait_set
from channels.hub import Hub
from persona.registry import Registry

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "persona:hub:"


class RedisHub(Hub):
    def __init__(
        self,
        url: str,
        queue_size: int = 256,
        *,
        backlog_size: int = 10_000,
        prefix: str = CHANNEL_PREFIX,
        on_drop: Callable[[str, int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_recover: Callable[[], None] | None = None,
        retry_s: float = 0.5,
    ) -> None:
        super().__init__(queue_size)
        self.url = url
        self.prefix = prefix
        self.origin = uuid.uuid4().hex
        self.retry_s = retry_s
        self._backlog: deque[tuple[str, str]] = deque()
        self._backlog_size = backlog_size
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._on_drop = on_drop
        self._on_error = on_error
        self._on_recover = on_recover
        self._subscribed = asyncio.Event()
        self.connected = False
        self.dropped = 0
        self.received = 0
        self.sent = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (call from the app's lifespan, on the worker's event loop). Returns once the
        listener is subscribed, or after a few seconds if Redis is not reachable yet (it keeps
        retrying in the background)."""
        self.bind_loop(asyncio.get_running_loop())
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-hub-listen"),
            asyncio.create_task(self._send(), name="redis-hub-send"),
        ]
        await wait_set(self._subscribed, 5.0)

    async def stop(self) -> None:
        # Give queued events a moment to go out before closing.
        deadline = time.monotonic() + 2.0
        while self._backlog and self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.connected = False

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        return aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2.0, health_check_interval=10
        )

    # -- publishing ------------------------------------------------------------------------

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        """Deliver to this worker's subscribers now and queue the event for the others (call
        from the event loop, as with the in-process hub). Returns the local subscriber count."""
        local = super().publish(topic, event)
        payload = json.dumps({"o": self.origin, "e": event}, default=str, ensure_ascii=False)
        if len(self._backlog) >= self._backlog_size:
            self._backlog.popleft()
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop("backlog_full", 1)
        self._backlog.append((self.prefix + topic, payload))
        self._wake.set()
        return local

    def backlog(self) -> int:
        return len(self._backlog)

    async def _send(self) -> None:
        client = self._client()
        try:
            while True:
                if not self._backlog:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                channel, payload = self._backlog[0]
                try:
                    await client.publish(channel, payload)
                except (OSError, TimeoutError) as exc:
                    self._failed("send", exc)
                    await asyncio.sleep(self.retry_s)
                    continue
                except Exception as exc:  # noqa: BLE001 - redis raises its own ConnectionError
                    if not _is_connection_error(exc):
                        log.exception("dropping an event Redis refused", extra={"channel": channel})
                        self._backlog.popleft()
                        continue
                    self._failed("send", exc)
                    await asyncio.sleep(self.retry_s)
                    continue
                # Sent: only now is it removed, so an outage does not lose it.
                if self._backlog and self._backlog[0][1] is payload:
                    self._backlog.popleft()
                self.sent += 1
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    # -- receiving -------------------------------------------------------------------------

    async def _listen(self) -> None:
        down_since: float | None = None
        while True:
            client = self._client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.prefix + "*")
                self.connected = True
                self._subscribed.set()
                if down_since is not None:
                    log.warning(
                        "redis hub reconnected",
                        extra={"down_s": round(time.monotonic() - down_since, 1)},
                    )
                    if self._on_recover is not None:
                        self._on_recover()
                    down_since = None
                    self._wake.set()  # flush what waited
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self._deliver(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect on any connection problem
                if not (_is_connection_error(exc) or isinstance(exc, OSError | TimeoutError)):
                    log.exception("redis hub listener failed; reconnecting")
                was_connected, self.connected = self.connected, False
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning(
                        "redis hub lost its connection; reconnecting"
                        if was_connected
                        else "redis hub cannot reach Redis; retrying",
                        extra={"error": type(exc).__name__},
                    )
                if self._on_error is not None:
                    self._on_error("listen")
                await asyncio.sleep(self.retry_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    def _deliver(self, message: dict[str, Any]) -> None:
        channel = message.get("channel", b"")
        if isinstance(channel, bytes):
            channel = channel.decode()
        topic = channel[len(self.prefix) :]
        if topic not in self._subscribers:
            return  # nobody here listens to it
        try:
            data = json.loads(message["data"])
        except (ValueError, TypeError):
            log.warning("ignoring a malformed hub message", extra={"channel": channel})
            return
        if data.get("o") == self.origin:
            return  # delivered locally when published
        self.received += 1
        Hub.publish(self, topic, data["e"])

    def _failed(self, operation: str, exc: BaseException) -> None:
        if self.connected:  # the listener logs the outage itself; say only what waits
            log.warning(
                "redis hub: %s failed; retrying",
                operation,
                extra={"error": type(exc).__name__, "backlog": len(self._backlog)},
            )
        if self._on_error is not None:
            self._on_error(operation)


def _is_connection_error(exc: BaseException) -> bool:
    import redis

    return isinstance(exc, redis.ConnectionError | redis.TimeoutError)


# Hubs by name, like the other swappable parts (persona.registry).
hubs: Registry[Hub] = Registry("hub")


def build_hub(redis_url: str | None, metrics: Any = None, queue_size: int = 256) -> Hub:
    """The Redis hub when Redis is configured (several workers), else the in-process hub.
    `metrics` (channels.observability.Metrics) counts drops, errors and recoveries."""
    return hubs.create("redis" if redis_url else "memory", redis_url, metrics, queue_size)


@hubs.register("memory")
def _memory_hub(redis_url: str | None, metrics: Any, queue_size: int) -> Hub:
    return Hub(queue_size)


@hubs.register("redis")
def _redis_hub(redis_url: str | None, metrics: Any, queue_size: int) -> Hub:
    if not redis_url:
        raise ValueError("the Redis hub needs PERSONA_REDIS_URL (redis://HOST:6379/0)")
    options: dict[str, Any] = {}
    if metrics is not None:
        options = {
            "on_drop": lambda reason, n: metrics.drops.labels("hub", reason).inc(n),
            "on_error": lambda operation: metrics.dependency_error("redis", f"hub_{operation}"),
            "on_recover": lambda: metrics.dependency_recoveries.labels("redis_hub").inc(),
        }
    return RedisHub(redis_url, queue_size, **options)
