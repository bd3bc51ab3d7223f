"""The inbox worker: claims due events with a lease, applies the channel policy, asks the reply
engine, and writes the reply and the event's new status in one transaction.

Steps for one event:
1. claim it (pending -> processing, with a lease the worker keeps renewing; a crashed
   worker's leases run out and another worker, or the restarted one, takes them over);
2. the policy gate: kill switches, channel off, staleness, active hours, creator presence;
3. channel selection: rank a post's comments / is a group message for the creator, within
   the AI's share;
4. rate limits, per fan (over: skip) and per channel (over: wait);
5. the reply engine;
6. in ONE transaction: the outbox row (unique per event) and the event marked done; held
   replies wait in the approval queue, the others for the human-like delay, then delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from channels.aio import wait_set
from channels.inbox import comments, groups, store
from channels.inbox.config import InboxConfig
from channels.inbox.intake import IntakeWriter
from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus
from channels.inbox.outbox import WAKE_OUTBOX, Deliverer, approvals_topic
from channels.inbox.policy import (
    ChannelPolicy,
    CommentPolicy,
    GroupPolicy,
    Verdict,
    gate,
    is_crisis_support,
    load_policy,
    review_reason,
)
from channels.inbox.ratelimit import Bucket, RateLimiter, build_rate_limiter
from channels.live.paid import answer_claimed
from channels.outbound import callback_client
from channels.takeover_state import is_taken_over
from persona.engine.memory import ConversationStore
from persona.engine.types import (
    Channel,
    ReplyAction,
    ReplyRequest,
    ReplyResult,
    Turn,
    fan_key,
)
from persona.settings import CreatorSettings

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

WAKE_INBOX = "inbox:wake"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Wait(Exception):
    """The event waits until `until` (not an error; does not count as an attempt)."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Creator:
    name: str
    settings: CreatorSettings


