"""One live stream: the intake (synchronous, never waits on answering), the answering loop
(one answer per cadence), and the top-questions view, both published on the hub topic
`live:{creator_id}:{stream_id}`.

Paid messages and gifts are durable when the stream has a ledger (channels.live.paid): they
are committed to the inbox before the frame's ack (`paid_stored`), and each is settled there
when answered or dropped; chatter, questions and welcomes live in memory only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from channels.api import safejson
from channels.inbox.groups import to_the_crowd
from channels.live.answering import Answerer, LivePolicy
from channels.live.config import LiveConfig
from channels.live.metrics import StreamMetrics
from channels.live.paid import (
    DECIDED,
    PaidLedger,
    PaidMessage,
    mark_published,
    now_utc,
    record_answer,
    record_drop,
)
from channels.live.protocol import (
    MESSAGE,
    Ack,
    AnswerEvent,
    ChatIn,
    JoinIn,
    StreamEndedEvent,
    TopQuestionsEvent,
)
from channels.live.queue import LiveQueue, Work
from channels.live.screening import IntakeScreen, looks_like_spam
from channels.live.topics import topic
from channels.textsim import (
    clean_name,
    clean_text,
    features_of,
    fold,
    is_greeting,
    is_question,
    tokens,
)

log = logging.getLogger(__name__)

QUESTION_CHARS = 300  # a question is answered (and shown) in at most this many characters


class LiveStream:
    def __init__(
        self,
        creator_id: str,
        stream_id: str,
        config: LiveConfig,
        answerer: Answerer,
        publish: Callable[[str, dict[str, Any]], object],
        moderation: Callable[[str], str | None] | None = None,
        ledger: PaidLedger | None = None,
    ) -> None:
        self.creator_id = creator_id
        self.stream_id = stream_id
        self.topic = topic(creator_id, stream_id)
        self.config = config
        self.answerer = answerer
        self._publish = publish
        self.metrics = StreamMetrics(creator_id, stream_id)
        self.queue = LiveQueue(config.queue, self.metrics)
        self.screen = IntakeScreen(config.screen)
        # Lexicon check for text that may be shown or answered (None: links and floods only).
        self.moderation = moderation
        self.recent: deque[dict[str, Any]] = deque(maxlen=config.recent_answers)
        self.top_view: dict[str, Any] | None = None
        self._policy = LivePolicy(cadence_s=config.cadence_s)
        self._policy_at = float("-inf")
        self._tasks: list[asyncio.Task[None]] = []
        self._working: Work | None = None
        # Paid messages read but not yet committed (they wait in `metrics.queued`).
        self.ledger = ledger
        self._staged: list[PaidMessage] = []
        self._storing: asyncio.Task[None] | None = None

    # -- intake (runs inline in the websocket handler: no awaits) --------------------------

    def intake_frame(self, raw: str | bytes, now: float | None = None) -> Ack:
        """Parse and queue one frame (a message object or an array); the ack to send back."""
        now = time.time() if now is None else now
        metrics = self.metrics
        metrics.frames += 1
        metrics.last_frame_at = now
        dropped: Counter[str] = Counter()
        try:
            # Bounded depth and numbers: a hostile frame is dropped, never the socket. Text
            # no store can keep is refused per message below, not for the whole batch.
            data = safejson.loads(raw, storable=False, what="the frame")
        except safejson.JSONInputError as exc:
            metrics.received += 1
            metrics.intake.add(1, now)
            metrics.drop("invalid")
            return Ack(
                ack=None,
                received=1,
                accepted=0,
                dropped={"invalid": 1},
                error=f"the frame is not JSON we take ({exc}): send one message object or an "
                "array of them",
            )
        items = data if isinstance(data, list) else [data]
        metrics.received += len(items)
        metrics.intake.add(len(items), now)
        last_id = _item_id(items[-1]) if items else None
        if len(items) > self.config.max_batch:
            metrics.drop("batch_too_large", len(items))
            return Ack(
                ack=last_id,
                received=len(items),
                accepted=0,
                dropped={"batch_too_large": len(items)},
                error=f"at most {self.config.max_batch} messages a frame: split the batch",
            )
        accepted = 0
        invalid_example: str | None = None
        for item in items:
            try:
                message = MESSAGE.validate_python(item)
            except ValidationError as exc:
                problem: str | None = _describe(exc)
            else:
                problem = _unstorable(item)
            if problem is not None:
                reason: str | None = "invalid"
                if invalid_example is None:
                    invalid_example = problem
                metrics.drop("invalid")
            else:
                reason, was_accepted = self._intake_one(message, now)
                accepted += was_accepted
            if reason is not None:
                dropped[reason] += 1
        metrics.accepted += accepted
        return Ack(
            ack=last_id,
            received=len(items),
            accepted=accepted,
            dropped=dict(dropped),
            error=invalid_example,
        )

    def _intake_one(self, message: Any, now: float) -> tuple[str | None, bool]:
        """(drop reason or None, accepted?). Drops are counted in the metrics here or by the
        queue; a message can be accepted and then dropped (chatter, a queue overflow)."""
        screen = self.screen
        if not screen.first_time(message.id):
            return self._drop("duplicate_id"), False
        viewer = screen.viewer(message.user, now)
        if isinstance(message, JoinIn):
            if viewer.welcomed:
                return self._drop("repeat_join"), True
            viewer.welcomed = True
            self._newcomer(message, now)
            return None, True
        if isinstance(message, ChatIn):
            if not screen.allow_rate(viewer, now):
                return self._drop("rate_limited"), False
            text = message.text
            if looks_like_spam(text):
                return self._drop("spam"), False
            folded = fold(text)
            if screen.repeated(viewer, folded, now):
                return self._drop("repeat"), False
            found = tokens(folded)
            # A question to the other viewers ("anyone here from Lyon?") is theirs to answer.
            if is_question(text, found) and not to_the_crowd(text):
                feats, content = features_of(found)
                if content:
                    return self._question(message, text, feats, content, now)
            if not viewer.welcomed and is_greeting(text, found):
                viewer.welcomed = True
                self._newcomer(message, now)
                return None, True
            return self._drop("chatter"), True
        # Paid messages and gifts: no rate limit (the platform charged for them).
        if message.text and (reason := self._vet(message.text)) is not None:
            return self._drop(reason), False
        if self.ledger is not None:
            self._stage(
                PaidMessage(
                    str(message.id),
                    message.kind,
                    clean_text(message.text, QUESTION_CHARS),
                    message.user,
                    clean_name(message.name, message.user),
                    message.amount,
                )
            )
            return None, True
        reason = self.queue.add_paid(
            message.kind,
            clean_text(message.text, QUESTION_CHARS),
            message.user,
            clean_name(message.name, message.user),
            message.amount,
            now,
        )
        return reason, True

    def _question(
        self, message: ChatIn, text: str, feats: frozenset[str], content: frozenset[str], now: float
    ) -> tuple[str | None, bool]:
        cluster = self.queue.match(feats, content)
        if cluster is not None:
            # Its text is never shown nor answered: no moderation needed.
            return self.queue.merge(cluster, now), True
        if (reason := self._vet(text)) is not None:
            return self._drop(reason), False
        reason = self.queue.new_question(
            clean_text(text, QUESTION_CHARS),
            feats,
            content,
            message.user,
            clean_name(message.name, message.user),
            now,
        )
        return reason, True

    # -- durable paid messages -------------------------------------------------------------

    def _stage(self, message: PaidMessage) -> None:
        self._staged.append(message)
        self.metrics.queued += 1
        if self._storing is None or self._storing.done():
            self._storing = asyncio.get_running_loop().create_task(
                self._store_staged(), name=f"live-paid:{self.topic}"
            )

    async def _store_staged(self) -> None:
        assert self.ledger is not None
        while self._staged:
            batch, self._staged = self._staged, []
            stored = True
            try:
                ids = await asyncio.to_thread(
                    self.ledger.store, self.creator_id, self.stream_id, batch, now_utc()
                )
            except Exception:  # noqa: BLE001 - answered from memory, as chatter is
                log.exception("paid live messages not stored", extra={"topic": self.topic})
                ids, stored = [None] * len(batch), False
            self._admit(batch, ids, stored)

    def _admit(self, batch: list[PaidMessage], ids: list[int | None], stored: bool) -> None:
        """Queue committed paid messages. One whose row existed already (the feed sent it
        again) is answered from that row, not twice. A paid message the full queue turns
        away keeps its row: when its lease runs out an inbox worker answers it."""
        now = time.time()
        for message, event_id in zip(batch, ids, strict=True):
            self.metrics.queued -= 1
            if stored and event_id is None:
                self.metrics.drop("duplicate_id")
                continue
            _, item = self.queue.add_paid_item(
                message.kind, message.text, message.user, message.name, message.amount, now
            )
            if item is not None and event_id is not None:
                item.event_ids.append(event_id)

    async def paid_stored(self) -> None:
        """Wait until the paid messages read so far are committed (the feed's ack waits for
        it: a paid message acknowledged is never lost)."""
        while self._storing is not None and not self._storing.done():
            await asyncio.shield(self._storing)

    def _held_ids(self) -> list[int]:
        working = self._working.paid if self._working is not None else None
        return self.queue.paid_event_ids() + (working.event_ids if working is not None else [])

    async def _renew_loop(self) -> None:
        assert self.ledger is not None
        while True:
            await asyncio.sleep(self.ledger.lease_s / 3)
            ids = self._held_ids()
            if ids:
                try:
                    await asyncio.to_thread(self.ledger.renew, ids, now_utc())
                except Exception:  # noqa: BLE001 - the next beat retries
                    log.exception("renewing paid live leases failed", extra={"topic": self.topic})

    def _vet(self, text: str) -> str | None:
        """Cheap checks for text that may be shown or answered."""
        if looks_like_spam(text):
            return "spam"
        return self.moderation(text) if self.moderation is not None else None

    def _drop(self, reason: str) -> str:
        self.metrics.drop(reason)
        return reason

    def _newcomer(self, message: Any, now: float) -> None:
        name = clean_name(message.name, message.user)
        # A spammy or abusive display name is welcomed among "others", never shown.
        if self._vet(name) is not None:
            name = ""
        self.queue.add_newcomer(name, now)

    # -- answering -------------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        for coro, name in ((self._answer_loop(), "answer"), (self._view_loop(), "view")):
            self._tasks.append(loop.create_task(coro, name=f"live-{name}:{self.topic}"))
        if self.ledger is not None:
            task = loop.create_task(self._renew_loop(), name=f"live-renew:{self.topic}")
            self._tasks.append(task)

    async def _current_policy(self) -> LivePolicy:
        now = time.monotonic()
        if now - self._policy_at >= self.config.policy_refresh_s:
            try:
                self._policy = await self.answerer.policy()
            except Exception:  # noqa: BLE001 - keep the last known policy
                log.exception("reading the live policy failed", extra={"topic": self.topic})
            self._policy_at = now
        return self._policy

    async def _answer_loop(self) -> None:
        last_answer = float("-inf")
        while True:
            policy = await self._current_policy()
            wait = last_answer + policy.cadence_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, self.config.idle_poll_s))
                continue
            # Paid messages being committed come first, as if they were queued already.
            await self.paid_stored()
            try:
                now = time.time()
                self.queue.expire(now)
                if policy.paused:
                    self.metrics.paused_turns += 1
                    work = None
                else:
                    work = self.queue.next_work(now)
            except Exception:  # noqa: BLE001 - a bug here must not end the stream's answers
                log.exception("live queue failed", extra={"topic": self.topic})
                work = None
            if work is None:
                await asyncio.sleep(self.config.idle_poll_s)
                continue
            last_answer = time.monotonic()
            await self._answer(work)

    async def _answer(self, work: Work) -> None:
        # `_working` stays set until settled: a stop meanwhile settles it ("stream_ended").
        self._working = work
        event: AnswerEvent | None = None
        reason: str | None = None
        try:
            # asyncio.timeout, not wait_for: see channels/aio.py (a swallowed cancellation).
            async with asyncio.timeout(self.config.answer_timeout_s):
                outcome = await self.answerer.answer(work)
            event, reason = outcome.event, outcome.dropped_reason
        except TimeoutError:
            log.warning("live answer timed out", extra={"topic": self.topic, "kind": work.kind})
            reason = "answer_timeout"
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed answer must not stop the stream
            log.exception("live answer failed", extra={"topic": self.topic, "kind": work.kind})
            reason = "engine_error"
        reply_id: int | None = None
        ids = work.paid.event_ids if work.paid is not None and self.ledger is not None else []
        if ids:
            event, reason, reply_id = await self._settle_rows(ids, event, reason)
        self._working = None
        self.queue.finish(work, time.time(), reason)
        if event is not None:
            self.publish_answer(event)
            if reply_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(mark_published, self.ledger.db, reply_id)

    async def _settle_rows(
        self, ids: list[int], event: AnswerEvent | None, reason: str | None
    ) -> tuple[AnswerEvent | None, str | None, int | None]:
        """Write a paid message's outcome to its rows before anything is published: the
        answer recorded once (published only if this worker still held the row), a decided
        drop, or the message handed to an inbox worker to try again."""
        assert self.ledger is not None
        ledger, now = self.ledger, now_utc()
        try:
            if event is not None:
                reply_id = await asyncio.to_thread(
                    record_answer, ledger.db, ledger.owner, ids, event, now
                )
                if reply_id is None:
                    return None, "answered_elsewhere", None
                return event, reason, reply_id
            if reason in DECIDED:
                await asyncio.to_thread(record_drop, ledger.db, ledger.owner, ids, reason, now)
                return None, reason, None
            await asyncio.to_thread(ledger.give_back, ids, f"live: {reason}", now)
        except Exception:  # noqa: BLE001 - the lease runs out: an inbox worker answers it
            log.exception("settling a paid live message failed", extra={"topic": self.topic})
        return None, "handed_over", None

    def publish_answer(self, event: AnswerEvent) -> None:
        payload = event.model_dump(mode="json")
        self.recent.append(payload)
        self.metrics.answers_published += 1
        self._publish(self.topic, payload)

    async def _view_loop(self) -> None:
        version = -1
        while True:
            await asyncio.sleep(self.config.view_interval_s)
            if self.queue.version != version:
                version = self.queue.version
                try:
                    self.publish_view()
                except Exception:  # noqa: BLE001 - the next change publishes again
                    log.exception("publishing the live view failed", extra={"topic": self.topic})

    def publish_view(self) -> None:
        view = TopQuestionsEvent(
            items=self.queue.top_questions(self.config.top_questions),
            pending_messages=self.metrics.queued + self.metrics.in_flight,
            at=time.time(),
        )
        self.top_view = view.model_dump(mode="json")
        self._publish(self.topic, self.top_view)

    # -- lifecycle -------------------------------------------------------------------------

    def feed_opened(self) -> None:
        self.metrics.feeds += 1

    def feed_closed(self) -> None:
        self.metrics.feeds -= 1
        self.metrics.last_frame_at = max(self.metrics.last_frame_at, time.time())

    def idle(self, now: float) -> bool:
        return self.metrics.feeds == 0 and now - self.metrics.last_frame_at >= (
            self.config.idle_timeout_s
        )

    def replay(self) -> list[dict[str, Any]]:
        """What a viewer who connects now should see first."""
        return list(self.recent) + ([self.top_view] if self.top_view else [])

    async def stop(self, reason: str) -> None:
        """Cancel the loops; whatever still waits is dropped as "stream_ended"."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._storing is not None:
            with contextlib.suppress(Exception):
                await self._storing
        # Paid messages still waiting go back to the inbox: another worker answers them.
        held = self._held_ids()
        if self._working is not None:  # cancelled while being answered
            self.queue.finish(self._working, time.time(), "stream_ended")
            self._working = None
        self.queue.drain("stream_ended")
        if held and self.ledger is not None:
            try:
                await asyncio.to_thread(
                    self.ledger.give_back, held, "live: the stream ended", now_utc()
                )
            except Exception:  # noqa: BLE001 - their leases run out instead
                log.exception("handing paid live messages back failed", extra={"topic": self.topic})
        self.metrics.ended_at = time.time()
        self.metrics.ended_reason = reason
        self._publish(self.topic, StreamEndedEvent(reason=reason, at=time.time()).model_dump())

    def stats(self) -> dict[str, Any]:
        snapshot = self.metrics.snapshot()
        snapshot["structures"] = {**self.queue.sizes(), **self.screen.sizes()}
        snapshot["cadence_s"] = self._policy.cadence_s
        return snapshot


def _item_id(item: Any) -> str | None:
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str | int):
            return str(value)[:128]
    return None


def _unstorable(item: Any) -> str | None:
    """Text in a message that no store or viewer socket can take (NUL, lone surrogates)."""
    for loc, why in safejson.unstorable_strings(item):
        where = ".".join(str(p) for p in loc) or "message"
        return f"invalid message ({where}: {why})"
    return None


def _describe(exc: ValidationError) -> str:
    """The first problem, without echoing the input back."""
    error = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "message"
    return f"invalid message ({where}: {error.get('msg', 'invalid')})"
