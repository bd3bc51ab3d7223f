"""Outbox delivery: each due reply goes to websocket subscribers (`replies:{creator_id}`) and
is POSTed, signed, to its callback URL, with retries, exponential backoff and jitter; after
the last attempt it is dead-lettered with the reason.

Delivery is at least once: a crash between the POST and the status update sends it again,
with the same `Idempotency-Key`, so the platform can drop the second copy.

Callbacks go through `channels.outbound` (checked addresses, no redirects); a failed one is
`callback failed` in `last_error`, whatever the reason, which goes to the log only: the
creator API shows `last_error`, and "connection refused" against "HTTP 302" would tell a
token holder which internal ports are open."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from channels.inbox import store
from channels.inbox.config import InboxConfig
from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.policy import GLOBAL_PAUSE, halted, load_policy
from channels.inbox.protocol import ReplyOut
from channels.inbox.signing import IDEMPOTENCY_HEADER, signed_headers
from channels.outbound import CALLBACK_FAILED, CallbackRefused
from persona.store import Database

log = logging.getLogger(__name__)

WAKE_OUTBOX = "outbox:wake"
# HTTP statuses worth another try; any other 4xx means the request itself is wrong.
RETRYABLE = {408, 409, 425, 429}
# A claimed delivery is ours for the callback's timeout plus this margin; then another
# deliverer (or this one after a restart) may take it over.
DELIVERY_LEASE_MARGIN_S = 5.0
# Never poll the outbox more often than this, whatever the due times say.
MIN_WAIT_S = 0.01
# OutboxReply.action of a reply the creator wrote in person (channels.takeover).
BY_CREATOR = "creator"
# Marks an error that no retry can fix (dead-lettered at once); not part of `last_error`.
PERMANENT = "permanent: "


def replies_topic(creator_id: str) -> str:
    return f"replies:{creator_id}"


def approvals_topic(creator_id: str) -> str:
    return f"approvals:{creator_id}"


def reply_out(reply: OutboxReply) -> ReplyOut:
    return ReplyOut(
        reply_id=reply.id,
        event_id=reply.event_id,
        creator_id=reply.creator_id,
        platform=reply.platform,
        channel=reply.channel,
        thread=reply.thread_key,
        in_reply_to=reply.in_reply_to,
        fan_id=reply.fan_id,
        text=reply.text,
        label=reply.label,
        action=reply.action,
        category=reply.category,
        status=reply.status,
        review_reason=reply.review_reason,
        original_text=reply.original_text,
        attempts=reply.attempts,
        last_error=reply.last_error,
        created_at=store.utc(reply.created_at),
        sent_at=store.utc(reply.sent_at),
    )


def callback_body(reply: OutboxReply) -> dict[str, Any]:
    """What the platform receives: the reply, what it answers, and the AI label."""
    return {
        "type": "reply",
        "reply_id": reply.id,
        "event_id": reply.event_id,
        "creator_id": reply.creator_id,
        "platform": reply.platform,
        "channel": reply.channel,
        "thread": reply.thread_key,
        "in_reply_to": reply.in_reply_to,
        "fan_id": reply.fan_id,
        "text": reply.text,
        "label": reply.label,
        # A reply the creator wrote in person (a conversation taken over) is not AI.
        "ai_generated": reply.action != BY_CREATOR,
    }


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries of many
    replies that failed together spread out."""
    ceiling = min(max_s, base_s * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class Deliverer:
    def __init__(
        self,
        db: Database,
        hub: Any,
        config: InboxConfig,
        clock: Callable[[], datetime],
        client: httpx.AsyncClient,
    ) -> None:
        self.db = db
        self.hub = hub
        self.config = config
        self.clock = clock
        self.client = client
        self.policy = config.callback_policy()
        self._slots = asyncio.Semaphore(config.outbox_concurrency)
        self._in_flight: set[int] = set()

    async def run_once(self) -> int:
        """Deliver every reply that is due now; returns how many were attempted."""
        now = self.clock()
        lease_s = self.config.outbox_timeout_s + DELIVERY_LEASE_MARGIN_S
        limit = self.config.outbox_concurrency * 4
        due = await asyncio.to_thread(store.claim_deliveries, self.db, limit, lease_s, now)
        if due:
            self._in_flight.update(reply.id for reply in due)
            # Cancelled (shutdown): the ids stay in `_in_flight` for `shutdown()` to hand back.
            await asyncio.gather(*(self._deliver_guarded(reply) for reply in due))
            self._in_flight.difference_update(reply.id for reply in due)
        return len(due)

    async def seconds_to_next(self, cap: float) -> float:
        now = self.clock()
        next_at = await asyncio.to_thread(store.next_delivery_at, self.db, now)
        if next_at is None:
            return cap
        return max(MIN_WAIT_S, min(cap, (next_at - now).total_seconds()))

    async def shutdown(self) -> None:
        """Hand back the deliveries cut short, so that the next process sends them at once."""
        if self._in_flight:
            await asyncio.to_thread(store.release_deliveries, self.db, set(self._in_flight))
            self._in_flight.clear()

    async def _deliver_guarded(self, reply: OutboxReply) -> None:
        async with self._slots:
            try:
                await self.deliver(reply)
            except Exception:  # noqa: BLE001 - one bad reply must not stop the others
                log.exception("delivery failed unexpectedly", extra={"reply_id": reply.id})
                await asyncio.to_thread(self._retry_or_dead, reply, "internal error")

    async def deliver(self, reply: OutboxReply) -> None:
        paused = await asyncio.to_thread(self._paused, reply)
        if paused:
            await asyncio.to_thread(
                store.update_reply,
                self.db,
                reply.id,
                ReplyStatus.PENDING,
                status=ReplyStatus.CANCELLED,
                last_error=f"not sent: {paused}",
                lease_until=None,
                decided_at=self.clock(),
            )
            return
        if not reply.published:
            # Marked with the status update below: a crash in between publishes it again
            # (subscribers get at least once, with the reply id to drop the copy).
            self.hub.publish(replies_topic(reply.creator_id), callback_body(reply))
            reply.published = True
        if not reply.callback_url:
            await asyncio.to_thread(self._sent, reply)
            return
        error = await self._post(reply)
        if error is None:
            await asyncio.to_thread(self._sent, reply)
        elif error.startswith(PERMANENT):
            await asyncio.to_thread(self._dead, reply, error.removeprefix(PERMANENT))
        else:
            await asyncio.to_thread(self._retry_or_dead, reply, error)

    async def _post(self, reply: OutboxReply) -> str | None:
        secret = self.config.secret_for(reply.platform)
        if secret is None:
            return f"{PERMANENT}no webhook secret for platform {reply.platform!r} to sign with"
        url = reply.callback_url or ""
        body = json.dumps(callback_body(reply), ensure_ascii=False).encode()
        headers = {
            **signed_headers(secret, body),
            IDEMPOTENCY_HEADER: f"reply-{reply.id}",
            "Content-Type": "application/json",
        }
        try:
            # Again at delivery: the policy may have changed since the event came in.
            self.policy.check_url(url, reply.platform)
        except CallbackRefused as exc:
            return self._failed(reply, f"refused: {exc}", permanent=True)
        try:
            response = await self.client.post(
                url, content=body, headers=headers, timeout=self.config.outbox_timeout_s
            )
        except CallbackRefused as exc:
            # An address the name resolved to: retried like a name that does not resolve,
            # so the attempts do not tell internal names apart either.
            return self._failed(reply, f"refused: {exc}")
        except httpx.HTTPError as exc:
            return self._failed(reply, f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return None
        status = response.status_code
        if 300 <= status < 400:
            # Never followed: a redirect is how a public URL points back inside.
            return self._failed(reply, f"redirected (HTTP {status}), not followed", permanent=True)
        permanent = 400 <= status < 500 and status not in RETRYABLE
        return self._failed(reply, f"HTTP {status}", permanent)

    @staticmethod
    def _failed(reply: OutboxReply, why: str, permanent: bool = False) -> str:
        log.warning(
            "callback failed",
            extra={"reply_id": reply.id, "platform": reply.platform, "why": why},
        )
        return PERMANENT + CALLBACK_FAILED if permanent else CALLBACK_FAILED

    def _paused(self, reply: OutboxReply) -> str:
        if reply.action == BY_CREATOR:
            return ""  # the kill switch stops the AI, not the creator's own words
        snapshot = store.creator_snapshot(self.db, reply.creator_id)
        if snapshot is None:
            return "the creator was deleted"
        _, settings = snapshot
        stopped = halted(load_policy(settings, reply.channel), settings)
        if stopped == GLOBAL_PAUSE:
            return "the creator's kill switch is on"
        return f"the {reply.channel} channel is paused" if stopped else ""

    def _sent(self, reply: OutboxReply) -> None:
        store.update_reply(
            self.db,
            reply.id,
            ReplyStatus.PENDING,
            status=ReplyStatus.SENT,
            sent_at=self.clock(),
            lease_until=None,
            last_error="",
            published=reply.published,
        )

    def _dead(self, reply: OutboxReply, error: str) -> None:
        log.warning("reply dead-lettered", extra={"reply_id": reply.id, "error": error})
        store.update_reply(
            self.db,
            reply.id,
            ReplyStatus.PENDING,
            status=ReplyStatus.DEAD,
            last_error=error[:500],
            lease_until=None,
            published=reply.published,
        )

    def _retry_or_dead(self, reply: OutboxReply, error: str) -> None:
        if reply.attempts >= self.config.outbox_max_attempts:
            self._dead(reply, f"gave up after {reply.attempts} attempts: {error}")
            return
        delay = backoff_s(
            reply.attempts, self.config.outbox_backoff_base_s, self.config.outbox_backoff_max_s
        )
        store.update_reply(
            self.db,
            reply.id,
            ReplyStatus.PENDING,
            next_attempt_at=self.clock() + timedelta(seconds=delay),
            lease_until=None,
            last_error=error[:500],
            published=reply.published,
        )
