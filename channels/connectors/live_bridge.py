"""A connector's link to the live-stream intake: messages go through the same intake as the
websocket feed (validation, duplicate ids, per-viewer rate, spam, grouping, priorities), and
the stream's published answers come back to be written to the network."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from channels.connectors.base import Counters, describe
from channels.live.manager import LiveManager
from channels.live.protocol import Ack
from channels.live.stream import LiveStream
from channels.live.topics import topic

log = logging.getLogger(__name__)


class LiveBridge:
    def __init__(self, live: LiveManager, creator_id: str, stream_id: str) -> None:
        self.live = live
        self.creator_id = creator_id
        self.stream_id = stream_id
        self.topic = topic(creator_id, stream_id)
        self._stream: LiveStream | None = None

    def stream(self) -> LiveStream:
        """The running stream, opened again if it ended (it counts this bridge as a feed, so
        it is never stopped as idle while connected)."""
        current = self.live.get(self.creator_id, self.stream_id)
        if current is None or current is not self._stream:
            current = self.live.open(self.creator_id, self.stream_id)
            current.feed_opened()
            self._stream = current
        return current

    def take(self, messages: list[dict[str, Any]]) -> Ack:
        return self.stream().intake_frame(json.dumps(messages, ensure_ascii=False))

    def take_counted(
        self, message: dict[str, Any] | None, counters: Counters, kind: str, connector_id: str
    ) -> None:
        """One chat message into the intake, counted in the connector's health; a refusal is
        reported there, never raised: a full server must not end the connector's reading."""
        if message is None:
            return
        counters.received += 1
        try:
            ack = self.take([message])
        except Exception as exc:  # noqa: BLE001
            counters.last_error = describe(exc)
            log.warning(
                f"the live intake refused a {kind} message", extra={"connector": connector_id}
            )
            return
        counters.taken += ack.accepted

    async def queue_answers(
        self,
        outbox: deque[tuple[float, str]],
        queued: asyncio.Event,
        counters: Counters,
        render: Callable[[dict[str, Any]], str],
        limit: int,
    ) -> None:
        """The stream's answers into the connector's outbox as (time queued, text), the
        oldest dropped (counted as "overflow") beyond `limit`; `queued` wakes the sender."""
        async for event in self.answers():
            if len(outbox) >= limit:
                outbox.popleft()
                counters.skip("overflow")
            outbox.append((time.monotonic(), render(event)))
            queued.set()

    async def paused(self) -> bool:
        """The kill switch and the live policy, read now (an answer waiting for the rate
        limit is not sent after a pause)."""
        return (await self.stream().answerer.policy()).paused

    async def answers(self) -> AsyncIterator[dict[str, Any]]:
        """The stream's answers as they are published (the hub topic the viewers read)."""
        async with self.live.services.hub.subscribe(self.topic) as subscription:
            while True:
                event = await subscription.get()
                if event.get("type") == "answer":
                    yield event

    def close(self) -> None:
        if self._stream is not None and self.live.get(self.creator_id, self.stream_id) is (
            self._stream
        ):
            self._stream.feed_closed()
        self._stream = None
