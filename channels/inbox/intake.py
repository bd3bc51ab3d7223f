"""Group commit for the webhook intake: concurrent webhooks are queued to one writer, which
stores everything waiting in one transaction (`store.accept_events`) and then answers each
request. A webhook is acknowledged only after the transaction holding its row committed, so
an acknowledged webhook survives a kill -9; the duplicate answer is `accept_event`'s.

No timer: while one batch commits, the next one gathers, so a lone webhook is written at
once and a burst is written in as few transactions as the database's speed allows. The
writer's one thread is its own (not the shared pool the worker's claims use), and being the
only intake writer it does not fight other intake threads for SQLite's write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from channels.inbox import store
from persona.store import Database

log = logging.getLogger(__name__)

# Most webhooks in one transaction (bounds one statement's size and a batch's latency).
MAX_BATCH = 256


class IntakeWriter:
    """The one writer of the inbox intake of a process (start it on the running loop)."""

    def __init__(
        self,
        db: Database,
        on_commit: Callable[[int], None] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.db = db
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._waiting: list[tuple[store.Arrival, asyncio.Future[store.Accepted]]] = []
        self._wake = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-intake")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Batches committed and webhooks in them (for the metrics and the tests).
        self.batches = 0
        self.stored = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-intake")

    async def accept(self, arrival: store.Arrival) -> store.Accepted:
        """Store one webhook; returns once its transaction committed. Raises
        `store.UnknownCreator` as `store.accept_event` does."""
        if self._task is None or self._task.done() or self._stopping:
            # Not started (or stopped): one transaction of its own, as before.
            return await asyncio.to_thread(accept_one, self.db, arrival)
        future: asyncio.Future[store.Accepted] = asyncio.get_running_loop().create_future()
        # Mark an error as seen even when its request went away before the answer.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting.append((arrival, future))
        self._wake.set()
        # A client that goes away does not take its row back: shield the shared batch.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                await self._commit(loop, batch)

    async def _commit(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[store.Arrival, asyncio.Future[store.Accepted]]],
    ) -> None:
        try:
            answers = await loop.run_in_executor(
                self._thread, store.accept_events, self.db, [a for a, _ in batch]
            )
        except Exception as exc:  # noqa: BLE001 - each request answers with the error
            log.warning("webhook batch not stored", extra={"webhooks": len(batch)})
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        new = 0
        for (_, future), answer in zip(batch, answers, strict=True):
            if isinstance(answer, store.UnknownCreator):
                future.set_exception(answer)
            else:
                new += not answer.duplicate
                future.set_result(answer)
        self.batches += 1
        self.stored += new
        if new and self.on_commit is not None:
            self.on_commit(new)

    async def stop(self) -> None:
        """Write what waits, then stop (the server has stopped taking requests by now); later
        webhooks are stored one transaction each."""
        self._stopping = True
        if self._task is not None:
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=True)


def accept_one(db: Database, arrival: store.Arrival) -> store.Accepted:
    """One webhook in a transaction of its own (no writer running)."""
    answer = store.accept_events(db, [arrival])[0]
    if isinstance(answer, store.UnknownCreator):
        raise answer
    return answer