class InboxWorker:
    def __init__(
        self,
        services: Platform,
        config: InboxConfig,
        limiter: RateLimiter,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.db = services.db
        self.config = config
        self.limiter = limiter
        self.clock = clock
        self.owner = f"w-{uuid.uuid4().hex[:16]}"
        # Events this worker holds a lease on, and the threads they belong to.
        self._leased: set[int] = set()
        self._busy: set[store.ThreadKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._kick = asyncio.Event()

    # -- loop ------------------------------------------------------------------------------

    def kick(self) -> None:
        self._kick.set()

    async def run(self) -> None:
        while True:
            self._kick.clear()
            try:
                await self.claim_and_start()
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("inbox claim failed; retrying")
            await wait_set(self._kick, self.config.inbox_poll_s)

    async def claim_and_start(self) -> int:
        free = self.config.inbox_concurrency - len(self._tasks)
        if free <= 0:
            return 0
        claimed = await asyncio.to_thread(
            store.claim_due,
            self.db,
            self.owner,
            free,
            set(self._busy),
            self.config.inbox_lease_s,
            self.clock(),
        )
        for event in claimed:
            self._leased.add(event.id)
            self._busy.add(store.thread_of(event))
            task = asyncio.create_task(self._handle(event), name=f"inbox-{event.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def heartbeat(self) -> None:
        """Renew the leases of events in hand, so a long model call keeps its claim."""
        interval = self.config.inbox_lease_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(
                    store.renew_leases,
                    self.db,
                    self.owner,
                    set(self._leased),
                    self.config.inbox_lease_s,
                    self.clock(),
                )
            except Exception:  # noqa: BLE001 - the next beat retries
                log.exception("lease renewal failed")

    async def shutdown(self) -> None:
        """Stop work in hand and give its events back, due now, for the next worker."""
        held = set(self._leased)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        now = self.clock()
        # Releasing is conditional on still holding the lease: an event finished while it
        # was being cancelled stays finished.
        for event_id in held:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    store.release,
                    self.db,
                    self.owner,
                    event_id,
                    now,
                    "worker stopped",
                    counts_as_attempt=False,
                )
        self._leased.clear()

    # -- one event (or one batch of comments) -------------------------------------------------

    async def _handle(self, event: InboxEvent) -> None:
        thread = store.thread_of(event)
        # The events in hand: one, or a post's comments claimed as a batch.
        batch: list[InboxEvent] = [event]
        try:
            if event.attempts > self.config.inbox_max_attempts:
                await self._finish(event, EventStatus.FAILED, "gave up: it failed every attempt")
                return
            if event.channel == Channel.COMMENT:
                await self._comment_batch(event, batch)
            elif event.channel == Channel.LIVE:
                await self._answer_live(event)
            else:
                await self._answer_one(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the event is retried, then failed
            log.exception("answering an inbound event failed", extra={"event_id": event.id})
            for item in batch:
                if item.id in self._leased:
                    await self._retry_later(item, "internal error")
        finally:
            for item in batch:
                self._leased.discard(item.id)
            self._busy.discard(thread)
            self.kick()

    async def _answer_one(self, event: InboxEvent) -> None:
        try:
            await self._unless_taken_over(event)
            creator, policy = await self._gate(event)
            if event.channel == Channel.GROUP:
                request = await self._group_request(event, creator, policy)
            else:
                request = self._dm_request(event, policy)
            await self._reply(event, creator, policy, request)
        except _Skip as skip:
            await self._finish(event, EventStatus.SKIPPED, skip.reason)
        except _Wait as wait:
            await self._release(event, wait.until, wait.reason)

    async def _answer_live(self, event: InboxEvent) -> None:
        """A paid live message whose stream's worker died before answering it (its lease
        ran out): answered here, once (channels.live.paid)."""
        await answer_claimed(self.services, self.owner, event, self.services.hub.publish)

    async def _unless_taken_over(self, event: InboxEvent) -> None:
        """The creator answers this thread in person (channels.takeover): keep the fan's
        message in the conversation for them and let the double stay quiet."""
        channel = Channel(event.channel)
        thread = f"{event.platform}:{channel}:{event.thread_key}"
        if not await asyncio.to_thread(
            is_taken_over, self.db, event.creator_id, str(channel), thread
        ):
            return

        def keep() -> None:
            conversations = ConversationStore(self.db)
            state = conversations.open(
                event.creator_id, channel, thread, self._fan_key(event), event.fan_name, 0
            )
            conversations.record(state, event.text, None, {})

        await asyncio.to_thread(keep)
        raise _Skip("taken over: the creator answers this conversation in person")

    async def _gate(self, event: InboxEvent) -> tuple[_Creator, ChannelPolicy]:
        snapshot = await asyncio.to_thread(store.creator_snapshot, self.db, event.creator_id)
        if snapshot is None:
            raise _Skip("the creator no longer exists")
        creator = _Creator(*snapshot)
        policy = load_policy(creator.settings, event.channel)
        now = self.clock()
        decision = gate(policy, creator.settings, store.utc(event.received_at), now)
        if decision.verdict == Verdict.SKIP:
            raise _Skip(decision.reason)
        if decision.verdict == Verdict.WAIT:
            raise _Wait(decision.until or now, decision.reason)
        return creator, policy

    def _rate_limit(self, event: InboxEvent, policy: ChannelPolicy) -> None:
        scope = f"{event.creator_id}:{event.channel}"
        fan = Bucket(f"{scope}:fan:{event.platform}:{event.fan_id}", policy.fan_rate)
        channel = Bucket(scope, policy.channel_rate)
        verdict = self.limiter.acquire([fan, channel])
        if verdict.ok:
            return
        if verdict.blocked_by == fan.key:
            raise _Skip(
                f"rate limit: more than {policy.fan_rate.count} messages from this fan "
                f"in {policy.fan_rate.per_s:g} s"
            )
        until = self.clock() + timedelta(seconds=max(0.05, verdict.retry_after_s))
        raise _Wait(until, "rate limit: the channel's replies per minute")

    # -- requests per channel ----------------------------------------------------------------

    def _fan_key(self, event: InboxEvent) -> str:
        # The platform's immutable id, never the handle (a display name anyone can copy).
        return fan_key(event.platform, event.fan_id)

    def _dm_request(self, event: InboxEvent, policy: ChannelPolicy) -> ReplyRequest:
        self._rate_limit(event, policy)
        return ReplyRequest(
            event.creator_id,
            event.text,
            Channel.DM,
            fan_handle=self._fan_key(event),
            fan_name=event.fan_name,
            thread_id=f"{event.platform}:dm:{event.thread_key}",
            max_chars=policy.max_chars,
        )

    async def _group_request(
        self, event: InboxEvent, creator: _Creator, policy: ChannelPolicy
    ) -> ReplyRequest:
        assert isinstance(policy, GroupPolicy)
        names = groups.CreatorNames.of(event.creator_id, creator.name, policy.aliases)
        window = await asyncio.to_thread(
            store.group_window,
            self.db,
            event,
            creator.name,
            policy.share_window_messages,
            policy.context_messages,
        )
        payload = event.payload or {}
        mentions = [str(m) for m in payload.get("mentions") or []]
        previous = None
        if window.turns:
            speaker, text, mine = window.turns[-1]
            previous = groups.GroupTurn(speaker, text, mine)
        addressed = groups.addressed_to_creator(
            event.text, mentions, bool(payload.get("reply_to_creator")), names, window.members
        )
        if not addressed and not groups.clearly_for_creator(
            event.text, mentions, names, previous, window.members
        ):
            raise _Skip("group: not addressed to the creator")
        total = window.fan_messages + window.ai_messages
        least = groups.share_min_messages(policy.max_share, policy.share_min_messages)
        if not groups.share_allows(window.ai_messages, total, policy.max_share, least):
            raise _Skip(
                f"group: the AI already wrote {window.ai_messages} of the last "
                f"{max(total, least - 1)} messages (max share {policy.max_share:g})"
            )
        self._rate_limit(event, policy)
        return ReplyRequest(
            event.creator_id,
            event.text,
            Channel.GROUP,
            fan_handle=self._fan_key(event),
            fan_name=event.fan_name or event.fan_handle,
            thread_id=f"{event.platform}:group:{event.thread_key}",
            context=[Turn(speaker, text) for speaker, text, _ in window.turns],
            context_note=(
                f"the group chat {payload['group_name']!r}" if payload.get("group_name") else None
            ),
            max_chars=policy.max_chars,
        )

    async def _comment_batch(self, first: InboxEvent, batch: list[InboxEvent]) -> None:
        try:
            creator, policy = await self._gate(first)
        except _Skip as skip:
            await self._finish(first, EventStatus.SKIPPED, skip.reason)
            return
        except _Wait as wait:
            await self._release(first, wait.until, wait.reason)
            return
        assert isinstance(policy, CommentPolicy)
        window_end = store.utc(first.received_at) + timedelta(seconds=policy.batch_window_s)
        if window_end > self.clock():
            await self._release(first, window_end, "collecting the post's comments")
            return
        batch[:] = await asyncio.to_thread(
            store.claim_thread_batch,
            self.db,
            self.owner,
            first,
            self.config.inbox_lease_s,
            self.clock(),
        )
        self._leased.update(item.id for item in batch)
        now = self.clock()
        used = await asyncio.to_thread(
            store.replies_since, self.db, first, now - timedelta(hours=1)
        )
        names = groups.CreatorNames.of(first.creator_id, creator.name)
        boundaries = _boundaries(creator.settings)
        candidates = []
        for item in batch:
            duplicate = await asyncio.to_thread(store.earlier_duplicate, self.db, item)
            to_fan = await asyncio.to_thread(store.comment_for_another_fan, self.db, item, names)
            verdict = comments.moderation_verdict(item.text, boundaries)
            candidates.append(comments.Candidate(item.id, item.text, duplicate, to_fan, verdict))
        cap = policy.replies_per_post_per_hour
        slots = comments.CapSlots(cap, cap - used, policy.reserve_for_priority)
        by_id = {item.id: item for item in batch}
        # Best first; a slot is taken only when a reply is actually sent (one the engine
        # blocks leaves its slot to the next comment).
        for candidate, assessment in comments.rank(candidates):
            item = by_id[candidate.event_id]
            refusal = assessment.reason if not assessment.answerable else ""
            refusal = refusal or slots.refusal(assessment.kind)
            if refusal:
                await self._finish(item, EventStatus.SKIPPED, f"comment: {refusal}")
                continue
            try:
                if await self._answer_comment(item, creator, policy, assessment.kind):
                    slots.take()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the others of the batch still get answered
                log.exception("answering a comment failed", extra={"event_id": item.id})
                await self._retry_later(item, "internal error")

    async def _answer_comment(
        self, event: InboxEvent, creator: _Creator, policy: ChannelPolicy, kind: str
    ) -> bool:
        """Answer one comment; True when a reply was written (sent or held for review)."""
        note = comment_note(event.payload or {}, kind)
        try:
            self._rate_limit(event, policy)
            request = ReplyRequest(
                event.creator_id,
                event.text,
                Channel.COMMENT,
                fan_handle=self._fan_key(event),
                fan_name=event.fan_name or event.fan_handle,
                thread_id=f"{event.platform}:post:{event.thread_key}:{event.fan_id}",
                context_note=note,
                max_chars=policy.max_chars,
            )
            return await self._reply(event, creator, policy, request)
        except _Skip as skip:
            await self._finish(event, EventStatus.SKIPPED, skip.reason)
        except _Wait as wait:
            await self._release(event, wait.until, wait.reason)
        return False

    # -- the engine and the one transaction --------------------------------------------------

    async def _engine(self) -> Any:
        return await asyncio.to_thread(lambda: self.services.engine)

    async def _reply(
        self, event: InboxEvent, creator: _Creator, policy: ChannelPolicy, request: ReplyRequest
    ) -> bool:
        from persona.engine.engine import CreatorNotFound

        engine = await self._engine()
        try:
            result = await engine.reply(request)
        except CreatorNotFound as exc:
            raise _Skip(str(exc)) from None
        return await self._conclude(event, policy, result)

    async def _conclude(
        self, event: InboxEvent, policy: ChannelPolicy, result: ReplyResult
    ) -> bool:
        """Write the reply and finish the event; True when this call wrote the reply."""
        if result.action == ReplyAction.PAUSED:
            raise _Skip("paused: the creator's kill switch is on")
        if result.action == ReplyAction.BLOCK or not result.delivered_text.strip():
            raise _Skip(f"blocked: {result.category}: {result.reason}".strip(": "))
        text = result.delivered_text
        # In review mode nothing goes out unreviewed, the no-answer message and ready replies
        # included; EXCEPT the crisis-support reply (self-harm), sent at once with an alert to
        # the creator (policy.review_reason says why).
        held_reason = review_reason(policy, result.action, result.category, result.reason)
        crisis = is_crisis_support(result.action, result.category)
        now = self.clock()
        delay = policy.reply_delay.sample(text)
        due = max(now, store.utc(event.received_at) + timedelta(seconds=delay))
        reply = OutboxReply(
            event_id=event.id,
            creator_id=event.creator_id,
            platform=event.platform,
            channel=event.channel,
            thread_key=event.thread_key,
            in_reply_to=event.message_id,
            fan_id=event.fan_id,
            text=text,
            label=policy.ai_label or result.label,
            action=str(result.action),
            category=result.category,
            review_reason=held_reason,
            status=ReplyStatus.HELD if held_reason else ReplyStatus.PENDING,
            callback_url=self.config.callback_for(event.platform, event.callback_url),
            attempts=0,
            next_attempt_at=due,
            published=False,
            conversation_id=result.conversation_id,
            message_id=result.message_id,
            created_at=now,
        )
        reply_id = await asyncio.to_thread(store.finish_with_reply, self.db, self.owner, reply, now)
        self._leased.discard(event.id)
        if reply_id is None:
            log.warning("event finished elsewhere; reply dropped", extra={"event_id": event.id})
            return False
        hub = self.services.hub
        if crisis:
            log.warning(
                "crisis support sent without review; the creator is alerted",
                extra={"event_id": event.id, "reply_id": reply_id},
            )
            hub.publish(
                approvals_topic(event.creator_id),
                {"type": "alert", "reply_id": reply_id, "reason": "crisis support sent to a fan"},
            )
        if held_reason:
            hub.publish(
                approvals_topic(event.creator_id),
                {"type": "held", "reply_id": reply_id, "reason": held_reason},
            )
        else:
            hub.publish(WAKE_OUTBOX, {"reply_id": reply_id})
        return True

    # -- status changes ----------------------------------------------------------------------

    async def _finish(self, event: InboxEvent, status: EventStatus, reason: str) -> None:
        await asyncio.to_thread(
            store.finish, self.db, self.owner, event.id, status, reason, self.clock()
        )
        self._leased.discard(event.id)

    async def _release(self, event: InboxEvent, until: datetime, reason: str) -> None:
        await asyncio.to_thread(
            store.release, self.db, self.owner, event.id, until, reason, counts_as_attempt=False
        )
        self._leased.discard(event.id)

    async def _retry_later(self, event: InboxEvent, reason: str) -> None:
        if event.attempts >= self.config.inbox_max_attempts:
            await self._finish(
                event, EventStatus.FAILED, f"gave up after {event.attempts} attempts: {reason}"
            )
            return
        delay = self.config.inbox_retry_base_s * (2 ** max(0, event.attempts - 1))
        until = self.clock() + timedelta(seconds=delay)
        await asyncio.to_thread(
            store.release, self.db, self.owner, event.id, until, reason, counts_as_attempt=True
        )
        self._leased.discard(event.id)


def _boundaries(settings: CreatorSettings) -> Any:
    """The creator's boundaries for the moderation of comments (as the engine reads them);
    settings it cannot read leave the defaults (the engine refuses them later)."""
    from persona.safety.boundaries import Boundaries

    try:
        return Boundaries.from_settings(settings)
    except ValueError:
        return Boundaries()


def comment_note(payload: dict[str, Any], kind: str) -> str:
    """What the model is told about the post: its caption and what the creator says in it
    (facts to answer from, in new words)."""
    post = payload.get("post") or {}
    note = f"a {kind} under your post. Your caption: {str(post.get('caption') or '')[:600]!r}."
    transcript = str(post.get("transcript") or "")
    if transcript:
        note += f" What you say in the video: {transcript[:900]!r}."
    return note + " Answer the comment in your own words; do not repeat the caption."


# -- the handle the app starts and stops -----------------------------------------------------


class WorkerHandle:
    """The running inbox worker and outbox deliverer of one process."""

    def __init__(
        self,
        worker: InboxWorker,
        deliverer: Deliverer,
        client: httpx.AsyncClient,
        intake: IntakeWriter,
    ):
        self.worker = worker
        self.deliverer = deliverer
        # The webhook intake's group-commit writer (the webhook route stores through it).
        self.intake = intake
        self._client = client
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    def start(self, hub: Any) -> None:
        """Start the worker, the deliverer and the intake writer on the running loop."""
        self.intake.start()
        self._outbox_kick = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="inbox-worker"),
            asyncio.create_task(self.worker.heartbeat(), name="inbox-heartbeat"),
            asyncio.create_task(self._deliver_loop(), name="outbox-deliverer"),
            asyncio.create_task(
                self._forward(hub, WAKE_INBOX, self.worker.kick), name="inbox-wake"
            ),
            asyncio.create_task(
                self._forward(hub, WAKE_OUTBOX, self._outbox_kick.set), name="outbox-wake"
            ),
        ]

    @staticmethod
    async def _forward(hub: Any, topic: str, kick: Callable[[], None]) -> None:
        async with hub.subscribe(topic) as subscription:
            while True:
                await subscription.get()
                kick()

    async def _deliver_loop(self) -> None:
        poll = self.deliverer.config.inbox_poll_s
        while True:
            self._outbox_kick.clear()
            wait = poll
            try:
                await self.deliverer.run_once()
                wait = await self.deliverer.seconds_to_next(poll)
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("outbox delivery round failed; retrying")
            await wait_set(self._outbox_kick, wait)

    async def stop(self) -> None:
        await self.intake.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.worker.shutdown()
        await self.deliverer.shutdown()
        await self._client.aclose()


def build_worker(
    services: Platform,
    config: InboxConfig | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
) -> WorkerHandle:
    """The inbox worker and the outbox deliverer, not started (`handle.start(hub)` on the
    running loop, `await handle.stop()` on the way out). The rate limiter defaults to the one
    the settings name (`rate_limiter`, with `redis_url` for 'redis')."""
    config = config or InboxConfig.from_settings(services.settings)
    if limiter is None:
        redis_url = getattr(services.settings, "redis_url", None)
        limiter = build_rate_limiter(redis_url, config.rate_limiter)
    worker = InboxWorker(services, config, limiter, clock)
    # Every callback goes through the outbound policy (checked addresses, no redirects).
    client = callback_client(config.callback_policy(), transport)
    deliverer = Deliverer(services.db, services.hub, config, clock, client)
    # Webhooks committed: wake the workers (this one and, through Redis, the others) once a
    # batch, not once a webhook.
    intake = IntakeWriter(
        services.db, on_commit=lambda n: services.hub.publish(WAKE_INBOX, {"webhooks": n})
    )
    return WorkerHandle(worker, deliverer, client, intake)


def start_worker(
    services: Platform,
    config: InboxConfig | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
) -> WorkerHandle:
    """Build the inbox worker and the outbox deliverer and start them on the running event
    loop (the app's platform builds and starts its own; `await handle.stop()` on the way
    out)."""
    handle = build_worker(services, config, clock=clock, transport=transport, limiter=limiter)
    handle.start(services.hub)
    return handle
