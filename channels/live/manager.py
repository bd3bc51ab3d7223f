"""All live streams of this process: opened by their feed, stopped after inactivity or at
shutdown. The platform holds one manager (`platform.live`, built by `build_platform`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channels.capacity import SocketSlots
from channels.live.answering import Answerer, EngineAnswerer
from channels.live.config import LiveConfig
from channels.live.moderation import cheap_moderation
from channels.live.paid import PaidLedger
from channels.live.stream import LiveStream

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

AnswererFactory = Callable[[str, str], Answerer]


class LiveCapacityError(RuntimeError):
    """Too many streams at once in this process, or for this creator."""


class LiveManager:
    def __init__(
        self,
        services: Platform,
        config: LiveConfig | None = None,
        answerer_factory: AnswererFactory | None = None,
    ) -> None:
        self.services = services
        self.config = config or LiveConfig.from_settings(getattr(services, "settings", None))
        self.viewers = SocketSlots(
            self.config.max_viewers_per_creator, self.config.max_viewers_per_client
        )
        self._answerer_factory = answerer_factory or self._engine_answerer
        self._moderation = cheap_moderation()
        # Paid messages are durable where there is a database (the app; not unit tests'
        # fakes); their lease is the inbox's (PERSONA_INBOX_LEASE_S).
        db = getattr(services, "db", None)
        lease_s = getattr(getattr(services, "settings", None), "inbox_lease_s", None) or 30.0
        self.ledger = PaidLedger(db, float(lease_s)) if db is not None else None
        self._streams: dict[tuple[str, str], LiveStream] = {}
        self._closing: dict[tuple[str, str], LiveStream] = {}
        self._ended: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._reaper: asyncio.Task[None] | None = None
        self._stopping = False

    def _engine_answerer(self, creator_id: str, stream_id: str) -> Answerer:
        return EngineAnswerer(self.services, creator_id, stream_id, self.config.cadence_s)

    def open(self, creator_id: str, stream_id: str) -> LiveStream:
        """The running stream, started on its first feed connection (call from the loop)."""
        key = (creator_id, stream_id)
        stream = self._streams.get(key)
        if stream is not None:
            return stream
        if self._stopping:
            raise LiveCapacityError("the server is shutting down")
        if len(self._streams) >= self.config.max_streams:
            raise LiveCapacityError(
                f"{len(self._streams)} live streams are running, the most this server takes "
                "(LiveConfig.max_streams): end one or add a worker"
            )
        mine = sum(1 for c, _ in self._streams if c == creator_id)
        if mine >= self.config.max_streams_per_creator:
            raise LiveCapacityError(
                f"{mine} of your streams are running, the most one creator may run at once "
                "(PERSONA_LIVE_MAX_STREAMS_PER_CREATOR)"
            )
        stream = LiveStream(
            creator_id,
            stream_id,
            self.config,
            self._answerer_factory(creator_id, stream_id),
            self.services.hub.publish,
            self._moderation,
            self.ledger,
        )
        self._streams[key] = stream
        self._ended.pop(key, None)
        stream.start()
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(
                self._reap_idle(), name="live-reaper"
            )
        log.info("live stream started", extra={"creator": creator_id, "stream": stream_id})
        return stream

    def get(self, creator_id: str, stream_id: str) -> LiveStream | None:
        return self._streams.get((creator_id, stream_id))

    def running(self, creator_id: str, stream_id: str) -> bool:
        return (creator_id, stream_id) in self._streams

    def stats(self, creator_id: str, stream_id: str) -> dict[str, Any] | None:
        """Counters of a running stream, or the final ones of a recently ended stream."""
        key = (creator_id, stream_id)
        stream = self._streams.get(key) or self._closing.get(key)
        if stream is not None:
            return stream.stats()
        return self._ended.get(key)

    def streams(self, creator_id: str) -> list[dict[str, Any]]:
        running = [s.stats() for (c, _), s in self._streams.items() if c == creator_id]
        ended = [v for (c, _), v in self._ended.items() if c == creator_id]
        return running + ended

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per-stream counters keyed "creator/stream" (for a Prometheus exporter)."""
        return {f"{c}/{s}": stream.stats() for (c, s), stream in self._streams.items()}

    def replay(self, creator_id: str, stream_id: str) -> list[dict[str, Any]]:
        stream = self.get(creator_id, stream_id)
        return stream.replay() if stream is not None else []

    async def end(self, creator_id: str, stream_id: str, reason: str = "ended") -> bool:
        key = (creator_id, stream_id)
        stream = self._streams.pop(key, None)
        if stream is None:
            return False
        self._closing[key] = stream  # its stats stay readable while it stops
        try:
            await stream.stop(reason)
        finally:
            del self._closing[key]
            self._ended[key] = stream.stats()
        while len(self._ended) > self.config.ended_kept:
            self._ended.popitem(last=False)
        log.info(
            "live stream stopped",
            extra={"creator": creator_id, "stream": stream_id, "reason": reason},
        )
        return True

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(self.config.reap_interval_s)
            now = time.time()
            for key, stream in list(self._streams.items()):
                if stream.idle(now):
                    try:
                        await self.end(*key, reason="idle")
                    except Exception:  # noqa: BLE001 - keep reaping the others
                        log.exception("stopping an idle live stream failed")

    async def stop(self) -> None:
        """Stop every stream (application shutdown)."""
        self._stopping = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for key in list(self._streams):
            await self.end(*key, reason="shutdown")


def get_live_manager(app: Any) -> LiveManager:
    """The app's manager (the platform's)."""
    return app.state.services.live
