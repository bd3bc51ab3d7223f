"""In-process publish/subscribe for websocket subscribers (replies, live answers, progress).

Each subscriber has a bounded queue: a slow client loses its oldest events (counted), never
blocks the publisher. A Redis-backed hub with the same interface serves several workers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, topic: str, maxsize: int) -> None:
        self.topic = topic
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()


class Hub:
    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        """Deliver to every subscriber of `topic` (call from the event loop)."""
        subscribers = self._subscribers.get(topic, ())
        for subscription in subscribers:
            subscription.offer(event)
        return len(subscribers)

    def publish_threadsafe(self, topic: str, event: dict[str, Any]) -> None:
        """Publish from a worker thread."""
        if self._loop is None:
            log.debug("hub has no loop yet; event dropped", extra={"topic": topic})
            return
        self._loop.call_soon_threadsafe(self.publish, topic, event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(topic, self.queue_size)
        self._subscribers[topic].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[topic].discard(subscription)
            if not self._subscribers[topic]:
                self._subscribers.pop(topic, None)

    def subscribers(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))
